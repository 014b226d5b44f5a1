"""Doing something once per key, for a while: :class:`OnceCache`."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["OnceCache"]

T = TypeVar("T")


class OnceCache(Generic[T]):
    """The results of recent work by key, so that work asked for again (a redelivered
    tool call, a repeated callback) gets the first result without being done twice,
    even while the first is still running.

    :meth:`claim` returns the future of the key's result and whether the caller is the
    first (and so must do the work and set the result, or :meth:`forget` the key so a
    later ask tries again). Keys are forgotten ``ttl`` seconds after they were claimed,
    and the oldest go first beyond ``capacity``; ``clock`` gives monotonic seconds.
    Raises ``ValueError`` for a ``capacity`` below 1 or a ``ttl`` not above 0.
    """

    def __init__(
        self, capacity: int, ttl: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity!r}")
        if not ttl > 0:
            raise ValueError(f"ttl must be greater than 0, not {ttl!r}")
        self._capacity = capacity
        self._ttl = ttl
        self._clock = clock
        # One fixed ttl: insertion order is expiry order.
        self._entries: OrderedDict[Hashable, tuple[float, asyncio.Future[T]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def claim(self, key: Hashable) -> tuple[asyncio.Future[T], bool]:
        """``(future, first)`` for ``key`` (see the class docstring)."""
        now = self._clock()
        while self._entries:
            oldest, (expires, _) = next(iter(self._entries.items()))
            if expires > now:
                break
            del self._entries[oldest]
        entry = self._entries.get(key)
        if entry is not None:
            return entry[1], False
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._entries[key] = (now + self._ttl, future)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)
        return future, True

    def forget(self, key: Hashable) -> None:
        """Drop ``key``: its work could not be done, and a later ask should try again."""
        self._entries.pop(key, None)
