"""The fleet with real hosts: worker processes whose sessions are served by SessionHost +
Bot + DailyTransport on the fake Daily SDK (real_host.py), on one real redis-server.

Timings as in test_fleet_processes.py: lease 1.5 s, renew and reclaim every 0.5 s.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter

import pytest
import redis.asyncio as aioredis
from conftest import Workers
from fleet_driver import (
    KEYS,
    CallPlayer,
    answered_twice,
    answers,
    conversations,
    end_rooms,
    enqueue_many,
    wait_for,
)

pytestmark = [pytest.mark.redis, pytest.mark.timeout(60)]

LEASE, RECLAIM = 1.5, 0.5
HOSTED = ("--session", "real_host:hosted_session")


async def test_real_hosts_take_over_a_killed_hosts_conversations_and_answer_each_call_once(
    workers: Workers, rclient: aioredis.Redis
) -> None:
    workers.start(["h1", "h2", "h3"], "--capacity", "20", *HOSTED)
    cids = [f"r{i}" for i in range(24)]
    await enqueue_many(rclient, cids)

    async def all_active() -> bool:
        return all(c.status == "active" for c in (await conversations(rclient, cids)).values())

    await wait_for(all_active, 10.0, what="every conversation joined by a host")
    before = await conversations(rclient, cids)
    victim = Counter(c.owner for c in before.values()).most_common(1)[0][0]
    lost = {cid: c.fence for cid, c in before.items() if c.owner == victim}
    player = CallPlayer(rclient, cids)
    player.start()
    await asyncio.sleep(0.6)
    # The hosts answer through the bot: a tool_result per call, from the room's holder.
    served_before = await answers(rclient)
    assert {a.cid for a in served_before} >= set(lost)
    workers.signal(victim, signal.SIGKILL)
    killed_at = time.time()

    async def taken_over() -> bool:
        now = await conversations(rclient, list(lost))
        return all(
            c.owner not in ("", victim) and c.status == "active" and c.fence > lost[cid]
            for cid, c in now.items()
        )

    took = await wait_for(taken_over, 10, what="take-over of the killed host's conversations")
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

    await end_rooms(rclient, cids)  # system.shutdown into every room: the hosts complete

    async def stream_empty() -> bool:
        return await rclient.xlen(KEYS.stream) == 0

    await wait_for(stream_empty, 10, what="stream empty after the rooms ended")
    assert {c.status for c in (await conversations(rclient, cids)).values()} == {"ended"}
