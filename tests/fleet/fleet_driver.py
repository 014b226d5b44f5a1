"""The test driver's side of the multi-process fleet tests and of bench/bench_fleet.py:
enqueue many conversations, read the fleet's state, play tool calls into rooms, and
collect the workers' answers (the room protocol is in fleet_worker.py)."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import redis.asyncio as aioredis

from cvibot._fleet.options import FleetOptions
from cvibot._fleet.records import encode_job
from cvibot._fleet.scripts import ENQUEUE, FleetKeys
from cvibot.serve._backend import Job

KEYS = FleetKeys(FleetOptions().key_prefix)
GROUP = FleetOptions().group
ROOM = "test:room:"


@dataclass(frozen=True)
class Answer:
    cid: str
    call: str
    worker: str
    fence: int
    asked_at: float  # Unix time taken before the claim


@dataclass(frozen=True)
class Conv:
    status: str
    owner: str
    fence: int


async def enqueue_many(r: aioredis.Redis, cids: Iterable[str]) -> dict[str, float]:
    """One pipelined ``ENQUEUE`` per conversation, in pipelines of 200; the Unix time of
    each enqueue."""
    script = r.register_script(ENQUEUE)
    at: dict[str, float] = {}
    it = iter(cids)
    while batch := list(itertools.islice(it, 200)):
        async with r.pipeline(transaction=False) as pipe:
            for cid in batch:
                now = time.time()
                at[cid] = now
                job = Job(cid, f"https://tavus.daily.co/{cid}", enqueued_at=now)
                await script(
                    keys=[KEYS.stream, KEYS.conv(cid), KEYS.index],
                    args=[cid, encode_job(job), "", f"{now:.6f}", "api", 86_400],
                    client=pipe,
                )
            await pipe.execute()
    return at


async def conversations(r: aioredis.Redis, cids: Iterable[str]) -> dict[str, Conv]:
    cids = list(cids)
    async with r.pipeline(transaction=False) as pipe:
        for cid in cids:
            pipe.hmget(KEYS.conv(cid), "status", "owner", "fence")
        rows = await pipe.execute()
    return {
        cid: Conv(row[0] or "", row[1] or "", int(row[2] or 0))
        for cid, row in zip(cids, rows, strict=True)
    }


async def pending(r: aioredis.Redis) -> int:
    summary = await r.xpending(KEYS.stream, GROUP)
    return int(summary["pending"])


async def answers(r: aioredis.Redis) -> list[Answer]:
    out = []
    for line in await r.lrange("test:answers", 0, -1):
        cid, call, worker, fence, asked = line.split()
        out.append(Answer(cid, call, worker, int(fence), float(asked)))
    return out


def answered_twice(found: list[Answer]) -> int:
    return sum(n - 1 for n in Counter((a.cid, a.call) for a in found).values() if n > 1)


async def left(r: aioredis.Redis) -> list[tuple[str, str, str, float]]:
    rows = []
    for line in await r.lrange("test:left", 0, -1):
        cid, worker, why, at = line.split()
        rows.append((cid, worker, why, float(at)))
    return rows


async def departures(
    r: aioredis.Redis, worker: str, rooms: Iterable[str], within: float, what: str
) -> list[tuple[str, str, str, float]]:
    """Wait (up to ``within`` s) until ``worker`` has left every room of ``rooms``; its
    departures, as :func:`left` gives them."""
    rooms = set(rooms)

    async def gone() -> bool:
        return {cid for cid, who, _, _ in await left(r) if who == worker} >= rooms

    await wait_for(gone, within, what=what)
    return [row for row in await left(r) if row[1] == worker]


async def end_rooms(r: aioredis.Redis, cids: Iterable[str]) -> None:
    async with r.pipeline(transaction=False) as pipe:
        for cid in cids:
            pipe.rpush(ROOM + cid, json.dumps({"end": True}))
        await pipe.execute()


async def all_active(r: aioredis.Redis, cids: Iterable[str], within: float = 10.0) -> None:
    """Wait (up to ``within`` s) until every conversation of ``cids`` is active on a host."""
    cids = list(cids)

    async def check() -> bool:
        return all(c.status == "active" for c in (await conversations(r, cids)).values())

    await wait_for(check, within, what="every conversation joined by a host")


async def end_all(r: aioredis.Redis, cids: Iterable[str]) -> None:
    """End every room of ``cids``; wait until each holder has completed its conversation
    (the stream is empty), and check that each ended."""
    cids = list(cids)
    await end_rooms(r, cids)

    async def stream_empty() -> bool:
        return await r.xlen(KEYS.stream) == 0

    await wait_for(stream_empty, 10, what="stream empty after the rooms ended")
    assert {c.status for c in (await conversations(r, cids)).values()} == {"ended"}


async def busiest_worker(r: aioredis.Redis, cids: Iterable[str]) -> tuple[str, dict[str, int]]:
    """The worker holding most of ``cids`` (the victim of a crash test), and the fence it
    holds each of its conversations with (id → fence)."""
    now = await conversations(r, cids)
    worker = Counter(c.owner for c in now.values()).most_common(1)[0][0]
    return worker, {cid: c.fence for cid, c in now.items() if c.owner == worker}


class CallPlayer:
    """Sends one tool call to every room every ``every`` seconds until stopped; keeps
    the Unix time each call was sent."""

    def __init__(self, r: aioredis.Redis, cids: list[str], every: float = 0.2) -> None:
        self.r, self.cids, self.every = r, cids, every
        self.sent: dict[tuple[str, str], float] = {}
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        for n in itertools.count():
            async with self.r.pipeline(transaction=False) as pipe:
                now = time.time()
                for cid in self.cids:
                    call = f"{cid}-{n}"
                    self.sent[(cid, call)] = now
                    pipe.rpush(ROOM + cid, json.dumps({"id": call}))
                await pipe.execute()
            await asyncio.sleep(self.every)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


def taken_over(
    rclient: aioredis.Redis, lost: dict[str, int], victim: str
) -> Callable[[], Awaitable[bool]]:
    """A check for :func:`wait_for`: every conversation of ``lost`` (id → the fence the
    victim held) is active again under another owner, with a newer fence."""

    async def check() -> bool:
        now = await conversations(rclient, list(lost))
        return all(
            c.owner not in ("", victim) and c.status == "active" and c.fence > lost[cid]
            for cid, c in now.items()
        )

    return check


async def wait_for(
    check: Callable[[], Awaitable[bool]], within: float, every: float = 0.05, what: str = ""
) -> float:
    """Poll ``check`` until true; the seconds it took. ``AssertionError`` on timeout."""
    start = time.monotonic()
    while not await check():
        if time.monotonic() - start > within:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(every)
    return time.monotonic() - start
