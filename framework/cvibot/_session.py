"""One conversation: the inbound filter, event hooks, the dispatcher and the outbound API.

Inbound path for each app-message (protocol reference §6, in this order):

0. trust: with ``senders: replica`` (the default) a message whose sender is not the
   replica's participant (:mod:`cvibot._participants`: one replica, sticky) is dropped
   and logged with reason ``untrusted_sender`` before anything else, so a forged tool
   call never runs a handler and is never answered. A message without a sender is
   dropped the same way on a transport that identifies senders (Daily), and trusted on
   one that does not (memory, a replay: :attr:`Transport.identifies_senders`);
1. parse (:func:`cvibot._protocol.parse_event`); a rejection is logged and counted, and
   a rejected tool call that carries a ``tool_call_id`` still gets an error answer;
2. drop events of another ``conversation_id`` and interaction types sent by other
   participants (rule 2);
3. drop duplicates: a tool call whose ``tool_call_id`` was seen before (by that id
   alone: a new call that reuses a ``seq`` is still answered); for other events and
   calls without an id, a ``seq`` seen before, then, for such calls, their name,
   arguments and ``inference_id``; and the legacy ``role: "replica"`` twin of a
   ``role: "pal"`` event (rules 5, D6). Keys are remembered for 10 minutes, at most
   100,000 of each kind (:class:`cvibot._dedupe.RecentKeys`);
4. flag late events: a ``seq`` lower than the highest seen (rule 4). Nothing is held
   back to reorder: ``seq`` is not documented as gap-free, so waiting for a gap would add
   latency to every call. Instead ``seq`` decides what an interruption cancels;
5. observers (plugins' ``cvibot_event``), then routing: tool calls to the dispatcher,
   replica interruptions to cancellation, final user utterances to the echo-mode
   responder, ``system.shutdown`` to the end of the session.

Every step is guarded: an exception anywhere in :meth:`Session.on_message` (a listener,
a step of the session, the dispatcher's intake) is logged (``message handling failed``
with the exception), counted in :attr:`SessionStats.failures`, and the tool call the
message carried, when it has a ``tool_call_id`` and no answer yet, gets its one error
answer (error kind ``exception``); the next message is handled as usual. The same holds
for :meth:`Session.on_participant` and for listeners told of sends and outcomes.

Lifecycle: :attr:`Session.ready` is set on ``system.replica_joined`` / ``pal_joined`` (or
``_present``) or when the replica's participant joins; :attr:`Session.ended` when the
conversation is over (``system.shutdown``, the replica left, the transport's stream
ended); :attr:`Session.stopping` when the bot leaves a conversation that goes on (a
signal): calls still arrive and are answered with a shutdown error while running calls
finish.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Executor
from typing import Any

import structlog

from cvibot._dedupe import RecentKeys, call_key, twin_key
from cvibot._dispatch import Dispatcher, DispatchPolicy, ErrorKind, OutcomeKind, ToolOutcome
from cvibot._dispatch.dispatcher import CallFence
from cvibot._dispatch.state import rejected_tool_name
from cvibot._listeners import DropReason, SessionStats
from cvibot._listening import SessionListener
from cvibot._participants import Participant, ParticipantChange, Roster, Standing, TrustPolicy
from cvibot._protocol.events import (
    Event,
    ForeignInteraction,
    PerceptionToolCall,
    ReplicaJoined,
    Shutdown,
    ToolCall,
    Utterance,
)
from cvibot._protocol.interactions import Echo, Interaction, encode_interaction
from cvibot._protocol.parse import Rejection, parse_event
from cvibot.tools import ToolSpec
from cvibot.transports._base import Transport

# DropReason, SessionStats and TrustPolicy are re-exported: they are part of what a
# session is, and plugins import them from here.
__all__ = ["DropReason", "Session", "SessionStats", "TrustPolicy"]


_TOOL_CALL_TYPES = frozenset({"conversation.tool_call", "conversation.perception_tool_call"})
# Duplicates arrive within seconds; the window bounds memory under a flood of unique ids.
_DEDUPE_CAPACITY = 100_000
_DEDUPE_MAX_AGE = 600.0  # seconds
_BUSY_LOG_EVERY = 1.0  # seconds between two "busy" warning lines of one conversation
# A trusted message not yet parsed: a failure reads its tool call from the raw message.
_RAW: Any = object()


Observer = Callable[..., Any]
Responder = Callable[[Utterance, "Session"], Awaitable[str | None]]


class Session:
    """One conversation on one transport; implements :class:`cvibot._context.Conversation`.

    Built by :class:`cvibot._runtime.Bot`; plugins receive it in their session hooks and
    can send interactions with :meth:`send`. ``call_fence`` is the dispatcher's call
    fence (:mod:`cvibot._dispatch.dispatcher`; ``cvibot serve``), ``None`` for none.
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
        trust: TrustPolicy | None = None,
        call_fence: CallFence | None = None,
    ) -> None:
        self.transport = transport
        self.stats = SessionStats()
        # Bound once: the module-level lazy proxy would rebuild a logger on every call.
        self._log: structlog.typing.FilteringBoundLogger = structlog.get_logger(
            "cvibot.session"
        ).bind()
        # A bound logger's level is fixed by its class: asked once, not per outcome.
        self._log_info = self._log.is_enabled_for(logging.INFO)
        self.ready = asyncio.Event()
        self.ended = asyncio.Event()
        self._ended = False  # ended.is_set(), read on every message without a call
        self.stopping = asyncio.Event()
        self.shutdown_reason: str | None = None
        self.trust = trust or TrustPolicy()
        self.roster = Roster(self.trust.replica)
        self._check_senders = self.trust.senders == "replica"
        self._address_replica = self.trust.answer_to == "replica"
        self._pipeline_mode = pipeline_mode
        self._conversation_id = conversation_id
        self._policy = policy
        self._event_observers = event_observers
        self._outcome_observers = outcome_observers
        self._responder = responder if pipeline_mode == "echo" else None
        self._listeners = listeners
        self._seen_seq = RecentKeys(_DEDUPE_CAPACITY, _DEDUPE_MAX_AGE)
        self._seen_calls = RecentKeys(_DEDUPE_CAPACITY, _DEDUPE_MAX_AGE)
        self._seen_twins = RecentKeys(_DEDUPE_CAPACITY, _DEDUPE_MAX_AGE)
        # The tool call the message being handled must answer if a step fails: _RAW, a
        # ToolCall once taken, None when there is nothing to answer (see on_message).
        self._claim: Any = None
        self._max_seq: int | None = None
        self._busy_logged_at = -_BUSY_LOG_EVERY
        self._busy_unlogged = 0
        self._background: set[asyncio.Task[Any]] = set()
        self.dispatcher = Dispatcher(
            tools=tools,
            policy=policy,
            executor=executor,
            conversation=self,
            transmit=self._transmit_nowait,
            on_sent=self._transmitted,
            on_outcome=self._on_outcome,
            settings_for=settings_for,
            call_fence=call_fence,
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
        return self._ended

    def end(self, reason: str) -> None:
        """The conversation is over (``reason`` is logged and kept as ``shutdown_reason``):
        stop taking events; the runtime then drains running calls and closes the transport.
        Idempotent: the first reason wins."""
        if self._ended:
            return
        self.shutdown_reason = reason
        self._log.info("conversation ended", conversation_id=self._conversation_id, reason=reason)
        self._ended = True
        self.ended.set()

    def stop(self, reason: str) -> None:
        """The bot leaves a conversation that goes on (a signal): from now on every tool
        call is answered with a shutdown error; running calls may finish (the runtime's
        grace period), and the transport is told (:meth:`Transport.leaving`). Idempotent."""
        if self.stopping.is_set() or self._ended:
            return
        self.shutdown_reason = reason
        self._log.info("leaving conversation", conversation_id=self._conversation_id, reason=reason)
        self.dispatcher.stop_accepting()
        self.transport.leaving()  # a Daily transport stops rejoining: nothing to wait for
        self.stopping.set()

    async def send(self, interaction: Interaction) -> None:
        """Send one interaction now (protocol reference §3).

        Raises :class:`cvibot._protocol.MessageTooLarge` over the app-message limit
        (``dispatch.message_limit``, bytes) and ``ValueError`` for an interaction that
        cannot be sent (a ``ToolResult`` without ``tool_call_id``).
        """
        await self._transmit(
            encode_interaction(interaction, self._conversation_id or "", self._policy.message_limit)
        )

    # -- inbound ---------------------------------------------------------------------------

    def on_message(
        self, message: Any, sender: str | None = None, received_at: float | None = None
    ) -> None:
        """Take one inbound app-message (:meth:`Receiver.on_message`); never raises.

        A failure of any step is logged and counted, and the tool call the message
        carried gets its one error answer (see the module docstring).
        """
        arrived = time.perf_counter()
        # What a failure would have to answer (see _take); saved for a nested call.
        outer, self._claim = self._claim, None
        try:
            self._take(message, sender, arrived)
        except Exception as exc:
            self._message_failed(message, exc, arrived)
        finally:
            self._claim = outer

    def _take(self, message: Any, sender: str | None, arrived: float) -> None:
        if self._check_senders and not (
            self.roster.is_replica(sender)
            if sender is not None
            else not self.transport.identifies_senders
        ):
            self._untrusted(message, sender)
            return
        # Trusted: a tool call in it is ours to answer, even if a step below fails.
        self._claim = _RAW
        parsed = parse_event(message)
        if isinstance(parsed, Rejection):
            self._rejected(parsed, arrived)
            return
        self._claim = None
        event = parsed
        if self._ended:
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
        if isinstance(event, ToolCall):
            if event.tool_call_id is not None:
                # By its id alone: a new call may reuse a seq seen before (rule 5).
                if not self._seen_calls.add(event.tool_call_id):
                    self._drop(event, DropReason.DUPLICATE)
                    return
                self._claim = event
                if seq is not None:
                    self._seen_seq.add(seq)
            elif (seq is not None and not self._seen_seq.add(seq)) or not self._seen_calls.add(
                call_key(event)
            ):
                self._drop(event, DropReason.DUPLICATE)
                return
        else:
            if seq is not None and not self._seen_seq.add(seq):
                self._drop(event, DropReason.DUPLICATE)
                return
            twin = twin_key(event)  # tool calls have no role twins
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
        if not isinstance(event, ToolCall):
            self._route(event, arrived)
            return
        dispatcher = self.dispatcher
        accepted = dispatcher.accepted
        try:
            dispatcher.dispatch(event, arrived)
        except Exception:
            if dispatcher.accepted > accepted:
                self._claim = None  # it took the call before failing: it answers it
            raise
        self._claim = None

    def _route(self, event: Event, arrived: float) -> None:
        """Act on an event other than a tool call (those go to the dispatcher)."""
        if event.is_replica_interruption:
            self.dispatcher.interrupt(event.seq)
        elif isinstance(event, Utterance):
            if event.role == "user" and self._responder is not None:
                self._spawn(self._respond(event))
        elif isinstance(event, ReplicaJoined):
            self._ready(event.event_type)
        elif isinstance(event, Shutdown):
            self.end(event.shutdown_reason or "system.shutdown")

    def _message_failed(self, message: Any, exc: Exception, arrived: float) -> None:
        """A step of :meth:`on_message` raised: log and count it, and give the tool call
        it carried, if it has a ``tool_call_id`` and no answer yet, its one error answer."""
        self.stats.failures["message"] += 1
        claim, self._claim = self._claim, None
        try:
            call = claim if isinstance(claim, ToolCall) else None
            if claim is _RAW:
                call = self._salvage_call(message)
            self._log.error(
                "message handling failed",
                reason=f"{type(exc).__name__}: {exc}",
                conversation_id=self._conversation_id,
                tool_call_id=call.tool_call_id if call is not None else None,
                exc_info=exc,
            )
            if call is not None:
                self.dispatcher.answer_rejected(
                    call,
                    arrived,
                    error=ErrorKind.EXCEPTION,
                    message=f"{call.name} failed with an internal error",
                )
        except Exception:
            self._log.exception(
                "message failure could not be handled", conversation_id=self._conversation_id
            )

    def _salvage_call(self, message: Any) -> ToolCall | None:
        """The tool call (with a ``tool_call_id``) of a trusted message that failed before
        it was parsed and deduplicated, read as far as possible; ``None`` when there is
        none, it belongs to another conversation, or it was taken already."""
        raw = message
        if isinstance(raw, str | bytes | bytearray):
            try:
                raw = json.loads(raw)
            except Exception:
                return None
        if not isinstance(raw, Mapping) or self._ended:
            return None
        event_type = raw.get("event_type")
        props = raw.get("properties")
        props = props if isinstance(props, Mapping) else {}
        tcid = props.get("tool_call_id") or raw.get("tool_call_id")
        cid = raw.get("conversation_id")
        cid = cid if isinstance(cid, str) and cid else None
        if (
            event_type not in _TOOL_CALL_TYPES
            or not isinstance(tcid, str)
            or not tcid
            or (cid is not None and self._conversation_id not in (None, cid))
            or not self._seen_calls.add(tcid)
        ):
            return None
        seq = raw.get("seq")
        inference_id = raw.get("inference_id")
        kind = PerceptionToolCall if event_type == "conversation.perception_tool_call" else ToolCall
        return kind(
            event_type=event_type,
            conversation_id=cid,
            seq=seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
            inference_id=inference_id if isinstance(inference_id, str) else None,
            name=rejected_tool_name(raw),
            arguments={},
            tool_call_id=tcid,
        )

    def on_participant(
        self,
        change: ParticipantChange,
        participant: Participant,
        reason: str | None = None,
        received_at: float | None = None,
    ) -> None:
        """Apply one participant change (:meth:`Receiver.on_participant`); never raises.

        Impostor replicas and a demoted replica are logged at warning
        (:mod:`cvibot._participants`); the replica leaving ends the conversation.
        """
        try:
            self._participant(change, participant, reason)
        except Exception as exc:
            self.stats.failures["participant"] += 1
            self._log.error(
                "participant handling failed",
                reason=f"{type(exc).__name__}: {exc}",
                change=change,
                conversation_id=self._conversation_id,
                exc_info=exc,
            )

    def _participant(
        self, change: ParticipantChange, participant: Participant, reason: str | None
    ) -> None:
        if participant.local:
            return
        was_replica = self.roster.is_replica(participant.id)
        standing = self.roster.update(change, participant)
        is_replica = self.roster.is_replica(participant.id)
        replica = was_replica or is_replica
        if change != "updated" or is_replica != was_replica:
            self._log.info(
                f"participant {change}",
                conversation_id=self._conversation_id,
                participant=participant.describe(),
                replica=replica,
                reason=reason,
            )
        if standing is Standing.IMPOSTOR or standing is Standing.DEMOTED:
            self._refused(participant, standing)
        try:
            for listener in self._listeners:
                listener.on_participant(change, participant, replica=replica)
        except Exception as exc:
            # Before the session's own steps: a listener must not keep it from getting
            # ready or ending.
            self._listener_failed("participant", exc)
        if self._ended:
            return
        if is_replica:
            self._ready("replica participant joined")
        elif standing is Standing.LEFT:
            self.end("replica_left")

    def _refused(self, participant: Participant, standing: Standing) -> None:
        known = self.roster.get(participant.id) or participant
        replica = self.roster.replica
        if standing is Standing.DEMOTED:
            self._log.warning(
                "replica no longer matches the replica rule: not trusted any more",
                conversation_id=self._conversation_id,
                participant=known.describe(),
            )
            return
        self._log.warning(
            "impostor replica refused: not trusted",
            conversation_id=self._conversation_id,
            participant=known.describe(),
            why=(
                "another participant is the replica"
                if replica is not None
                else "it came to match the replica rule after it joined"
            ),
            replica=replica.describe() if replica is not None else None,
        )

    def _ready(self, source: str) -> None:
        if not self.ready.is_set():
            self._log.info("conversation ready", conversation_id=self._conversation_id, by=source)
            self.ready.set()

    def _untrusted(self, message: Any, sender: str | None) -> None:
        self.stats.drops[DropReason.UNTRUSTED_SENDER.value] += 1
        parsed = parse_event(message)
        known = self.roster.get(sender) if sender is not None else None
        described = (
            known.describe()
            if known is not None
            else sender
            if sender is not None
            else "<no sender>"
        )
        self._log.warning(
            "message from untrusted sender dropped",
            reason=DropReason.UNTRUSTED_SENDER.value,
            sender=described,
            known_participant=known is not None,
            event_type=parsed.event_type,
            conversation_id=self._conversation_id,
            seq=parsed.seq,
        )
        for listener in self._listeners:
            listener.on_untrusted(message, described)

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
            and not self._ended
            and (
                rejection.conversation_id is None
                or self._conversation_id is None
                or rejection.conversation_id == self._conversation_id
            )
            and self._seen_calls.add(rejection.tool_call_id)
        ):
            self._claim = None  # answered below, whatever happens next
            self.dispatcher.answer_rejected(rejection, arrived)

    def _drop(self, event: Event, reason: DropReason) -> None:
        self._claim = None  # a dropped call is not answered, whatever happens next
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
        await self.transport.send(
            message, to=self.roster.replica_id if self._address_replica else None
        )
        self._transmitted(message)

    def _transmit_nowait(self, message: Mapping[str, Any]) -> asyncio.Future[None]:
        """Start sending ``message``; the future settles when the transport has sent it
        (the dispatcher then calls :meth:`_transmitted`)."""
        return self.transport.send_nowait(
            message, to=self.roster.replica_id if self._address_replica else None
        )

    def _transmitted(self, message: Mapping[str, Any]) -> None:
        """Count and tell the listeners of one message sent."""
        self.stats.sent[str(message.get("event_type"))] += 1
        try:
            for listener in self._listeners:
                listener.on_sent(message)
        except Exception as exc:
            # Sent already: a listener's failure must not read as a failed send.
            self._listener_failed("sent", exc)

    def _on_outcome(self, outcome: ToolOutcome) -> None:
        self.stats.outcomes[outcome.kind._value_] += 1  # not .value: a descriptor call
        try:
            if outcome.kind is OutcomeKind.ERROR:
                if outcome.error is not ErrorKind.BUSY or self._busy_log_due():
                    fields = outcome.log_fields()
                    if outcome.error is ErrorKind.BUSY and self._busy_unlogged:
                        fields["busy_not_logged"] = self._busy_unlogged
                        self._busy_unlogged = 0
                    self._log.warning("tool call failed", **fields, message=outcome.text)
            elif outcome.kind is OutcomeKind.FENCED:
                self._log.warning(
                    "tool call fenced: not this host's to answer", **outcome.log_fields()
                )
            elif self._log_info:  # skip the fields when filtered
                self._log.info("tool call answered", **outcome.log_fields())
            for listener in self._listeners:
                listener.on_outcome(outcome)
        except Exception as exc:
            self._listener_failed("outcome", exc)
        for observer in self._outcome_observers:
            self._observe(observer, outcome=outcome, session=self)

    def _busy_log_due(self) -> bool:
        """At most one "busy" line a second per conversation: a flood of refused calls is
        exactly when a line per call would drown the log. The others are counted and the
        next line says how many (``busy_not_logged``); each is still an outcome."""
        now = time.monotonic()
        if now - self._busy_logged_at >= _BUSY_LOG_EVERY:
            self._busy_logged_at = now
            return True
        self._busy_unlogged += 1
        return False

    def _listener_failed(self, what: str, exc: Exception) -> None:
        self.stats.failures[what] += 1
        self._log.error(
            f"{what} handling failed",
            reason=f"{type(exc).__name__}: {exc}",
            conversation_id=self._conversation_id,
            exc_info=exc,
        )

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
                return
            for listener in self._listeners:
                listener.on_responded(utterance, text)

    # -- tasks -----------------------------------------------------------------------------

    def _observe(self, observer: Observer, **kwargs: Any) -> None:
        try:
            result = observer(**kwargs)
        except Exception:
            self._log.exception("plugin observer raised", **_whose(observer))
            return
        if inspect.isawaitable(result):
            self._spawn(self._await_observer(result, observer))

    async def _await_observer(self, awaitable: Awaitable[Any], observer: Observer) -> None:
        try:
            await awaitable
        except Exception:
            self._log.exception("plugin observer raised", **_whose(observer))

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


def _whose(observer: Observer) -> dict[str, Any]:
    """The plugin and function of an observer, for its failure's log line."""
    function = getattr(observer, "function", observer)
    return {
        "plugin": getattr(observer, "plugin_name", None),
        "observer": getattr(function, "__qualname__", repr(function)),
    }
