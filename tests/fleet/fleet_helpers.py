"""Helpers of the in-process fleet tests: slots, options, a backend started and closed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from cvibot._fleet.options import FleetOptions
from cvibot._fleet.redis_backend import RedisBackend
from cvibot.serve._backend import Job, Ownership

FAST: dict[str, Any] = {"lease": 1.5, "renew_every": 0.5, "reclaim_every": 0.5}


class Slots:
    def __init__(self, free: int) -> None:
        self.n = free
        self._changed = asyncio.Event()

    def free(self) -> int:
        return self.n

    async def wait_free(self) -> None:
        self._changed.clear()
        await self._changed.wait()

    def set(self, n: int) -> None:
        self.n = n
        self._changed.set()


def options(url: str, **overrides: Any) -> FleetOptions:
    return FleetOptions(backend="redis", url=url, **{**FAST, **overrides})


def job(cid: str, **kw: Any) -> Job:
    return Job(conversation_id=cid, conversation_url=f"https://tavus.daily.co/{cid}", **kw)


@contextlib.asynccontextmanager
async def started(url: str, worker_id: str, **overrides: Any) -> AsyncIterator[RedisBackend]:
    backend = RedisBackend(options(url, **overrides), worker_id=worker_id)
    await backend.start()
    try:
        yield backend
    finally:
        await backend.close()


async def take(
    backend: RedisBackend, slots: Slots, n: int, within: float = 5.0
) -> list[tuple[Job, Ownership]]:
    """The next ``n`` jobs ``backend.jobs(slots)`` yields, taking a slot for each."""
    got: list[tuple[Job, Ownership]] = []
    gen = backend.jobs(slots)
    try:
        async with asyncio.timeout(within):
            async for item in gen:
                got.append(item)
                slots.n -= 1
                if len(got) == n:
                    break
    finally:
        await gen.aclose()
    return got
