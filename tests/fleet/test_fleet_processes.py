"""Several worker processes on one real redis-server: crash, pause and back-pressure.

Timings: lease 1.5 s, renew every 0.5 s, reclaim every 0.5 s (the workers' defaults in
fleet_worker.py). The sessions are simulated (fleet_worker.simulated_session).
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
from fleet_helpers import started
from fleet_hosts import Workers

pytestmark = [pytest.mark.redis, pytest.mark.timeout(60)]

LEASE, RECLAIM = 1.5, 0.5


async def test_a_killed_workers_conversations_are_taken_over_and_no_call_is_answered_twice(
    workers: Workers, rclient: aioredis.Redis
) -> None:
    workers.start(["w1", "w2", "w3"], "--capacity", "20")
    cids = [f"k{i}" for i in range(30)]
    await enqueue_many(rclient, cids)
    await all_active(rclient, cids)
    victim, lost = await busiest_worker(rclient, cids)
    player = CallPlayer(rclient, cids)
    player.start()
    await asyncio.sleep(0.5)
    workers.signal(victim, signal.SIGKILL)
    killed_at = time.time()

    took = await wait_for(
        taken_over(rclient, lost, victim), 10, what="take-over of the killed worker's conversations"
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
    await end_all(rclient, cids)


async def test_a_paused_worker_answers_nothing_after_it_resumes_and_leaves_its_rooms(
    workers: Workers, rclient: aioredis.Redis
) -> None:
    workers.start(["p1", "p2"], "--capacity", "20", "--claim-batch", "4")
    cids = [f"z{i}" for i in range(16)]
    await enqueue_many(rclient, cids)
    await all_active(rclient, cids)
    victim, lost = await busiest_worker(rclient, cids)
    player = CallPlayer(rclient, cids)
    player.start()
    await asyncio.sleep(0.3)
    workers.signal(victim, signal.SIGSTOP)
    await asyncio.sleep(2 * LEASE)
    await wait_for(
        taken_over(rclient, lost, victim), 5, what="take-over of the paused worker's conversations"
    )
    workers.signal(victim, signal.SIGCONT)
    resumed_at = time.time()

    gone = await departures(
        rclient, victim, lost, 3, what="the resumed worker leaving the rooms it lost"
    )
    assert {why for _, _, why, _ in gone} == {"lost"}
    assert max(at for *_, at in gone) - resumed_at < 1.0
    await asyncio.sleep(0.5)
    await player.stop()
    found = await answers(rclient)
    assert not [a for a in found if a.worker == victim and a.asked_at >= resumed_at]
    assert answered_twice(found) == 0
    # The conversations are still served, by the other worker only.
    assert {c.owner for c in (await conversations(rclient, cids)).values()} == {
        ({"p1", "p2"} - {victim}).pop()
    }
    await end_all(rclient, cids)


async def test_a_thousand_queued_conversations_never_exceed_the_fleets_300_slots(
    workers: Workers, rclient: aioredis.Redis
) -> None:
    workers.start(
        ["b1", "b2", "b3"], "--capacity", "100", "--session-seconds", "2.0", "--poll", "0.5"
    )
    cids = [f"q{i}" for i in range(1000)]
    await enqueue_many(rclient, cids)
    samples: list[int] = []

    async def done() -> bool:
        samples.append(await pending(rclient))
        return await rclient.xlen(KEYS.stream) == 0

    await wait_for(done, 40, every=0.05, what="all 1,000 conversations served")
    assert max(samples) == 300, samples
    assert samples.count(300) >= 3, samples  # saturated, not a passing peak
    statuses = Counter(c.status for c in (await conversations(rclient, cids)).values())
    assert statuses == {"ended": 1000}
    assert await pending(rclient) == 0


async def _joined(r: aioredis.Redis) -> list[tuple[str, str]]:
    return [tuple(line.split()[:2]) for line in await r.lrange("test:joined", 0, -1)]  # type: ignore[misc]


async def test_a_stop_from_another_host_reaches_the_holder_at_once_and_a_queued_one_never_joins(
    workers: Workers, rclient: aioredis.Redis, redis_url: str
) -> None:
    workers.start(["s1"], "--capacity", "2", "--lease", "6", "--renew-every", "3")
    await enqueue_many(rclient, ["held1", "held2"])
    await all_active(rclient, ["held1", "held2"])
    await enqueue_many(rclient, ["queued"])  # no free slot: it waits in the stream
    async with started(redis_url, "api-host") as api:
        record = await api.stop("queued", "system.shutdown: participant_left_timeout")
        assert record is not None and record.state == "stopped"
        asked = time.time()
        await api.stop("held1", "api")

        async def held1_left() -> bool:
            return any(row[0] == "held1" for row in await left(rclient))

        # Pub/sub: well within the 3 s renewal.
        assert await wait_for(held1_left, 2.0, what="the holder leaving") < 1.0
        [(_, _, why, at)] = [row for row in await left(rclient) if row[0] == "held1"]
        assert why == "stopped" and at - asked < 1.0
        await end_all(rclient, ["held2"])
        assert ("queued", "s1") not in await _joined(rclient)
        stopped = await api.get("held1")
        assert stopped is not None and stopped.state == "stopped" and stopped.reason == "api"
    assert await rclient.xlen(KEYS.stream) == 0  # the queued entry was read and dropped


async def test_a_draining_worker_takes_nothing_new_and_its_sessions_finish(
    workers: Workers, rclient: aioredis.Redis
) -> None:
    workers.start(["d1"], "--capacity", "10")
    await enqueue_many(rclient, ["old1", "old2"])
    await all_active(rclient, ["old1", "old2"])
    workers.signal("d1", signal.SIGTERM)
    await asyncio.sleep(0.3)
    await enqueue_many(rclient, ["new1"])
    await asyncio.sleep(1.0)
    assert ("new1", "d1") not in await _joined(rclient)
    workers.start(["d2"], "--capacity", "10")
    await all_active(rclient, ["new1"])
    assert (await conversations(rclient, ["new1"]))["new1"].owner == "d2"
    # The drained worker still serves its rooms until they end, then exits.
    await end_all(rclient, ["old1", "old2", "new1"])
    assert workers.procs["d1"].wait(timeout=10) == 0
