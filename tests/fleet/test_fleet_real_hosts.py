"""The fleet with real hosts: worker processes whose sessions are served by SessionHost +
Bot + DailyTransport on the fake Daily SDK (real_host.py), on one real redis-server.

The crash (SIGKILL), the pause (SIGSTOP past the lease, then SIGCONT) and back-pressure
(1,000 queued for 300 slots) of test_fleet_processes.py, with the whole host stack.
Timings as there: lease 1.5 s, renew and reclaim every 0.5 s.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter

import pytest
import redis.asyncio as aioredis
from fleet_driver import (
    KEYS,
    CallPlayer,
    all_active,
    answered_twice,
    answers,
    busiest_worker,
    conversations,
    departures,
    end_all,
    enqueue_many,
    left,
    pending,
    taken_over,
    wait_for,
)
from fleet_hosts import Workers
from fleet_worker import LEFT
from real_host import UNANSWERED

pytestmark = [pytest.mark.redis, pytest.mark.timeout(60)]

LEASE, RECLAIM = 1.5, 0.5
HOSTED = ("--session", "real_host:hosted_session")


async def test_real_hosts_take_over_a_killed_hosts_conversations_and_answer_each_call_once(
    workers: Workers, rclient: aioredis.Redis
) -> None:
    workers.start(["h1", "h2", "h3"], "--capacity", "20", *HOSTED)
    cids = [f"r{i}" for i in range(24)]
    await enqueue_many(rclient, cids)
    await all_active(rclient, cids)
    victim, lost = await busiest_worker(rclient, cids)
    player = CallPlayer(rclient, cids)
    player.start()
    await asyncio.sleep(0.6)
    # The hosts answer through the bot: a tool_result per call, from the room's holder.
    served_before = await answers(rclient)
    assert {a.cid for a in served_before} >= set(lost)
    workers.signal(victim, signal.SIGKILL)
    killed_at = time.time()

    took = await wait_for(
        taken_over(rclient, lost, victim), 10, what="take-over of the killed host's conversations"
    )
    assert took <= LEASE + RECLAIM + 1.0
    after = await conversations(rclient, list(lost))
    assert all(after[cid].fence == lost[cid] + 1 for cid in lost)  # one take-over each
    settled = time.time()
    await asyncio.sleep(1.0)
    await player.stop()
    await asyncio.sleep(0.5)
    found = await answers(rclient)
    assert answered_twice(found) == 0
    by_call = {(a.cid, a.call): a for a in found}
    late = [
        key
        for key, sent in player.sent.items()
        if sent > settled + 0.1 and sent < time.time() - 0.4
    ]
    assert late and all(key in by_call for key in late)  # served again after the take-over
    assert not [a for a in found if a.worker == victim and a.asked_at > killed_at]
    # Each answer came from the holder of the conversation at the time (its fence).
    assert all(by_call[key].fence == after[key[0]].fence for key in late if key[0] in lost)

    await end_all(rclient, cids)  # system.shutdown into every room: the hosts complete


async def _unanswered(r: aioredis.Redis) -> list[tuple[str, str, str, float]]:
    rows = []
    for line in await r.lrange(UNANSWERED, 0, -1):
        cid, call, worker, at = line.split()
        rows.append((cid, call, worker, float(at)))
    return rows


@pytest.mark.parametrize("blind", [False, True], ids=["watchdog", "fence-only"])
async def test_a_paused_real_host_answers_nothing_after_it_resumes_and_leaves_its_rooms(
    workers: Workers, rclient: aioredis.Redis, blind: bool
) -> None:
    """SIGSTOP past the lease, then SIGCONT. ``watchdog``: the host notices the pause
    itself (0.9 × lease without renewal) and leaves. ``fence-only``: the resumed host's
    renewal and watchdog are blind (fleet_worker --blind-after-resume), so it feeds the
    calls it finds in its rooms to its bot, and only the per-call fence refuses them;
    the refusal is also what makes it leave."""
    extra = ("--blind-after-resume",) if blind else ()
    workers.start(["z1", "z2", "z3"], "--capacity", "20", "--claim-batch", "4", *HOSTED, *extra)
    cids = [f"z{i}" for i in range(24)]
    await enqueue_many(rclient, cids)
    await all_active(rclient, cids)
    victim, lost = await busiest_worker(rclient, cids)
    player = CallPlayer(rclient, cids)
    player.start()

    async def victim_answers() -> bool:
        return {a.cid for a in await answers(rclient) if a.worker == victim} >= set(lost)

    await wait_for(victim_answers, 5, what="the victim answering in each of its rooms")
    workers.signal(victim, signal.SIGSTOP)
    paused_at = time.time()

    took = await wait_for(
        taken_over(rclient, lost, victim), 10, what="take-over of the paused host's conversations"
    )
    assert took <= LEASE + RECLAIM + 1.0
    # Paused past its lease (twice its length): calls went on meanwhile, and the resumed
    # host reads them from the room and claims them with a fence that is no longer its own.
    await asyncio.sleep(max(0.0, paused_at + 2 * LEASE - time.time()))
    workers.signal(victim, signal.SIGCONT)
    resumed_at = time.time()

    gone = await departures(
        rclient, victim, lost, 5, what="the resumed host leaving the rooms it lost"
    )
    assert sorted(cid for cid, *_ in gone) == sorted(lost)  # each room left once
    assert {why for _, _, why, _ in gone} == {"lost"}
    assert max(at for *_, at in gone) - resumed_at < 1.5
    settled = time.time()
    await asyncio.sleep(1.0)
    await player.stop()
    await asyncio.sleep(0.5)
    found = await answers(rclient)
    assert answered_twice(found) == 0
    # Nothing from the victim once it resumed: its late calls were fenced.
    assert not [a for a in found if a.worker == victim and a.asked_at >= resumed_at]
    assert not [a for a in found if a.worker == victim and a.asked_at >= paused_at]
    by_call = {(a.cid, a.call): a for a in found}
    late = [
        key
        for key, sent in player.sent.items()
        if key[0] in lost and settled + 0.1 < sent < time.time() - 0.4
    ]
    assert late and all(key in by_call for key in late)  # served by the new holders
    after = await conversations(rclient, cids)
    assert all(after[cid].fence == lost[cid] + 1 for cid in lost)  # one take-over each
    assert all(by_call[key].fence == after[key[0]].fence for key in late)
    assert victim not in {c.owner for c in after.values()}
    refused = [row for row in await _unanswered(rclient) if row[2] == victim]
    if blind:
        # Every lost room's calls reached the resumed host's bot, and were refused.
        assert {cid for cid, _, _, at in refused if at >= resumed_at} == set(lost)

    await end_all(rclient, cids)


async def _held(r: aioredis.Redis, cids: list[str]) -> tuple[int, int]:
    """Conversations held now (owner set, joining or active), and those ended."""
    now = await conversations(r, cids)
    held = sum(1 for c in now.values() if c.owner and c.status in ("joining", "active"))
    return held, sum(1 for c in now.values() if c.status == "ended")


@pytest.mark.timeout(90)
async def test_a_thousand_queued_conversations_fill_the_real_hosts_300_slots_and_no_more(
    workers: Workers, rclient: aioredis.Redis
) -> None:
    """1,000 queued, 3 hosts × 100 slots, each room ending 2 s after its join: the
    fleet holds at most 300 at every sample, fills all 300, takes the queued ones as
    rooms end, and serves each conversation exactly once."""
    workers.start(
        ["b1", "b2", "b3"],
        *("--capacity", "100", "--session-seconds", "2.0", "--poll", "0.5"),
        *HOSTED,
    )
    cids = [f"q{i}" for i in range(1000)]
    started = time.monotonic()
    await enqueue_many(rclient, cids)
    samples: list[tuple[int, int, int]] = []  # held, ended, PEL

    async def done() -> bool:
        held, ended = await _held(rclient, cids)
        samples.append((held, ended, await pending(rclient)))
        return ended == len(cids)

    await wait_for(done, 60, every=0.1, what="all 1,000 conversations served")
    took = time.monotonic() - started
    assert max(h for h, _, _ in samples) == 300, samples
    assert max(p for _, _, p in samples) <= 300, samples
    full = [(h, e) for h, e, _ in samples if h == 300]
    assert len(full) >= 3, samples  # saturated, not a passing peak
    # Full while rooms were ending: queued conversations took the freed slots.
    assert len({e for _, e in full}) >= 2, full

    joined = [line.split() for line in await rclient.lrange("test:joined", 0, -1)]
    assert sorted(cid for cid, *_ in joined) == sorted(cids)  # each joined exactly once
    assert {int(fence) for _, _, fence, _ in joined} == {1}  # never taken over
    assert {worker for _, worker, _, _ in joined} == {"b1", "b2", "b3"}

    async def all_left() -> bool:  # recorded by each session after its host completed
        return await rclient.llen(LEFT) >= len(cids)

    await wait_for(all_left, 5, what="every session recording that it left")
    rows = await left(rclient)
    assert sorted(cid for cid, *_ in rows) == sorted(cids)
    assert {why for _, _, why, _ in rows} == {"ended"}
    first_end = min(at for *_, at in rows)
    assert sum(1 for *_, at in joined if float(at) > first_end) >= 700  # waited for a slot
    assert await rclient.xlen(KEYS.stream) == 0
    assert await pending(rclient) == 0
    statuses = Counter(c.status for c in (await conversations(rclient, cids)).values())
    assert statuses == {"ended": 1000}
    assert took < 40, took
