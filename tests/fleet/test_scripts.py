"""Every branch of the fleet's Lua scripts, on fakeredis (with lupa): fast, one process.

Timings are never asserted here (fakeredis compares idle times a little differently);
the real-server tests cover those.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvibot._fleet.scripts import (
    ACQUIRE,
    CLAIM_CALL,
    COMPLETE,
    ENQUEUE,
    JOINED,
    RELEASE,
    RENEW,
    STOP,
    FleetKeys,
)

fakeredis = pytest.importorskip("fakeredis")
pytest.importorskip("lupa")

K = FleetKeys("{t}")
G = "g"
TTL = 86_400


class Fleet:
    """The scripts bound to one fake server, called the way RedisBackend calls them."""

    def __init__(self, r: Any) -> None:
        self.r = r
        self.s = {
            name: r.register_script(src)
            for name, src in [
                ("enqueue", ENQUEUE),
                ("acquire", ACQUIRE),
                ("renew", RENEW),
                ("joined", JOINED),
                ("claim", CLAIM_CALL),
                ("complete", COMPLETE),
                ("release", RELEASE),
                ("stop", STOP),
            ]
        }

    async def enqueue(self, cid: str, token: str = "", now: float = 100.0) -> list[Any]:
        return await self.s["enqueue"](  # type: ignore[no-any-return]
            keys=[K.stream, K.conv(cid), K.index],
            args=[cid, '{"v":1}', token, now, "api", TTL],
        )

    async def read(self, me: str) -> str:
        [[_, [(entry, _fields)]]] = await self.r.xreadgroup(G, me, {K.stream: ">"}, count=1)
        return str(entry)

    async def acquire(self, cid: str, me: str, entry: str, max_attempts: int = 5) -> list[Any]:
        return await self.s["acquire"](  # type: ignore[no-any-return]
            keys=[K.stream, K.conv(cid), K.lease(cid), K.dead, K.index],
            args=[G, me, entry, 1500, max_attempts, 101.0, cid, '{"v":1}', TTL],
        )

    async def renew(self, cid: str, token: str, me: str, entry: str) -> int:
        return await self.s["renew"](  # type: ignore[no-any-return]
            keys=[K.stream, K.lease(cid), K.conv(cid)], args=[token, 1500, G, me, entry]
        )

    async def joined(self, cid: str, token: str) -> int:
        return await self.s["joined"](  # type: ignore[no-any-return]
            keys=[K.lease(cid), K.conv(cid), K.index], args=[token, 102.0, cid]
        )

    async def claim(self, cid: str, token: str, call: str) -> int:
        return await self.s["claim"](  # type: ignore[no-any-return]
            keys=[K.lease(cid), K.call(cid, call), K.conv(cid)], args=[token, 600_000]
        )

    async def complete(self, cid: str, token: str, fence: int, entry: str) -> int:
        return await self.s["complete"](  # type: ignore[no-any-return]
            keys=[K.stream, K.lease(cid), K.conv(cid), K.index],
            args=[token, fence, G, entry, "ended", "done", 103.0, cid, TTL],
        )

    async def release(self, cid: str, token: str, me: str, entry: str) -> int:
        return await self.s["release"](  # type: ignore[no-any-return]
            keys=[K.stream, K.lease(cid), K.conv(cid), K.index],
            args=[token, G, me, entry, 60_000, 104.0, cid],
        )

    async def stop(self, cid: str) -> list[Any]:
        return await self.s["stop"](  # type: ignore[no-any-return]
            keys=[K.conv(cid), K.index], args=["shutdown", 105.0, cid, TTL, "{t}:ctl"]
        )

    async def status(self, cid: str) -> str | None:
        return await self.r.hget(K.conv(cid), "status")  # type: ignore[no-any-return]

    async def pending(self) -> list[str]:
        rows = await self.r.xpending_range(K.stream, G, "-", "+", 100)
        return [row["consumer"] for row in rows]


@pytest.fixture
async def fleet() -> AsyncIterator[Fleet]:
    r = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer(), decode_responses=True)
    await r.xgroup_create(K.stream, G, id="0", mkstream=True)
    yield Fleet(r)
    await r.aclose()


async def test_enqueue_queues_once_and_keeps_the_token_off_the_stream(fleet: Fleet) -> None:
    assert await fleet.enqueue("c1", token="tok") == [1, "queued"]
    assert await fleet.enqueue("c1") == [0, "queued"]
    assert await fleet.r.xlen(K.stream) == 1
    assert await fleet.r.hget(K.conv("c1"), "token") == "tok"
    assert "tok" not in str(await fleet.r.xrange(K.stream))
    assert await fleet.r.zscore(K.index, "c1") == 100.0


async def test_enqueue_trims_index_members_older_than_a_week_of_record_ttls(fleet: Fleet) -> None:
    await fleet.enqueue("old", now=100.0)
    await fleet.enqueue("new", now=100.0 + 7 * TTL + 1)
    assert await fleet.r.zrange(K.index, 0, -1) == ["new"]


async def test_acquire_holds_bumps_the_fence_and_returns_the_token(fleet: Fleet) -> None:
    await fleet.enqueue("c1", token="tok")
    entry = await fleet.read("a")
    assert await fleet.acquire("c1", "a", entry) == [1, 1, 1, "tok"]
    assert await fleet.r.get(K.lease("c1")) == "a:1"
    assert await fleet.status("c1") == "joining"
    assert await fleet.r.hget(K.conv("c1"), "owner") == "a"


async def test_acquire_under_a_live_lease_answers_its_ttl(fleet: Fleet) -> None:
    await fleet.enqueue("c1")
    entry = await fleet.read("a")
    await fleet.acquire("c1", "a", entry)
    outcome, pttl = await fleet.acquire("c1", "b", entry)
    assert outcome == 0 and 0 < pttl <= 1500
    assert await fleet.r.get(K.lease("c1")) == "a:1"


@pytest.mark.parametrize("how", ["stopped", "unknown", "stale", "ended"])
async def test_acquire_drops_a_job_that_is_over(fleet: Fleet, how: str) -> None:
    await fleet.enqueue("c1")
    entry = await fleet.read("a")
    if how == "stopped":
        await fleet.stop("c1")
    elif how == "unknown":
        await fleet.r.delete(K.conv("c1"))
    elif how == "stale":
        await fleet.r.hset(K.conv("c1"), "entry", "0-1")
    else:
        await fleet.r.hset(K.conv("c1"), "status", "ended")
    outcome, _ = await fleet.acquire("c1", "a", entry)
    assert outcome == -1
    assert await fleet.r.xlen(K.stream) == 0 and await fleet.pending() == []


async def test_acquire_finishes_a_held_job_whose_stop_flag_outlived_its_holder(
    fleet: Fleet,
) -> None:
    await fleet.enqueue("c1")
    entry = await fleet.read("a")
    await fleet.acquire("c1", "a", entry)
    assert await fleet.stop("c1") == [1, "joining"]
    await fleet.r.delete(K.lease("c1"))  # the holder died before it saw the flag
    assert (await fleet.acquire("c1", "b", entry))[0] == -1
    assert await fleet.status("c1") == "stopped"
    assert await fleet.r.hget(K.conv("c1"), "reason") == "shutdown"


async def test_acquire_dead_letters_after_max_attempts_without_a_join(fleet: Fleet) -> None:
    await fleet.enqueue("c1")
    entry = await fleet.read("a")
    for fence in (1, 2):
        reply = await fleet.acquire("c1", "a", entry, max_attempts=2)
        assert reply[:2] == [1, fence]
        await fleet.release("c1", f"a:{fence}", "a", entry)
    assert await fleet.acquire("c1", "a", entry, max_attempts=2) == [-2, 2]
    assert await fleet.status("c1") == "failed"
    [(_, dead)] = await fleet.r.xrange(K.dead)
    assert dead["cid"] == "c1" and dead["tries"] == "2"
    assert await fleet.r.xlen(K.stream) == 0
    assert await fleet.r.ttl(K.conv("c1")) > 0


async def test_a_join_resets_the_dead_letter_count(fleet: Fleet) -> None:
    await fleet.enqueue("c1")
    entry = await fleet.read("a")
    for fence in (1, 2, 3):
        await fleet.acquire("c1", "a", entry, max_attempts=2)
        assert await fleet.joined("c1", f"a:{fence}") == 1
        await fleet.release("c1", f"a:{fence}", "a", entry)
    assert await fleet.r.hget(K.conv("c1"), "attempts") == "3"


async def test_renew_extends_the_lease_and_reports_a_stop(fleet: Fleet) -> None:
    await fleet.enqueue("c1")
    entry = await fleet.read("a")
    await fleet.acquire("c1", "a", entry)
    await fleet.r.pexpire(K.lease("c1"), 100)
    assert await fleet.renew("c1", "a:1", "a", entry) == 1
    assert await fleet.r.pttl(K.lease("c1")) > 1000
    await fleet.stop("c1")
    assert await fleet.renew("c1", "a:1", "a", entry) == 2


async def test_renew_by_a_former_holder_neither_extends_nor_steals(fleet: Fleet) -> None:
    await fleet.enqueue("c1")
    entry = await fleet.read("a")
    await fleet.acquire("c1", "a", entry)
    await fleet.r.delete(K.lease("c1"))
    await fleet.r.xclaim(K.stream, G, "b", 0, [entry], justid=True)  # b's reclaim
    assert (await fleet.acquire("c1", "b", entry))[:2] == [1, 2]
    assert await fleet.renew("c1", "a:1", "a", entry) == 0
    assert await fleet.pending() == ["b"]
    assert await fleet.r.get(K.lease("c1")) == "b:2"


async def test_joined_only_under_the_lease(fleet: Fleet) -> None:
    await fleet.enqueue("c1")
    entry = await fleet.read("a")
    await fleet.acquire("c1", "a", entry)
    assert await fleet.joined("c1", "x:1") == 0
    assert await fleet.status("c1") == "joining"
    assert await fleet.joined("c1", "a:1") == 1
    assert await fleet.status("c1") == "active"


async def test_claim_call_answers_once_and_never_without_the_lease(fleet: Fleet) -> None:
    await fleet.enqueue("c1")
    entry = await fleet.read("a")
    await fleet.acquire("c1", "a", entry)
    assert await fleet.claim("c1", "a:1", "t1") == 1
    assert await fleet.claim("c1", "a:1", "t1") == 0
    assert await fleet.claim("c1", "a:0", "t2") == -1
    assert await fleet.r.hget(K.conv("c1"), "tool_calls") == "1"
    assert 0 < await fleet.r.pttl(K.call("c1", "t1")) <= 600_000


async def test_complete_acks_deletes_and_is_idempotent(fleet: Fleet) -> None:
    await fleet.enqueue("c1", token="tok")
    entry = await fleet.read("a")
    await fleet.acquire("c1", "a", entry)
    assert await fleet.complete("c1", "a:1", 1, entry) == 1
    assert await fleet.r.xlen(K.stream) == 0 and await fleet.pending() == []
    assert await fleet.r.exists(K.lease("c1")) == 0
    conv = await fleet.r.hgetall(K.conv("c1"))
    assert conv["status"] == "ended" and "token" not in conv and conv["owner"] == ""
    assert await fleet.complete("c1", "a:1", 1, entry) == 1  # a retry after a lost reply


async def test_complete_after_the_lease_expired_lands_unless_someone_took_over(
    fleet: Fleet,
) -> None:
    await fleet.enqueue("c1")
    await fleet.enqueue("c2")
    e1, e2 = await fleet.read("a"), await fleet.read("a")
    await fleet.acquire("c1", "a", e1)
    await fleet.acquire("c2", "a", e2)
    await fleet.r.delete(K.lease("c1"), K.lease("c2"))  # expired during a Redis outage
    assert await fleet.complete("c1", "a:1", 1, e1) == 1
    assert (await fleet.acquire("c2", "b", e2))[:2] == [1, 2]
    assert await fleet.complete("c2", "a:1", 1, e2) == 0
    assert await fleet.status("c2") == "joining"


async def test_release_requeues_and_makes_the_entry_claimable(fleet: Fleet) -> None:
    await fleet.enqueue("c1")
    entry = await fleet.read("a")
    await fleet.acquire("c1", "a", entry)
    assert await fleet.release("c1", "b:1", "a", entry) == 0
    assert await fleet.release("c1", "a:1", "a", entry) == 1
    assert await fleet.status("c1") == "queued"
    assert await fleet.r.exists(K.lease("c1")) == 0
    _cursor, claimed, *_ = await fleet.r.xautoclaim(K.stream, G, "b", 30_000, "0-0")
    assert [e for e, _ in claimed] == [entry]


async def test_stop_branches(fleet: Fleet) -> None:
    assert await fleet.stop("nope") == [0, ""]
    await fleet.enqueue("q")
    assert await fleet.stop("q") == [1, "stopped"]
    assert await fleet.stop("q") == [1, "stopped"]
    await fleet.enqueue("h")
    e = (await fleet.r.xreadgroup(G, "a", {K.stream: ">"}))[0][1]
    entry = next(eid for eid, f in e if f["cid"] == "h")
    await fleet.acquire("h", "a", entry)
    assert await fleet.stop("h") == [1, "joining"]
    assert await fleet.r.hget(K.conv("h"), "stop") == "1"


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=12))
async def test_fences_only_grow_and_only_the_last_holder_answers(takers: list[str]) -> None:
    """Whatever the sequence of take-overs, each new holder has a higher fence and every
    former holder's renew and call claim fail."""
    r = fakeredis.FakeAsyncRedis(
        server=fakeredis.FakeServer(), decode_responses=True
    )  # a fresh server per example
    await r.xgroup_create(K.stream, G, id="0", mkstream=True)
    fleet = Fleet(r)
    await fleet.enqueue("c1")
    entry = await fleet.read(takers[0])
    tokens: list[str] = []
    for n, me in enumerate(takers, start=1):
        await r.delete(K.lease("c1"))  # the previous lease expired
        await r.xclaim(K.stream, G, me, 0, [entry], justid=True)
        reply = await fleet.acquire("c1", me, entry, max_attempts=100)
        assert reply[:2] == [1, n]
        tokens.append(f"{me}:{n}")
    for old in tokens[:-1]:
        assert await fleet.renew("c1", old, old.split(":")[0], entry) == 0
        assert await fleet.claim("c1", old, "t") == -1
    assert await fleet.claim("c1", tokens[-1], "t") == 1
    assert await fleet.pending() == [takers[-1]]
    await r.aclose()
