"""An in-memory transport for tests, benchmarks and embedding."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from cvibot._participants import Participant, ParticipantChange
from cvibot.transports._base import InboundMessage, InboundParticipant, Receiver, Transport

__all__ = ["MemoryTransport"]


class MemoryTransport(Transport):
    """Messages pushed with :meth:`push` are delivered in order; sent ones are kept.

    ``sent`` holds every outbound message (the dict handed to :meth:`send`);
    ``on_send``, when given, is called with each one as it is sent (on the loop thread).
    Participant changes pushed with :meth:`push_participant` are delivered in the same
    queue, in order with the messages. :meth:`end` finishes :meth:`run` after the items
    already pushed.
    """

    name = "memory"
    identifies_senders = False  # tests push messages with or without a sender

    def __init__(self, on_send: Callable[[Mapping[str, Any]], None] | None = None) -> None:
        self.sent: list[Mapping[str, Any]] = []
        self.on_send = on_send
        self._queue: asyncio.Queue[InboundMessage | InboundParticipant | None] = asyncio.Queue()
        self._receiver: Receiver | None = None

    def push(self, message: Any, sender: str | None = None) -> None:
        """Queue one inbound message (from the loop thread)."""
        self._queue.put_nowait(InboundMessage(message, sender, time.time()))

    def push_participant(
        self,
        change: ParticipantChange,
        participant: Participant | Mapping[str, Any],
        reason: str | None = None,
    ) -> None:
        """Queue one participant change (from the loop thread).

        ``participant`` is a :class:`Participant` or a dict as daily-python (or
        daily-js) gives it (see :meth:`Participant.from_daily`). Raises ``ValueError``
        for a dict without a participant id.
        """
        if not isinstance(participant, Participant):
            parsed = Participant.from_daily(participant)
            if parsed is None:
                raise ValueError(f"not a participant (no id): {participant!r}")
            participant = parsed
        self._queue.put_nowait(InboundParticipant(change, participant, reason, time.time()))

    def end(self) -> None:
        """Let :meth:`run` return once the queued items are delivered."""
        self._queue.put_nowait(None)

    async def run(self, receiver: Receiver) -> None:
        self._receiver = receiver
        while True:
            item = await self._queue.get()
            if item is None or receiver.closed:
                return
            item.deliver(receiver)

    async def send(self, message: Mapping[str, Any], to: str | None = None) -> None:
        self.sent.append(message)
        if self.on_send is not None:
            self.on_send(message)

    async def close(self) -> None:
        self.end()
