"""A fleet worker process for the multi-process tests and ``bench/bench_fleet.py``.

It runs :class:`RedisBackend.jobs` with a plain capacity counter and serves each job with
a *session*: by default :func:`simulated_session`, which stands for a bot in a Daily
room. The room is the Redis list ``test:room:<cid>``: the driver appends tool calls
(``{"id": ...}`` or ``{"end": true}``) and every session in the room sees every call from
the moment it joined (like Daily's broadcast of app-messages, which absent participants
miss). Before answering, a session claims the call with ``ownership.claim_call``; an
answer is recorded as ``<cid> <call id> <worker id> <fence> <unix time>`` in
``test:answers`` (the time is taken before the claim). Leaving a room records
``<cid> <worker id> <why> <unix time>`` in ``test:left``. A started worker appends its
id to ``test:ready``.

``--blind-after-resume`` makes the worker a zombie that does not know it was paused:
once it gets ``SIGCONT``, its lease renewal and watchdog see no held job any more, so
nothing but the per-call fence (``claim_call`` against the lease in Redis) stands
between its sessions and an answer.

``--session MODULE:FUNCTION`` swaps the session for another coroutine function with the
same signature ``(job, ownership, ctx: WorkerContext) -> None`` (the integrator's switch
to the real host). Usage::

    python tests/fleet/fleet_worker.py --url redis://127.0.0.1:PORT/0 --worker-id w1 \
        --capacity 100 --lease 1.5 --renew-every 0.5 --reclaim-every 0.5 [--session-seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import signal
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from cvibot._fleet.options import FleetOptions
from cvibot._fleet.ownership import RedisOwnership
from cvibot._fleet.redis_backend import RedisBackend
from cvibot.serve._backend import Job, Ownership

ROOM = "test:room:"
ANSWERS = "test:answers"
LEFT = "test:left"
JOINED = "test:joined"
READY = "test:ready"


@dataclass
class WorkerContext:
    """What a session may use: the test Redis client (not the backend's), the worker id,
    how long a simulated session lasts (0: until ended by the driver or a stop), and how
    often the room is polled."""

    rooms: aioredis.Redis
    worker_id: str
    session_seconds: float
    poll: float
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class Capacity:
    """The host's slots: ``capacity`` minus the sessions running (joining included)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.active = 0
        self._freed = asyncio.Event()

    def free(self) -> int:
        return max(0, self.capacity - self.active)

    async def wait_free(self) -> None:
        self._freed.clear()
        await self._freed.wait()

    def take(self) -> None:
        self.active += 1

    def give(self) -> None:
        self.active -= 1
        self._freed.set()


async def simulated_session(job: Job, ownership: Ownership, ctx: WorkerContext) -> None:
    """Join (a short sleep), then answer the room's calls until the driver ends it, the
    session time is up, a stop is asked for (complete ``stopped``) or the hold is lost
    (leave without completing)."""
    cid = job.conversation_id
    room = ROOM + cid
    await asyncio.sleep(0.02)  # the join
    seen = await ctx.rooms.llen(room)  # calls sent before the join are missed, as in Daily
    await ownership.joined()
    await ctx.rooms.rpush(JOINED, f"{cid} {ctx.worker_id} {ownership.fence} {time.time():.6f}")
    deadline = time.monotonic() + ctx.session_seconds if ctx.session_seconds else None
    why = "ended"
    wake = [
        asyncio.ensure_future(ownership.lost.wait()),
        asyncio.ensure_future(ownership.stop_requested.wait()),
    ]
    try:
        why = await _serve_room(ownership, ctx, room, seen, deadline, wake)
    finally:
        for waiter in wake:
            waiter.cancel()
    await ctx.rooms.rpush(LEFT, f"{cid} {ctx.worker_id} {why} {time.time():.6f}")
    if why == "ended":
        await ownership.complete("ended", "simulated session over")
    elif why == "stopped":
        await ownership.complete("stopped", "stop requested")


async def _serve_room(
    ownership: Ownership,
    ctx: WorkerContext,
    room: str,
    seen: int,
    deadline: float | None,
    wake: list[asyncio.Future[bool]],
) -> str:
    """Answer the room's calls until it ends; why the session leaves."""
    while True:
        if ownership.lost.is_set():
            return "lost"
        if ownership.stop_requested.is_set():
            return "stopped"
        if deadline is not None and time.monotonic() >= deadline:
            return "ended"
        calls = await ctx.rooms.lrange(room, seen, -1)
        seen += len(calls)
        ended = False
        for raw in calls:
            call = json.loads(raw)
            if call.get("end"):
                ended = True
                continue
            asked = time.time()  # before the claim: "answered after X" means "claimed after X"
            if await ownership.claim_call(call["id"]):
                await ctx.rooms.rpush(
                    ANSWERS,
                    f"{room.removeprefix(ROOM)} {call['id']} {ctx.worker_id} {ownership.fence} "
                    f"{asked:.6f}",
                )
        if ended:
            return "ended"
        await asyncio.wait(wake, timeout=ctx.poll, return_when=asyncio.FIRST_COMPLETED)


def blind_after_resume(backend: RedisBackend) -> None:
    """From the first ``SIGCONT`` on, ``backend.held()`` (what the renewal and the
    watchdog walk) is empty. The Python-level handler runs before the event loop resumes
    any task (the interrupted ``epoll_wait`` runs it first), so no renewal or watchdog
    tick can see the held jobs after the resume."""
    held = backend.held
    resumed = False

    def on_cont(signum: int, frame: object) -> None:
        nonlocal resumed
        resumed = True

    def blind() -> list[RedisOwnership]:
        return [] if resumed else held()

    signal.signal(signal.SIGCONT, on_cont)
    backend.held = blind  # type: ignore[method-assign]


Session = Callable[[Job, Ownership, WorkerContext], Awaitable[None]]


def load_session(spec: str | None) -> Session:
    if not spec:
        return simulated_session
    module, _, name = spec.partition(":")
    func: Session = getattr(importlib.import_module(module), name)
    return func


async def run(args: argparse.Namespace) -> None:
    options = FleetOptions(
        backend="redis",
        url=args.url,
        lease=args.lease,
        renew_every=args.renew_every,
        reclaim_every=args.reclaim_every,
        claim_batch=args.claim_batch,
        max_attempts=args.max_attempts,
    )
    backend = RedisBackend(options, worker_id=args.worker_id)
    # Blocking: redis-py's default pool raises "Too many connections" under hundreds of
    # sessions instead of waiting.
    rooms = aioredis.Redis(
        connection_pool=aioredis.BlockingConnectionPool.from_url(
            args.url, decode_responses=True, max_connections=32, timeout=30
        )
    )
    ctx = WorkerContext(rooms, backend.worker_id, args.session_seconds, args.poll)
    session = load_session(args.session)
    capacity = Capacity(args.capacity)
    if args.blind_after_resume:
        blind_after_resume(backend)
    await backend.start()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, backend.drain)
    await rooms.rpush(READY, backend.worker_id)

    async def serve(job: Job, ownership: Ownership) -> None:
        try:
            await session(job, ownership, ctx)
        except Exception:
            # A host must not keep renewing a job it no longer serves: give it back.
            traceback.print_exc()
            await ownership.release()
        finally:
            capacity.give()

    async for job, ownership in backend.jobs(capacity):
        capacity.take()
        task = asyncio.create_task(serve(job, ownership))
        ctx.tasks.add(task)
        task.add_done_callback(ctx.tasks.discard)
    if ctx.tasks:
        await asyncio.gather(*ctx.tasks, return_exceptions=True)
    await backend.close()
    await rooms.aclose()
    await rooms.connection_pool.aclose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--worker-id")
    parser.add_argument("--capacity", type=int, default=10)
    parser.add_argument("--lease", type=float, default=1.5)
    parser.add_argument("--renew-every", type=float, default=0.5)
    parser.add_argument("--reclaim-every", type=float, default=0.5)
    parser.add_argument("--claim-batch", type=int, default=8)
    parser.add_argument("--max-attempts", type=int, default=5)
    parser.add_argument("--session-seconds", type=float, default=0.0)
    parser.add_argument("--poll", type=float, default=0.1)
    parser.add_argument("--session", help="MODULE:FUNCTION serving one job")
    parser.add_argument("--blind-after-resume", action="store_true")
    asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
