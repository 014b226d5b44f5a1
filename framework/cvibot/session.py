"""One conversation: the inbound filter, event hooks, the dispatcher and the outbound API.

Inbound path for each app-message (protocol reference §6, in this order):

1. parse (:func:`cvibot.protocol.parse_event`); a rejection is logged and counted, and
   a rejected tool call that carries a ``tool_call_id`` still gets an error answer;
2. drop events of another ``conversation_id`` and interaction types sent by other
   participants (rule 2);
3. drop duplicates: a ``seq`` seen before, a tool call whose ``tool_call_id`` (or, for
   calls without one, whose name, arguments and ``inference_id``) was seen before, and
   the legacy ``role: "replica"`` twin of a ``role: "pal"`` event (rules 5, D6);
4. flag late events: a ``seq`` lower than the highest seen (rule 4). Nothing is held
   back to reorder: ``seq`` is not documented as gap-free, so waiting for a gap would add
   latency to every call. Instead ``seq`` decides what an interruption cancels;
5. observers (plugins' ``cvibot_event``), then routing: tool calls to the dispatcher,
   replica interruptions to cancellation, final user utterances to the echo-mode
   responder, ``system.shutdown`` to the end of the session.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Hashable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import structlog

from cvibot.dispatch import Dispatcher, DispatchPolicy, OutcomeKind, ToolOutcome
from cvibot.protocol.events import (
    Event,
    ForeignInteraction,
    ReplicaJoined,
    Shutdown,
    SpeakingStarted,
    SpeakingStopped,
    ToolCall,
    Utterance,
    UtteranceStreaming,
)
from cvibot.protocol.interactions import Echo, Interaction, check_size
from cvibot.protocol.parse import Rejection, parse_event
from cvibot.tools import ToolSpec
from cvibot.transports.base import Transport

__all__ = ["DropReason", "Session", "SessionListener", "SessionStats"]


_TOOL_CALL_TYPES = frozenset({"conversation.tool_call", "conversation.perception_tool_call"})
_DEDUPE_CAPACITY = 65_536


class DropReason(StrEnum):
    OTHER_CONVERSATION = "other_conversation"
    FOREIGN_INTERACTION = "foreign_interaction"
    DUPLICATE = "duplicate"
    ROLE_TWIN = "role_twin"
    AFTER_SHUTDOWN = "after_shutdown"


@dataclass
class SessionStats:
    """Counters for the end-of-run summary (all keyed by their machine-readable names)."""

    events: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    rejections: Counter[str] = field(default_factory=Counter)
    drops: Counter[str] = field(default_factory=Counter)
    sent: Counter[str] = field(default_factory=Counter)
    late: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": dict(self.events),
            "tool_calls": dict(self.outcomes),
            "rejected": dict(self.rejections),
            "dropped": dict(self.drops),
            "sent": dict(self.sent),
            "late": self.late,
        }


class SessionListener:
    """In-process observer of a session (the transcript and tests use it); no-op methods."""

    def on_event(self, event: Event, *, late: bool) -> None:
        """An accepted event, before it is routed."""

    def on_rejection(self, rejection: Rejection) -> None:
        """A message the parser rejected."""

    def on_drop(self, event: Event, reason: DropReason) -> None:
        """An event that was parsed but not acted on."""

    def on_outcome(self, outcome: ToolOutcome) -> None:
        """A tool call's terminal outcome, after its answer was sent."""

    def on_sent(self, message: Mapping[str, Any]) -> None:
        """Any app-message the bot sent."""


class _RecentKeys:
    """A set that remembers the last ``capacity`` keys (duplicates come close together)."""

    __slots__ = ("_capacity", "_order", "_set")

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._set: set[Hashable] = set()
        self._order: deque[Hashable] = deque()

    def add(self, key: Hashable) -> bool:
        """Add ``key``; False if it was already there."""
        if key in self._set:
            return False
        self._set.add(key)
        self._order.append(key)
        if len(self._order) > self._capacity:
            self._set.discard(self._order.popleft())
        return True


Observer = Callable[..., Any]
Responder = Callable[[Utterance, "Session"], Awaitable[str | None]]


class Session:
    """One conversation on one transport; implements :class:`cvibot.context.Conversation`.

    Built by :class:`cvibot.runtime.Bot`; plugins receive it in their session hooks and
    can send interactions with :meth:`send`.
    """

    def __init__(
        self,
        *,
        transport: Transport,
        tools: Mapping[str, ToolSpec],
        policy: DispatchPolicy,
        executor: Executor,
        pipeline_mode: str = "full",
        conversation_id: str | None = None,
        settings_for: Callable[[str | None], Mapping[str, Any]] = lambda _: {},
        event_observers: tuple[Observer, ...] = (),
        outcome_observers: tuple[Observer, ...] = (),
        responder: Responder | None = None,
        listeners: tuple[SessionListener, ...] = (),
    ) -> None:
        self.transport = transport
        self.stats = SessionStats()
        # Bound once: the module-level lazy proxy would rebuild a logger on every call.
        self._log: structlog.typing.FilteringBoundLogger = structlog.get_logger(
            "cvibot.session"
        ).bind()
        self.ready = asyncio.Event()
        self.ended = asyncio.Event()
        self.shutdown_reason: str | None = None
        self._pipeline_mode = pipeline_mode
        self._conversation_id = conversation_id
        self._policy = policy
        self._event_observers = event_observers
        self._outcome_observers = outcome_observers
        self._responder = responder if pipeline_mode == "echo" else None
        self._listeners = listeners
        self._seen_seq = _RecentKeys(_DEDUPE_CAPACITY)
        self._seen_calls = _RecentKeys(_DEDUPE_CAPACITY)
        self._seen_twins = _RecentKeys(_DEDUPE_CAPACITY)
        self._max_seq: int | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self.dispatcher = Dispatcher(
            tools=tools,
            policy=policy,
            executor=executor,
            conversation=self,
            transmit=self._transmit,
            on_outcome=self._on_outcome,
            settings_for=settings_for,
        )

    # -- Conversation protocol -----------------------------------------------------------

    @property
    def conversation_id(self) -> str | None:
        return self._conversation_id

    @property
    def pipeline_mode(self) -> str:
        return self._pipeline_mode

    @property
    def closed(self) -> bool:
        return self.ended.is_set()

    async def send(self, interaction: Interaction) -> None:
        """Send one interaction now (protocol reference §3).

        Raises :class:`cvibot.protocol.MessageTooLarge` over the app-message limit
        (``dispatch.message_limit``, bytes) and ``ValueError`` for an interaction that
        cannot be sent (a ``ToolResult`` without ``tool_call_id``).
        """
        message = interaction.to_message(self._conversation_id or "")
        check_size(message, self._policy.message_limit)
        await self._transmit(message)

    # -- inbound ---------------------------------------------------------------------------

    def on_message(
        self, message: Any, sender: str | None = None, received_at: float | None = None
    ) -> None:
        arrived = time.perf_counter()
        parsed = parse_event(message)
        if isinstance(parsed, Rejection):
            self._rejected(parsed, arrived)
            return
        event = parsed
        if self.ended.is_set():
            self._drop(event, DropReason.AFTER_SHUTDOWN)
            return
        cid = event.conversation_id
        if cid is not None:
            if self._conversation_id is None:
                self._conversation_id = cid
            elif cid != self._conversation_id:
                self._drop(event, DropReason.OTHER_CONVERSATION)
                return
        if isinstance(event, ForeignInteraction):
            self._drop(event, DropReason.FOREIGN_INTERACTION)
            return
        seq = event.seq
        if seq is not None and not self._seen_seq.add(seq):
            self._drop(event, DropReason.DUPLICATE)
            return
        if isinstance(event, ToolCall) and not self._seen_calls.add(self._call_key(event)):
            self._drop(event, DropReason.DUPLICATE)
            return
        twin = self._twin_key(event)
        if twin is not None and not self._seen_twins.add(twin):
            self._drop(event, DropReason.ROLE_TWIN)
            return
        late = False
        if seq is not None:
            if self._max_seq is not None and seq < self._max_seq:
                late = True
                self.stats.late += 1
            else:
                self._max_seq = seq
        self.stats.events[event.event_type] += 1
        for listener in self._listeners:
            listener.on_event(event, late=late)
        for observer in self._event_observers:
            self._observe(observer, event=event, session=self)
        self._route(event, arrived)

    def _route(self, event: Event, arrived: float) -> None:
        if isinstance(event, ToolCall):
            self.dispatcher.dispatch(event, arrived)
        elif event.is_replica_interruption:
            self.dispatcher.interrupt(event.seq)
        elif isinstance(event, Utterance):
            if event.role == "user" and self._responder is not None:
                self._spawn(self._respond(event))
        elif isinstance(event, ReplicaJoined):
            self.ready.set()
        elif isinstance(event, Shutdown):
            self.shutdown_reason = event.shutdown_reason
            self._log.info(
                "conversation shut down",
                conversation_id=self._conversation_id,
                shutdown_reason=event.shutdown_reason,
            )
            self.ended.set()

    @staticmethod
    def _call_key(call: ToolCall) -> Hashable:
        if call.tool_call_id is not None:
            return ("id", call.tool_call_id)
        if call.seq is not None:
            return ("seq", call.seq)
        return ("hash", call.name, repr(call.raw_arguments), call.inference_id)

    @staticmethod
    def _twin_key(event: Event) -> Hashable | None:
        # Docs-PAL sends each replica-side event twice: role "pal" and a legacy "replica"
        # duplicate, otherwise identical (protocol reference §4.2, D6).
        if not isinstance(
            event, Utterance | UtteranceStreaming | SpeakingStarted | SpeakingStopped
        ):
            return None
        if event.original_role not in ("pal", "replica") or event.inference_id is None:
            return None
        index = event.content_index if isinstance(event, UtteranceStreaming) else None
        final = event.final if isinstance(event, UtteranceStreaming) else None
        return (event.event_type, event.inference_id, index, final)

    def _rejected(self, rejection: Rejection, arrived: float) -> None:
        self.stats.rejections[rejection.reason.value] += 1
        self._log.warning(
            "event rejected",
            reason=rejection.reason.value,
            detail=rejection.detail,
            event_type=rejection.event_type,
            conversation_id=rejection.conversation_id or self._conversation_id,
            tool_call_id=rejection.tool_call_id,
            seq=rejection.seq,
        )
        for listener in self._listeners:
            listener.on_rejection(rejection)
        if (
            rejection.tool_call_id is not None
            and rejection.event_type in _TOOL_CALL_TYPES
            and not self.ended.is_set()
            and (
                rejection.conversation_id is None
                or self._conversation_id is None
                or rejection.conversation_id == self._conversation_id
            )
            and self._seen_calls.add(("id", rejection.tool_call_id))
        ):
            self.dispatcher.answer_rejected(rejection, arrived)

    def _drop(self, event: Event, reason: DropReason) -> None:
        self.stats.drops[reason.value] += 1
        self._log.debug(
            "event dropped",
            reason=reason.value,
            event_type=event.event_type,
            conversation_id=event.conversation_id,
            seq=event.seq,
        )
        for listener in self._listeners:
            listener.on_drop(event, reason)

    # -- outbound --------------------------------------------------------------------------

    async def _transmit(self, message: Mapping[str, Any]) -> None:
        await self.transport.send(message)
        self.stats.sent[str(message.get("event_type"))] += 1
        for listener in self._listeners:
            listener.on_sent(message)

    def _on_outcome(self, outcome: ToolOutcome) -> None:
        self.stats.outcomes[outcome.kind.value] += 1
        if outcome.kind is OutcomeKind.ERROR:
            self._log.warning("tool call failed", **outcome.log_fields(), message=outcome.text)
        elif self._log.is_enabled_for(logging.INFO):  # skip building the fields when filtered
            self._log.info("tool call answered", **outcome.log_fields())
        for listener in self._listeners:
            listener.on_outcome(outcome)
        for observer in self._outcome_observers:
            self._observe(observer, outcome=outcome, session=self)

    async def _respond(self, utterance: Utterance) -> None:
        assert self._responder is not None
        try:
            text = await self._responder(utterance, self)
        except Exception:
            self._log.exception("utterance responder raised", conversation_id=self._conversation_id)
            return
        if text:
            try:
                await self.send(Echo(text=text))
            except Exception:
                # A background task: nobody awaits it, so an error must be logged here
                # (an over-limit reply, a failing transport) rather than lost.
                self._log.exception(
                    "utterance reply could not be sent", conversation_id=self._conversation_id
                )

    # -- tasks -----------------------------------------------------------------------------

    def _observe(self, observer: Observer, **kwargs: Any) -> None:
        try:
            result = observer(**kwargs)
        except Exception:
            self._log.exception(
                "plugin observer raised", observer=getattr(observer, "__qualname__", observer)
            )
            return
        if inspect.isawaitable(result):
            self._spawn(self._await_observer(result))

    async def _await_observer(self, awaitable: Awaitable[Any]) -> None:
        try:
            await awaitable
        except Exception:
            self._log.exception("plugin observer raised")

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def settled(self) -> None:
        """Return once every call and background task started so far has ended."""
        while self.dispatcher.in_flight or self._background:
            await self.dispatcher.settled()
            if self._background:
                await asyncio.wait(set(self._background))

    async def drain(self, grace: float) -> None:
        """Take no new calls; let running ones finish within ``grace`` seconds, then cancel."""
        await self.dispatcher.drain(grace)
        if self._background:
            await asyncio.wait(set(self._background), timeout=max(0.0, grace))
            for task in list(self._background):
                task.cancel()
