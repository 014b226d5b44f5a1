"""Inbound delivery: app-messages and participant changes, in order, to the receiver.

Events that arrive before :meth:`Inbox.run` are kept and delivered first. Participants
are tracked from the join data and the participant events (never ``participants()``,
§0.2), so one that the join data and an event both report, or that a rejoin's join data
names again, reaches the receiver once. Everything here runs on the loop thread.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping
from typing import Any

import structlog

from cvibot._participants import Participant, ParticipantChange
from cvibot.transports._base import InboundMessage, InboundParticipant, Receiver

__all__ = ["Inbox"]


class Inbox:
    """What the room sends the bot, on its way to one :class:`Receiver`.

    ``received_at`` is ``time.time()`` in s when the SDK handed the event over.
    :meth:`end` stops live delivery (what came before :meth:`run` is still delivered);
    :meth:`close` stops all delivery.
    """

    def __init__(self, log: structlog.typing.FilteringBoundLogger) -> None:
        self._log = log
        self._buffer: deque[InboundMessage | InboundParticipant] | None = deque()  # None once run
        self._receiver: Receiver | None = None
        self._finished = asyncio.Event()
        self._closed = False
        self._local_id: str | None = None
        self._present: dict[str, Participant] = {}

    @property
    def started(self) -> bool:
        """True once :meth:`run` was called."""
        return self._buffer is None

    @property
    def present(self) -> int:
        """How many remote participants are in the room, as far as the events tell."""
        return len(self._present)

    def joined(self, participants: Any, received_at: float) -> None:
        """Take the ``participants`` of a join's data (``{"local": ..., id: ...}``): the
        local one is the bot; every other is reported as ``joined`` unless known already."""
        if not isinstance(participants, Mapping):
            return
        for key, value in participants.items():
            participant = Participant.from_daily(value)
            if participant is None:
                continue
            if key == "local" or participant.local:
                self._local_id = participant.id
                continue
            self.participant("joined", participant, None, received_at)

    def message(self, message: Any, sender: Any, received_at: float) -> None:
        """Take one app-message from the participant ``sender`` (an id; anything but a
        string reads as no sender): the SDK's arguments, straight from the bridge."""
        if type(sender) is not str:
            sender = sender if isinstance(sender, str) else None
        receiver = self._receiver
        if receiver is None or self._buffer is not None or self._closed:
            self._inbound(InboundMessage(message, sender, received_at))
            return
        # Live delivery, the usual case: straight to the receiver, nothing to hold.
        if self._finished.is_set():
            return
        try:
            receiver.on_message(message, sender, received_at)
        except Exception:
            self._log.exception("the receiver raised on an inbound event")
        if receiver.closed:
            self._finished.set()

    def participant(
        self, change: ParticipantChange, participant: Participant, reason: str | None, at: float
    ) -> None:
        """Take one participant change; the bot's own and repeated ``joined`` are dropped."""
        if participant.local or participant.id == self._local_id:
            return
        if change == "left":
            self._present.pop(participant.id, None)
        elif change == "joined" and self._present.get(participant.id) == participant:
            return  # reported already (join data, then the event; or again after a rejoin)
        else:
            self._present[participant.id] = participant
        self._inbound(InboundParticipant(change, participant, reason, at))

    def end(self) -> None:
        """Deliver nothing more as it arrives; :meth:`run` returns."""
        self._finished.set()

    def close(self) -> None:
        """Deliver nothing more at all; :meth:`run` returns."""
        self._closed = True
        self._finished.set()

    async def run(self, receiver: Receiver) -> None:
        """Deliver to ``receiver``, what was kept first, until :meth:`end`, :meth:`close`,
        the receiver closing, or cancellation. Call once."""
        self._receiver = receiver
        buffered, self._buffer = self._buffer or deque(), None
        try:
            while buffered and not self._closed and not receiver.closed:
                self._deliver(receiver, buffered.popleft())
            await self._finished.wait()
        finally:
            self._receiver = None
            self._finished.set()  # deliver nothing more, even if run() was cancelled

    def _inbound(self, item: InboundMessage | InboundParticipant) -> None:
        if self._closed:
            return
        if self._buffer is not None:
            self._buffer.append(item)  # run() has not started: keep it, in order
        elif self._receiver is not None and not self._finished.is_set():
            self._deliver(self._receiver, item)

    def _deliver(self, receiver: Receiver, item: InboundMessage | InboundParticipant) -> None:
        try:
            item.deliver(receiver)
        except Exception:
            self._log.exception("the receiver raised on an inbound event")
        if receiver.closed:
            self._finished.set()
