"""RedisBackend against a real redis-server: the contract's behaviour, one process."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
import redis.asyncio as aioredis
from fleet_helpers import Slots, job, options, started, take

from cvibot._fleet.redis_backend import RedisBackend
from cvibot.serve._backend import AlreadyEnded, BackendError

pytestmark = [pytest.mark.redis, pytest.mark.timeout(30)]

STREAM = "{cvibot:conversations}"
GROUP = "cvibot"


async def test_enqueue_is_idempotent_and_an_ended_conversation_is_refused(
    redis_url: str, rclient: aioredis.Redis
) -> None:
    async with started(redis_url, "w1") as backend:
        first = await backend.enqueue(job("c1", meeting_token="secret-token"))
        again = await backend.enqueue(job("c1"))
        assert first.state == again.state == "queued"
        assert await rclient.xlen(STREAM) == 1
        # The token is kept in the hash, not in the stream entry.
        entries = await rclient.xrange(STREAM)
        assert "secret-token" not in str(entries)
        [(j, own)] = await take(backend, Slots(1), 1)
        assert j.meeting_token == "secret-token" and j.attempts == 1 and own.fence == 1
        assert j.enqueued_at == first.enqueued_at and j.enqueued_at > 0
        await own.complete("ended", "room ended")
        with pytest.raises(AlreadyEnded) as info:
            await backend.enqueue(job("c1"))
        assert info.value.record.state == "ended"
        assert info.value.record.reason == "room ended"


async def test_completion_deletes_the_entry_lease_and_token_and_keeps_the_record_a_day(
    redis_url: str, rclient: aioredis.Redis
) -> None:
    async with started(redis_url, "w1") as backend:
        await backend.enqueue(job("c1", meeting_token="t"))
        [(_, own)] = await take(backend, Slots(1), 1)
        await own.joined()
        assert (await backend.get("c1")).state == "active"  # type: ignore[union-attr]
        assert await own.claim_call("call-1")
        await own.complete("ended", "participant left")
        assert await rclient.xlen(STREAM) == 0
        assert (await rclient.xpending(STREAM, GROUP))["pending"] == 0
        assert not await rclient.exists(f"{STREAM}:lease:c1")
        conv = await rclient.hgetall(f"{STREAM}:conv:c1")
        assert "token" not in conv and conv["status"] == "ended"
        assert 0 < await rclient.ttl(f"{STREAM}:conv:c1") <= 86_400
        record = await backend.get("c1")
        assert record is not None and record.owner is None and record.tool_calls == 1
        assert not await own.claim_call("call-2")  # over: nothing more is answered


async def test_reads_only_while_slots_are_free(redis_url: str, rclient: aioredis.Redis) -> None:
    async with started(redis_url, "w1", claim_batch=4) as backend:
        for i in range(20):
            await backend.enqueue(job(f"c{i}"))
        slots = Slots(6)
        got = await take(backend, slots, 6)
        assert len(got) == 6
        # No free slot: nothing more is read however long the loop runs.
        gen = backend.jobs(slots)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1.2):
                await anext(gen)
        await gen.aclose()
        assert (await rclient.xpending(STREAM, GROUP))["pending"] == 6


async def test_a_renewal_never_steals_an_entry_back(
    redis_url: str, rclient: aioredis.Redis
) -> None:
    """A host whose lease was taken cannot move the entry back."""
    async with started(redis_url, "old") as old, started(redis_url, "new") as new:
        await old.enqueue(job("c1"))
        [(_, old_own)] = await take(old, Slots(1), 1)
        # The old host goes silent: its lease expires and the entry idles past it.
        old._held.clear()
        await rclient.delete(f"{STREAM}:lease:c1")
        await rclient.xclaim(STREAM, GROUP, "old", 0, [_entry(old_own)], idle=10_000, justid=True)
        [(_, new_own)] = await take(new, Slots(1), 1)
        assert new_own.fence == old_own.fence + 1
        # The old host resumes and renews (the script the renew loop runs).
        result = await old.scripts.renew(
            keys=[STREAM, f"{STREAM}:lease:c1", f"{STREAM}:conv:c1"],
            args=[_token(old_own), 1500, GROUP, "old", _entry(old_own)],
        )
        assert result == 0
        pending = await rclient.xpending_range(STREAM, GROUP, "-", "+", 10)
        assert [p["consumer"] for p in pending] == ["new"]
        assert not await old_own.claim_call("call-1")
        assert old_own.lost.is_set()
        assert await new_own.claim_call("call-1")


async def test_stop_of_a_queued_conversation_means_it_is_never_joined(
    redis_url: str, rclient: aioredis.Redis
) -> None:
    async with started(redis_url, "w1") as backend:
        await backend.enqueue(job("c1"))
        await backend.enqueue(job("c2"))
        stopped = await backend.stop("c1", "system.shutdown: participant_left_timeout")
        assert stopped is not None and stopped.state == "stopped"
        assert await backend.stop("nope", "x") is None
        got = await take(backend, Slots(5), 1)
        assert [j.conversation_id for j, _ in got] == ["c2"]
        # c1's entry was read and dropped; only c2 is left in the stream.
        await asyncio.sleep(0.1)
        assert [f["cid"] for _, f in await rclient.xrange(STREAM)] == ["c2"]
        with pytest.raises(AlreadyEnded):
            await backend.enqueue(job("c1"))


async def test_stop_of_a_held_conversation_reaches_its_holder_on_another_host(
    redis_url: str,
) -> None:
    async with (
        started(redis_url, "w1", lease=6, renew_every=3) as holder,
        started(redis_url, "w2") as other,
    ):
        await holder.enqueue(job("c1"))
        [(_, own)] = await take(holder, Slots(1), 1)
        await own.joined()
        await other.stop("c1", "system.shutdown: end_conversation_endpoint_hit")
        # Through pub/sub: well before the next renewal (3 s).
        async with asyncio.timeout(1.0):
            await own.stop_requested.wait()
        await own.complete("stopped", "stop requested")
        record = await other.get("c1")
        assert record is not None and record.state == "stopped"
        assert record.reason == "system.shutdown: end_conversation_endpoint_hit"


async def test_a_stop_flag_is_seen_at_the_next_renewal_without_pubsub(
    redis_url: str, rclient: aioredis.Redis
) -> None:
    async with started(redis_url, "w1") as backend:
        await backend.enqueue(job("c1"))
        [(_, own)] = await take(backend, Slots(1), 1)
        await rclient.hset(f"{STREAM}:conv:c1", "stop", "1")  # the flag, no message
        async with asyncio.timeout(1.5):
            await own.stop_requested.wait()


async def test_a_lease_taken_away_is_noticed_at_the_next_renewal(
    redis_url: str, rclient: aioredis.Redis
) -> None:
    async with started(redis_url, "w1") as backend:
        await backend.enqueue(job("c1"))
        [(_, own)] = await take(backend, Slots(1), 1)
        await rclient.set(f"{STREAM}:lease:c1", "someone:9")
        async with asyncio.timeout(1.5):
            await own.lost.wait()
        assert backend.held() == []


async def test_a_renewal_that_finds_the_lease_gone_during_the_completion_is_no_loss(
    redis_url: str,
) -> None:
    async with started(redis_url, "w1") as backend:
        await backend.enqueue(job("c1"))
        [(_, own)] = await take(backend, Slots(1), 1)
        await own.joined()
        complete = backend.scripts.complete
        stored, answer = asyncio.Event(), asyncio.Event()

        async def slow_reply(**kwargs: Any) -> Any:
            result = await complete(**kwargs)  # the lease is deleted here
            stored.set()
            await answer.wait()  # renewals overtake the reply
            return result

        backend._scripts = dataclasses.replace(backend.scripts, complete=slow_reply)
        ending = asyncio.create_task(own.complete("ended", "over"))
        await stored.wait()
        await asyncio.sleep(1.2)  # two renewals and the watchdog find the lease gone
        assert not own.lost.is_set()
        answer.set()
        await ending
        assert own.finished and not own.lost.is_set() and backend.held() == []
        assert (await backend.get("c1")).state == "ended"  # type: ignore[union-attr]


async def test_the_watchdog_leaves_when_redis_does_not_answer(
    redis_url: str, rclient: aioredis.Redis
) -> None:
    async with started(redis_url, "w1") as backend:
        await backend.enqueue(job("c1"))
        [(_, own)] = await take(backend, Slots(1), 1)
        paused_at = asyncio.get_running_loop().time()
        await rclient.execute_command("CLIENT", "PAUSE", 2500, "ALL")
        async with asyncio.timeout(2.0):  # 0.9 × 1.5 s after the last renewal
            await own.lost.wait()
        assert not await own.claim_call("call-1")  # lost: no round trip, no answer
        await asyncio.sleep(max(0.0, paused_at + 2.6 - asyncio.get_running_loop().time()))


async def test_release_hands_the_job_to_another_host_at_once(
    redis_url: str,
) -> None:
    async with started(redis_url, "w1") as first, started(redis_url, "w2") as second:
        await first.enqueue(job("c1"))
        [(_, own)] = await take(first, Slots(1), 1)
        await own.joined()
        await own.release()
        assert (await first.get("c1")).state == "queued"  # type: ignore[union-attr]
        [(j, own2)] = await take(second, Slots(1), 1, within=2.0)
        assert j.attempts == 2 and own2.fence == 2
        assert not await own.claim_call("x")


async def test_a_job_that_never_joins_is_dead_lettered(
    redis_url: str, rclient: aioredis.Redis
) -> None:
    async with started(redis_url, "w1", max_attempts=2) as backend:
        await backend.enqueue(job("c1"))
        for attempt in (1, 2):
            [(j, own)] = await take(backend, Slots(1), 1, within=3.0)
            assert j.attempts == attempt
            await own.release()  # the join failed
        gen = backend.jobs(Slots(1))
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1.5):
                await anext(gen)
        await gen.aclose()
        record = await backend.get("c1")
        assert record is not None and record.state == "failed"
        assert record.reason is not None and "max_attempts" in record.reason
        [(_, dead)] = await rclient.xrange(f"{STREAM}:dead")
        assert dead["cid"] == "c1" and await rclient.xlen(STREAM) == 0


async def test_draining_gives_back_what_a_read_brings_and_ends_the_loop(
    redis_url: str,
) -> None:
    async with started(redis_url, "w1") as backend:
        gen = backend.jobs(Slots(5))
        nxt = asyncio.ensure_future(anext(gen))
        await asyncio.sleep(0.2)  # the read is blocking now
        backend.drain()
        await backend.enqueue(job("c1"))
        with pytest.raises(StopAsyncIteration):
            async with asyncio.timeout(3):
                await nxt
        async with started(redis_url, "w2") as peer:
            [(j, _)] = await take(peer, Slots(1), 1, within=2.0)
            assert j.conversation_id == "c1"


async def test_list_and_get_read_the_fleet_wide_state(redis_url: str) -> None:
    async with started(redis_url, "w1") as a, started(redis_url, "w2") as b:
        for cid in ("c1", "c2", "c3"):
            await a.enqueue(job(cid, source="webhook"))
        [(_, own)] = await take(a, Slots(1), 1)
        await own.joined()
        listed = await b.list()
        assert {r.conversation_id for r in listed} == {"c1", "c2", "c3"}
        assert listed[0].conversation_id == own.job.conversation_id  # type: ignore[attr-defined]
        active = await b.list(state="active")
        assert [(r.owner, r.fence, r.source) for r in active] == [("w1", 1, "webhook")]
        assert len(await b.list(limit=2)) == 2
        assert await b.get("missing") is None
        assert await b.get("bad id with spaces") is None


async def test_an_unreachable_server_is_a_backend_error() -> None:
    backend = RedisBackend(options("redis://127.0.0.1:1/0"))
    with pytest.raises(BackendError, match="cannot connect"):
        await backend.start()


async def test_hostile_entries_are_dropped_not_retried(
    redis_url: str, rclient: aioredis.Redis
) -> None:
    async with started(redis_url, "w1") as backend:
        await rclient.xadd(STREAM, {"nonsense": "1"})
        await rclient.xadd(STREAM, {"cid": "c9", "job": "{not json"})
        await rclient.hset(f"{STREAM}:conv:c9", mapping={"status": "queued", "entry": "x"})
        await backend.enqueue(job("c1"))
        [(j, _)] = await take(backend, Slots(3), 1)
        assert j.conversation_id == "c1"
        await asyncio.sleep(0.1)
        assert [f.get("cid") for _, f in await rclient.xrange(STREAM)] == ["c1"]


def _entry(own: object) -> str:
    return own.entry  # type: ignore[attr-defined, no-any-return]


def _token(own: object) -> str:
    return own.token  # type: ignore[attr-defined, no-any-return]


async def test_the_group_is_created_again_when_redis_lost_its_data(
    redis_url: str, rclient: aioredis.Redis
) -> None:
    async with started(redis_url, "w1") as backend:
        await rclient.flushall()  # a restart without persistence
        await backend.enqueue(job("c1"))
        [(j, _)] = await take(backend, Slots(1), 1, within=3.0)
        assert j.conversation_id == "c1"
