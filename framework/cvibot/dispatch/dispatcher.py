"""Runs each tool call to exactly one terminal outcome and sends its answer.

One call's life: look up the handler by name → validate the arguments against the tool's
schema → run it (async handlers as tasks, sync ones in a bounded thread pool) under the
per-conversation concurrency limit and the tool's timeout → map the return value, error,
timeout or cancellation to the reply interaction (:mod:`cvibot.dispatch.answer`) → send
it → report one :class:`ToolOutcome`. Nothing here blocks the event loop, so a slow
handler never delays other events.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Literal

import structlog

from cvibot.context import Conversation, ToolContext
from cvibot.dispatch.answer import answer_for, effective_reply, explicit_answer, render_answer
from cvibot.dispatch.limits import encode_answer
from cvibot.dispatch.outcome import ErrorKind, OutcomeKind, ToolOutcome
from cvibot.dispatch.state import CallState, rejected_tool_name
from cvibot.errors import ToolError
from cvibot.protocol.events import PerceptionToolCall, ToolCall
from cvibot.protocol.interactions import Interaction
from cvibot.protocol.parse import Rejection
from cvibot.tools import ArgumentsError, ToolSpec
from cvibot.tools.options import ReplyMode

__all__ = ["DispatchPolicy", "Dispatcher"]


@dataclass(frozen=True, slots=True)
class DispatchPolicy:
    """Defaults that apply where a tool sets nothing (timeouts in seconds, limit in bytes)."""

    default_reply: ReplyMode = ReplyMode.AUTO
    perception_reply: ReplyMode = ReplyMode.NONE
    default_timeout: float = 10.0
    cancel_on_interrupt: bool = False
    max_concurrent_calls: int = 16
    message_limit: int = 4096
    on_oversize: Literal["truncate", "error"] = "truncate"


class Dispatcher:
    """Dispatches the tool calls of one conversation.

    ``transmit`` hands one encoded-and-checked app-message to the transport;
    ``on_outcome`` receives each call's :class:`ToolOutcome` (exactly once per call);
    ``settings_for`` returns the config settings of the plugin that owns a tool.
    """

    def __init__(
        self,
        *,
        tools: Mapping[str, ToolSpec],
        policy: DispatchPolicy,
        executor: Executor,
        conversation: Conversation,
        transmit: Callable[[Mapping[str, Any]], Awaitable[None]],
        on_outcome: Callable[[ToolOutcome], None],
        settings_for: Callable[[str | None], Mapping[str, Any]],
    ) -> None:
        self._tools = tools
        self._policy = policy
        self._executor = executor
        self._conversation = conversation
        self._transmit = transmit
        self._on_outcome = on_outcome
        self._settings_for = settings_for
        self._semaphore = asyncio.Semaphore(policy.max_concurrent_calls)
        self._running: set[CallState] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._interrupt_seq: int | None = None
        self._accepting = True
        # Bound once: the module-level lazy proxy would rebuild a logger on every call.
        self._log: structlog.typing.FilteringBoundLogger = structlog.get_logger(
            "cvibot.dispatch"
        ).bind()

    # -- intake (called from the session on the loop thread, never blocks) --------------

    @property
    def in_flight(self) -> int:
        """Calls accepted and not yet answered."""
        return len(self._tasks)

    def dispatch(self, call: ToolCall, arrived: float) -> None:
        """Accept one parsed, deduplicated tool call; ``arrived`` is a ``perf_counter``."""
        loop = asyncio.get_running_loop()
        perception = isinstance(call, PerceptionToolCall)
        spec = self._tools.get(call.name)
        default = self._policy.perception_reply if perception else self._policy.default_reply
        if spec is None:
            self._log.warning(
                "unknown tool",
                tool=call.name,
                known=sorted(self._tools),
                conversation_id=self._conversation.conversation_id,
                tool_call_id=call.tool_call_id,
                seq=call.seq,
            )
            entry = CallState(call, None, default, arrived, 0.0, False)
            self._spawn(
                entry, self._fail(entry, ErrorKind.UNKNOWN_TOOL, f"unknown tool {call.name!r}")
            )
            return
        reply = spec.reply or default
        timeout = spec.timeout if spec.timeout is not None else self._policy.default_timeout
        cancellable = (
            spec.cancel_on_interrupt
            if spec.cancel_on_interrupt is not None
            else self._policy.cancel_on_interrupt
        )
        entry = CallState(call, spec, reply, arrived, loop.time() + timeout, cancellable)
        if not self._accepting:
            entry.cancel_reason = ErrorKind.SHUTDOWN
            self._spawn(entry, self._cancelled(entry))
            return
        if (
            cancellable
            and call.seq is not None
            and self._interrupt_seq is not None
            and call.seq < self._interrupt_seq
        ):
            # Emitted before an interruption we already saw: it would have been cancelled.
            entry.cancel_reason = ErrorKind.INTERRUPTED
            self._spawn(entry, self._cancelled(entry))
            return
        try:
            kwargs = spec.validate(call.arguments)
        except ArgumentsError as exc:
            message = f"invalid arguments for {spec.name}: {exc}"
            self._spawn(entry, self._fail(entry, ErrorKind.INVALID_ARGUMENTS, message))
            return
        if spec.context_param is not None:
            entry.ctx = ToolContext(
                call=call,
                tool=spec.name,
                conversation=self._conversation,
                log=self._log.bind(
                    tool=spec.name,
                    conversation_id=self._conversation.conversation_id,
                    tool_call_id=call.tool_call_id,
                    inference_id=call.inference_id,
                    seq=call.seq,
                ),
                settings=self._settings_for(spec.plugin),
                deadline=time.monotonic() + timeout,
            )
            kwargs[spec.context_param] = entry.ctx
        self._running.add(entry)
        self._spawn(entry, self._run(entry, spec, kwargs))

    def answer_rejected(
        self,
        rejection: Rejection | ToolCall,
        arrived: float,
        *,
        error: ErrorKind = ErrorKind.REJECTED,
        message: str | None = None,
    ) -> None:
        """Answer with an error a tool call that carried a ``tool_call_id`` but cannot run.

        ``rejection`` is what the parser rejected, or (``error=EXCEPTION``, from the
        session's guard) a call whose handling failed before it was dispatched; either
        way the replica acknowledges the failure instead of waiting for a result that
        never comes (protocol reference §6 rule 9). ``message`` is the error text
        (default: ``invalid tool call: <detail>``). A tool call is answered with
        ``tool_result``; a perception call as a valid one would be: in its tool's reply
        mode when its name is known, else ``defaults.perception_reply`` (``none``: the
        outcome is only logged).
        """
        if isinstance(rejection, ToolCall):
            call = rejection
        else:
            kind = (
                PerceptionToolCall
                if rejection.event_type == "conversation.perception_tool_call"
                else ToolCall
            )
            call = kind(
                event_type=rejection.event_type or "conversation.tool_call",
                conversation_id=rejection.conversation_id,
                seq=rejection.seq,
                inference_id=rejection.inference_id,
                name=rejected_tool_name(rejection.raw),
                arguments={},
                tool_call_id=rejection.tool_call_id,
            )
            message = message or f"invalid tool call: {rejection.detail}"
        reply = ReplyMode.TOOL_RESULT
        if isinstance(call, PerceptionToolCall):
            spec = self._tools.get(call.name)
            reply = (spec.reply if spec is not None else None) or self._policy.perception_reply
        entry = CallState(call, None, reply, arrived, 0.0, False)
        text = message or f"{call.name} failed with an internal error"
        self._spawn(entry, self._fail(entry, error, text))

    def interrupt(self, seq: int | None) -> None:
        """The replica was interrupted: cancel running calls marked ``cancel_on_interrupt``.

        With a ``seq``, only calls emitted before the interruption (lower ``seq``) are
        cancelled, and calls of lower ``seq`` that arrive later are cancelled on arrival.
        """
        if seq is not None and (self._interrupt_seq is None or seq > self._interrupt_seq):
            self._interrupt_seq = seq
        for entry in list(self._running):
            if not entry.cancel_on_interrupt:
                continue
            if seq is None or entry.event.seq is None or entry.event.seq < seq:
                self._cancel(entry, ErrorKind.INTERRUPTED)

    async def settled(self) -> None:
        """Return once every accepted call has its outcome."""
        await self._idle.wait()

    def stop_accepting(self) -> None:
        """Answer every call from now on with a ``shutdown`` cancellation; running calls
        carry on (the bot is leaving, see :meth:`drain`)."""
        self._accepting = False

    async def drain(self, grace: float) -> None:
        """Stop accepting calls; give running ones ``grace`` seconds, then cancel them.

        Every call still ends with exactly one answer (``cancelled``, error kind
        ``shutdown``, for those cut short).
        """
        self._accepting = False
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=max(0.0, grace))
        for entry in list(self._running):
            self._cancel(entry, ErrorKind.SHUTDOWN)
        await self.settled()

    # -- one call ----------------------------------------------------------------------

    def _spawn(self, entry: CallState, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        entry.task = task
        self._tasks.add(task)
        self._idle.clear()
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not self._tasks:
            self._idle.set()

    def _cancel(self, entry: CallState, reason: ErrorKind) -> None:
        if entry.done or entry.cancel_reason is not None or entry.timed_out:
            return
        entry.cancel_reason = reason
        if entry.ctx is not None:
            entry.ctx._mark_cancelled()
        # A task cancelled before its first step never runs its body, so it could not
        # answer: an unstarted call sees ``cancel_reason`` when it starts instead.
        if entry.task is not None and entry.started:
            entry.task.cancel()

    async def _run(self, entry: CallState, spec: ToolSpec, kwargs: dict[str, Any]) -> None:
        entry.started = True
        if entry.cancel_reason is not None:
            await self._cancelled(entry)
            return
        loop = asyncio.get_running_loop()
        # One timer per call, cancelled as soon as the handler ends. The timer can only
        # fire while this task is suspended in the handler or the semaphore, so the
        # CancelledError it causes always lands in the try block below, never in the
        # answer's send.
        timer = loop.call_at(entry.deadline, self._expire, entry)
        try:
            try:
                async with self._semaphore:
                    if spec.is_async:
                        value = await spec.function(**kwargs)
                    else:
                        value = await loop.run_in_executor(
                            self._executor, functools.partial(spec.function, **kwargs)
                        )
            finally:
                timer.cancel()
            # A spoken answer gets the tool's say= sentence, or words rather than JSON.
            # UnsendableResult (a value with no JSON text) is a ToolError: answered below.
            mode = effective_reply(entry.reply, entry.event.tool_call_id)
            text, explicit = render_answer(value, mode, spec.say, tool=spec.name)
        except asyncio.CancelledError:
            if entry.timed_out:
                timeout = spec.timeout if spec.timeout is not None else self._policy.default_timeout
                await self._finish(
                    entry,
                    OutcomeKind.TIMEOUT,
                    text=f"{spec.name} timed out after {timeout:g} s",
                    ok=False,
                )
                return
            reason = entry.cancel_reason
            entry.cancel_reason = reason or ErrorKind.SHUTDOWN
            await self._cancelled(entry)
            if reason is None:
                raise  # cancelled from outside (loop shutdown): answered, now propagate
            return
        except ToolError as exc:
            await self._finish(
                entry, OutcomeKind.ERROR, text=exc.message, ok=False, error=ErrorKind.TOOL_ERROR
            )
            return
        except Exception:
            self._log.exception(
                "tool handler raised",
                tool=spec.name,
                conversation_id=self._conversation.conversation_id,
                tool_call_id=entry.event.tool_call_id,
                seq=entry.event.seq,
            )
            await self._finish(
                entry,
                OutcomeKind.ERROR,
                text=f"{spec.name} failed with an internal error",
                ok=False,
                error=ErrorKind.EXCEPTION,
            )
            return
        await self._finish(entry, OutcomeKind.SUCCESS, text=text, ok=True, explicit=explicit)

    def _expire(self, entry: CallState) -> None:
        if entry.done or entry.cancel_reason is not None:
            return
        entry.timed_out = True
        if entry.ctx is not None:
            entry.ctx._mark_cancelled()
        if entry.task is not None:
            entry.task.cancel()

    async def _fail(self, entry: CallState, error: ErrorKind, message: str) -> None:
        await self._finish(entry, OutcomeKind.ERROR, text=message, ok=False, error=error)

    async def _cancelled(self, entry: CallState) -> None:
        reason = entry.cancel_reason or ErrorKind.SHUTDOWN
        why = (
            "the replica was interrupted"
            if reason is ErrorKind.INTERRUPTED
            else "the bot is stopping"
        )
        # A spoken or appended answer after a barge-in would talk over the user, so only
        # tool_result (which Tavus is waiting for) carries the cancellation.
        mode = effective_reply(entry.reply, entry.event.tool_call_id)
        interaction = (
            answer_for(
                mode, text=f"cancelled: {why}", ok=False, tool_call_id=entry.event.tool_call_id
            )
            if mode is ReplyMode.TOOL_RESULT
            else None
        )
        await self._finish(
            entry,
            OutcomeKind.CANCELLED,
            text=f"cancelled: {why}",
            ok=False,
            error=reason,
            explicit=interaction,
            send_nothing=interaction is None,
        )

    async def _finish(
        self,
        entry: CallState,
        kind: OutcomeKind,
        *,
        text: str | None,
        ok: bool,
        error: ErrorKind | None = None,
        explicit: Interaction | None = None,
        send_nothing: bool = False,
    ) -> None:
        if entry.done:  # exactly one outcome per call, whatever races happen
            return
        entry.done = True
        self._running.discard(entry)
        call = entry.event
        mode = effective_reply(entry.reply, call.tool_call_id)
        interaction: Interaction | None
        if send_nothing:
            interaction = None
        elif explicit is not None:
            interaction, mode = explicit_answer(explicit, call.tool_call_id)
        else:
            interaction = answer_for(mode, text=text, ok=ok, tool_call_id=call.tool_call_id)
        message: Mapping[str, Any] | None = None
        truncated = False
        if interaction is not None:
            encoded = encode_answer(
                interaction,
                mode=mode,
                call=call,
                conversation_id=self._conversation.conversation_id or call.conversation_id or "",
                limit=self._policy.message_limit,
                on_oversize=self._policy.on_oversize,
                log=self._log,
            )
            message, truncated = encoded.message, encoded.truncated
            if encoded.oversize is not None:
                kind, error, text = OutcomeKind.ERROR, ErrorKind.OVERSIZE, encoded.oversize
            try:
                await self._transmit(message)
            except Exception:
                self._log.exception(
                    "answer could not be sent",
                    tool=call.name,
                    conversation_id=self._conversation.conversation_id,
                    tool_call_id=call.tool_call_id,
                    seq=call.seq,
                )
                message = None
        self._on_outcome(
            ToolOutcome(
                kind=kind,
                tool=call.name,
                reply=mode,
                latency=time.perf_counter() - entry.arrived,
                text=text,
                error=error,
                answer=message,
                conversation_id=self._conversation.conversation_id or call.conversation_id,
                tool_call_id=call.tool_call_id,
                inference_id=call.inference_id,
                seq=call.seq,
                truncated=truncated,
            )
        )
