"""An in-memory transport for tests, benchmarks and embedding."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from cvibot.transports.base import Receiver, Transport

__all__ = ["MemoryTransport"]


class MemoryTransport(Transport):
    """Messages pushed with :meth:`push` are delivered in order; sent ones are kept.

    ``sent`` holds every outbound message (the dict handed to :meth:`send`);
    ``on_send``, when given, is called with each one as it is sent (on the loop thread).
    :meth:`end` finishes :meth:`run` after the messages already pushed.
    """

    name = "memory"

    def __init__(self, on_send: Callable[[Mapping[str, Any]], None] | None = None) -> None:
        self.sent: list[Mapping[str, Any]] = []
        self.on_send = on_send
        self._queue: asyncio.Queue[tuple[Any, str | None, float] | None] = asyncio.Queue()
        self._receiver: Receiver | None = None

    def push(self, message: Any, sender: str | None = None) -> None:
        """Queue one inbound message (from the loop thread)."""
        self._queue.put_nowait((message, sender, time.time()))

    def end(self) -> None:
        """Let :meth:`run` return once the queued messages are delivered."""
        self._queue.put_nowait(None)

    async def run(self, receiver: Receiver) -> None:
        self._receiver = receiver
        while True:
            item = await self._queue.get()
            if item is None or receiver.closed:
                return
            message, sender, at = item
            receiver.on_message(message, sender, at)

    async def send(self, message: Mapping[str, Any]) -> None:
        self.sent.append(message)
        if self.on_send is not None:
            self.on_send(message)

    async def close(self) -> None:
        self.end()
