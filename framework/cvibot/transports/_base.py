"""The transport interface: the only code that touches the network or a file of events.

A transport delivers inbound app-messages to a :class:`Receiver` (the session) and sends
outbound messages. The same session code serves every transport, so a recorded
conversation replays through exactly the code that serves a live room.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from cvibot._errors import CvibotError

if TYPE_CHECKING:
    from cvibot._participants import Participant, ParticipantChange

__all__ = ["InboundMessage", "InboundParticipant", "Receiver", "Transport", "TransportError"]


class TransportError(CvibotError):
    """The transport cannot carry on (file unreadable, room unreachable, ...)."""


class Receiver(Protocol):
    """What a transport delivers to. Implemented by :class:`cvibot._session.Session`."""

    def on_message(
        self, message: Any, sender: str | None = None, received_at: float | None = None
    ) -> None:
        """Take one inbound app-message; must be called on the event loop's thread.

        ``message`` is whatever the channel carried (an object, or a JSON string);
        ``sender`` the sending participant's id; ``received_at`` the arrival time in
        seconds (``time.time()``), ``None`` meaning now. Never blocks and never raises
        for bad input: malformed messages are logged and counted.
        """
        ...

    def on_participant(
        self,
        change: ParticipantChange,
        participant: Participant,
        reason: str | None = None,
        received_at: float | None = None,
    ) -> None:
        """A participant ``joined``, was ``updated`` or ``left`` the room (``reason`` as
        daily-python gives it for ``left``: ``"leftCall"`` or ``"hidden"``).

        Transports with participant identities (Daily, recordings made from it) report
        every change, including the participants already present when the bot joined,
        before any message those participants sent. Must be called on the loop thread.
        """
        ...

    async def settled(self) -> None:
        """Return once every tool call and task started by earlier messages has ended."""
        ...

    @property
    def closed(self) -> bool:
        """True once the conversation ended (``system.shutdown``): stop delivering."""
        ...


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """An app-message a transport holds for its receiver (``received_at``: unix s)."""

    message: Any
    sender: str | None
    received_at: float | None

    def deliver(self, receiver: Receiver) -> None:
        receiver.on_message(self.message, self.sender, self.received_at)


@dataclass(frozen=True, slots=True)
class InboundParticipant:
    """A participant change a transport holds for its receiver (``received_at``: unix s)."""

    change: ParticipantChange
    participant: Participant
    reason: str | None
    received_at: float | None

    def deliver(self, receiver: Receiver) -> None:
        receiver.on_participant(self.change, self.participant, self.reason, self.received_at)


class Transport(ABC):
    """One conversation's channel. Lifecycle: ``open`` → ``run`` → ``close``.

    ``send`` may be called from ``open`` on, until ``close`` returns.
    """

    name: str = "transport"
    identifies_senders: bool = False
    """True when every inbound message carries its sender's participant id and the
    transport reports the room's participants (a live Daily room). The session then
    drops a message without a sender under ``trust.senders: replica``, since a live
    message without one cannot be told apart from a forgery; on transports that do not
    identify senders (memory, replay) such a message is trusted."""

    async def open(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Connect or open files. Raises :class:`TransportError` on failure."""

    @abstractmethod
    async def run(self, receiver: Receiver) -> None:
        """Deliver inbound messages to ``receiver`` until the stream ends or ``close``."""

    @abstractmethod
    async def send(self, message: Mapping[str, Any], to: str | None = None) -> None:
        """Send one outbound app-message (already validated and size-checked).

        ``to`` is a participant id to address it to; ``None`` broadcasts it to the room.
        Raises :class:`TransportError` when the message could not be sent.
        """

    def send_nowait(
        self, message: Mapping[str, Any], to: str | None = None
    ) -> asyncio.Future[None]:
        """Start sending one app-message (as :meth:`send`) and return a future that
        settles with ``None`` once it is sent, or with the error :meth:`send` raises;
        errors found before anything is sent may also be raised at once. Call it on the
        event loop.

        The default runs :meth:`send` in a task. A transport whose sends complete by
        callback returns its own future instead (the Daily transport does), so a tool
        call keeps no task alive while its answer's delivery is confirmed.
        """
        return asyncio.ensure_future(self.send(message, to))

    async def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Stop delivering and release resources; idempotent."""

    def leaving(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """The bot is leaving this conversation (:meth:`cvibot._runtime.Bot.stop`): a
        transport that reconnects stops doing so, so the drain is not kept waiting for
        it. Called on the event loop; must not block. Idempotent."""

    def describe(self) -> str:
        """A short human description for the transcript header."""
        return self.name
