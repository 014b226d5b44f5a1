"""What a fake conversation sees of its bot: deliveries, outcomes and outbound messages.

:class:`Watcher` is the conversation's :class:`~cvibot._listening.SessionListener` and
its transport's ``on_send``. The fake conversation gives each message it sends a
``seq`` of its own, so the session's report on that message (accepted, dropped or
rejected) and the outcome of the tool call it carries are matched by ``seq``, whatever
shape the call had and whether or not it had a ``tool_call_id``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cvibot._listeners import DropReason
from cvibot._listening import SessionListener

if TYPE_CHECKING:
    from cvibot._dispatch import ToolOutcome
    from cvibot._protocol.events import Event
    from cvibot._protocol.parse import Rejection

__all__ = ["Delivery", "MessageMatch", "Watcher"]

MessageMatch = Callable[[Mapping[str, Any]], bool]


@dataclass(frozen=True, slots=True)
class Delivery:
    """How the session took one message: ``event`` when accepted (or ``dropped`` with
    its reason), ``rejection`` when the parser refused it. ``sent_before`` is how many
    messages the bot had sent when it arrived."""

    sent_before: int
    event: Event | None = None
    dropped: DropReason | None = None
    rejection: Rejection | None = None

    def problem(self) -> str | None:
        """Why the message will not be acted on, or ``None`` when it was accepted."""
        if self.dropped is not None:
            return f"the bot dropped it ({self.dropped.value})"
        if self.rejection is not None:
            return f"the bot rejected it ({self.rejection.reason.value}: {self.rejection.detail})"
        return None


class Watcher(SessionListener):
    """Futures for the deliveries and outcomes expected by ``seq``, and the sent messages.

    Use on the event loop thread only. ``sent`` holds every outbound message in order.
    """

    def __init__(self) -> None:
        self.sent: list[Mapping[str, Any]] = []
        self._deliveries: dict[int, asyncio.Future[Delivery]] = {}
        self._outcomes: dict[int, asyncio.Future[ToolOutcome]] = {}
        self._answers: set[int] = set()
        self._claimed: set[int] = set()
        self._waiters: list[tuple[MessageMatch, asyncio.Future[Mapping[str, Any]]]] = []

    # -- expectations ----------------------------------------------------------------------

    def expect_delivery(self, seq: int) -> asyncio.Future[Delivery]:
        """A future set when the session reports on the message of ``seq``."""
        future: asyncio.Future[Delivery] = asyncio.get_running_loop().create_future()
        self._deliveries[seq] = future
        return future

    def expect_outcome(self, seq: int) -> asyncio.Future[ToolOutcome]:
        """A future set with the outcome of the tool call of ``seq``."""
        future: asyncio.Future[ToolOutcome] = asyncio.get_running_loop().create_future()
        self._outcomes[seq] = future
        return future

    def claim(self, match: MessageMatch) -> asyncio.Future[Mapping[str, Any]]:
        """A future set with the first sent message that ``match`` accepts and no earlier
        claim got, looking at the messages sent so far first. An exception of ``match``
        is set on the future."""
        future: asyncio.Future[Mapping[str, Any]] = asyncio.get_running_loop().create_future()
        for index, message in enumerate(self.sent):
            if index not in self._claimed and self._offer(match, future, index, message):
                return future
        self._waiters.append((match, future))
        return future

    def is_call_answer(self, message: Mapping[str, Any]) -> bool:
        """True if ``message`` is the answer of a tool call that has its outcome."""
        return id(message) in self._answers

    # -- the transport's on_send -------------------------------------------------------------

    def record_sent(self, message: Mapping[str, Any]) -> None:
        index = len(self.sent)
        self.sent.append(message)
        waiting = []
        for match, future in self._waiters:
            if future.done():
                continue
            if index in self._claimed or not self._offer(match, future, index, message):
                waiting.append((match, future))
        self._waiters = waiting

    def _offer(
        self,
        match: MessageMatch,
        future: asyncio.Future[Mapping[str, Any]],
        index: int,
        message: Mapping[str, Any],
    ) -> bool:
        try:
            matched = match(message)
        except Exception as exc:
            future.set_exception(exc)
            return True
        if matched:
            self._claimed.add(index)
            future.set_result(message)
        return bool(matched)

    # -- SessionListener ---------------------------------------------------------------------

    def on_event(self, event: Event, *, late: bool) -> None:
        self._delivered(event.seq, Delivery(len(self.sent), event=event))

    def on_drop(self, event: Event, reason: DropReason) -> None:
        self._delivered(event.seq, Delivery(len(self.sent), event=event, dropped=reason))

    def on_rejection(self, rejection: Rejection) -> None:
        self._delivered(rejection.seq, Delivery(len(self.sent), rejection=rejection))

    def on_outcome(self, outcome: ToolOutcome) -> None:
        if outcome.answer is not None:
            self._answers.add(id(outcome.answer))
        future = self._outcomes.pop(outcome.seq, None) if outcome.seq is not None else None
        if future is not None and not future.done():
            future.set_result(outcome)

    def _delivered(self, seq: int | None, delivery: Delivery) -> None:
        future = self._deliveries.pop(seq, None) if seq is not None else None
        if future is not None and not future.done():
            future.set_result(delivery)
