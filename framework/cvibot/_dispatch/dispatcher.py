"""Runs each tool call to exactly one terminal outcome and sends its answer.

One call's life: look up the handler by name → validate the arguments against the tool's
schema → admit it → run it (async handlers as tasks, sync ones in the bot's
:class:`~cvibot._dispatch.pool.ToolPool`) under the tool's timeout → map the return value,
error, timeout or cancellation to the reply interaction (:mod:`cvibot._dispatch.answer`) →
send it and report one :class:`ToolOutcome` once the transport has confirmed (or failed)
the send (:mod:`cvibot._dispatch.sends`). Nothing here blocks the event loop, so a slow
handler never delays other events. A call's task ends as soon as its answer is handed
to the transport: while the send is confirmed only the send's future and the callback
that reports the outcome are kept (with 1,000 calls in flight that is most of what the
garbage collector would otherwise walk), and :attr:`Dispatcher.in_flight` still counts
the call.

Admission: a call runs at once when fewer than ``max_concurrent_calls`` calls of the
conversation run and fewer than its tool's limit (``max_concurrent``, else
``max_concurrent_per_tool``) of that tool. Otherwise it waits, without a task, in a queue
bounded per conversation (``max_waiting_calls``) and per process (the policy's
:class:`~cvibot._dispatch.admission.WaitingBound`); past either bound it is answered at
once with a ``busy`` error. A freed slot goes to the first waiting call whose tool has
room, so calls of a fast tool never queue behind a slow tool that is at its limit. The
timeout runs while a call waits. Answers that need no handler (errors, busy,
cancellations) are sent by one task per conversation, not a task each.

Call fence (``call_fence``, given by ``cvibot serve``): an ``async (key) -> bool`` asked
once per call, with the call's ``tool_call_id`` (else its dedupe key, see
:func:`fence_key`), before its handler runs (after dedupe and admission) and, for an
answer that needs no handler, before it is sent. ``False`` (or a fence that raises):
the handler does not run, nothing is sent, and the outcome is ``fenced``. So a host
that lost its conversation to another host never answers a call twice. Without a
fence (``None``) nothing of this runs.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from concurrent.futures import Executor
from dataclasses import replace
from typing import Any

import structlog

from cvibot._context import Conversation, ToolContext
from cvibot._deadlines import Deadlines
from cvibot._dispatch.answer import answer_for, render_answer
from cvibot._dispatch.eager import start_task
from cvibot._dispatch.outcome import ErrorKind, OutcomeKind, ToolOutcome
from cvibot._dispatch.policy import DispatchPolicy
from cvibot._dispatch.pool import PoolBusy, ToolPool
from cvibot._dispatch.sends import AnswerSends
from cvibot._dispatch.state import CallState, rejected_tool_name
from cvibot._errors import ToolError
from cvibot._protocol.events import PerceptionToolCall, ToolCall
from cvibot._protocol.interactions import Interaction
from cvibot._protocol.parse import Rejection
from cvibot.tools import ArgumentsError, ToolSpec
from cvibot.tools._options import ReplyMode

__all__ = ["CallFence", "DispatchPolicy", "Dispatcher", "fence_key"]

#: ``async (key) -> bool``: may this host answer the call of ``key`` (see the module).
CallFence = Callable[[str], Awaitable[bool]]


# How long cancelled handlers get to end once the grace has run out, before their calls
# are answered without them (an ``async def`` that swallows its cancellation).
_CANCEL_WAIT = 0.25


_SLIM_CALL: dict[str, Any] = {"properties": {}, "raw": {}, "arguments": {}, "raw_arguments": None}
_SLIM_PERCEPTION: dict[str, Any] = {**_SLIM_CALL, "frames": ()}


class _Fenced(Exception):
    """The call fence refused a call before its handler ran."""


def fence_key(call: ToolCall) -> str:
    """The key the call fence is asked with: the ``tool_call_id``, else ``seq:<n>``, else
    ``hash:<sha256 of name, arguments and inference_id>`` (the session's dedupe key)."""
    # The same choice as cvibot._dedupe.call_key, written as a string.
    if call.tool_call_id is not None:
        return call.tool_call_id
    if call.seq is not None:
        return f"seq:{call.seq}"
    key = repr((call.name, repr(call.raw_arguments), call.inference_id))
    return "hash:" + hashlib.sha256(key.encode()).hexdigest()


def _task_of(entry: CallState) -> asyncio.Task[Any]:
    """The task of a started call. During its eager first step (see .eager) that is the
    current task: ``_start`` records it only once the step has returned."""
    task = entry.task if entry.task is not None else asyncio.current_task()
    assert task is not None
    return task


@functools.lru_cache(maxsize=256)
def _busy_text(tool: str) -> str:
    return f"{tool} is busy: too many calls are waiting; try again shortly"


class Dispatcher:
    """Dispatches the tool calls of one conversation.

    ``transmit`` starts sending one encoded-and-checked app-message and returns the
    send's future (``None`` once sent, else the transport's error; it may also raise at
    once); ``on_sent`` is told of each message sent; ``on_outcome`` receives each call's
    :class:`ToolOutcome` (exactly once per call);
    ``settings_for`` returns the config settings of the plugin that owns a tool;
    ``call_fence`` is the call fence (see the module docstring), ``None`` for none.
    """

    def __init__(
        self,
        *,
        tools: Mapping[str, ToolSpec],
        policy: DispatchPolicy,
        executor: Executor,
        conversation: Conversation,
        transmit: Callable[[Mapping[str, Any]], asyncio.Future[None]],
        on_sent: Callable[[Mapping[str, Any]], None],
        on_outcome: Callable[[ToolOutcome], None],
        settings_for: Callable[[str | None], Mapping[str, Any]],
        call_fence: CallFence | None = None,
    ) -> None:
        self._tools = tools
        self._fence = call_fence
        self._policy = policy
        # Read on every call: the policy is frozen, so its derived limits are taken once.
        self._max_active = policy.max_concurrent_calls
        self._per_tool_limit = policy.per_tool_limit
        self._executor = executor
        self._conversation = conversation
        self._settings_for = settings_for
        # Calls accepted and not answered: running, starting or waiting for a slot.
        self._running: set[CallState] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._active = 0  # calls holding a slot
        self._active_by_tool: dict[str, int] = {}
        self._waiting: deque[CallState] = deque()
        # Answers that need no handler, sent in order by one task (``_replier``).
        self._replies: deque[tuple[Any, ...]] = deque()
        self._replier: asyncio.Task[None] | None = None
        self._aborted = False  # cancelled from outside: start nothing more
        self._idle = asyncio.Event()
        self._idle.set()
        self._interrupt_seq: int | None = None
        self._accepting = True
        # Calls taken so far, each owed its one answer by this dispatcher: it rises the
        # moment a call is taken, whatever its fate (the session's guard compares it
        # around a dispatch: a call taken before a failure is answered from here).
        self.accepted = 0
        # The calls' timeouts, behind one loop timer.
        self._deadlines = Deadlines()
        # Bound once: the module-level lazy proxy would rebuild a logger on every call.
        self._log: structlog.typing.FilteringBoundLogger = structlog.get_logger(
            "cvibot.dispatch"
        ).bind()
        # Answers handed to the transport and not yet confirmed (see the module docstring).
        self._answers = AnswerSends(
            policy=policy,
            conversation=conversation,
            transmit=transmit,
            on_sent=on_sent,
            on_outcome=on_outcome,
            on_settled=self._check_idle,
            log=self._log,
        )

    # -- intake (called from the session on the loop thread, never blocks) --------------

    @property
    def in_flight(self) -> int:
        """Tasks running, calls waiting for a slot and answers queued (0 once every call
        is answered). It rises as soon as :meth:`dispatch` takes a call, whatever the
        call's fate: the session's guard relies on it."""
        pending = len(self._answers.pending)
        return len(self._tasks) + len(self._waiting) + len(self._replies) + pending

    @property
    def waiting(self) -> int:
        """Calls waiting for a slot."""
        return len(self._waiting)

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
            self.accepted += 1
            self._reply_soon(
                self._fail, entry, ErrorKind.UNKNOWN_TOOL, f"unknown tool {call.name!r}"
            )
            return
        reply = spec.reply or default
        timeout = spec.timeout if spec.timeout is not None else self._policy.default_timeout
        cancellable = (
            spec.cancel_on_interrupt
            if spec.cancel_on_interrupt is not None
            else self._policy.cancel_on_interrupt
        )
        cancel: ErrorKind | None = None
        if not self._accepting:
            cancel = ErrorKind.SHUTDOWN
        elif (
            cancellable
            and call.seq is not None
            and self._interrupt_seq is not None
            and call.seq < self._interrupt_seq
        ):
            # Emitted before an interruption we already saw: it would have been cancelled.
            cancel = ErrorKind.INTERRUPTED
        runs = False
        if cancel is None:
            # Admission comes first, so a refused call costs no validation and, until
            # its answer is sent, only its event.
            runs = self._has_room(spec)
            if not runs and not (
                len(self._waiting) < self._policy.max_waiting_calls and self._policy.waiting.take()
            ):
                # Until its answer goes out, a refused call keeps only what the answer
                # needs: not its raw message, arguments or frames (a flood of them is
                # exactly when memory matters).
                slim = _SLIM_PERCEPTION if perception else _SLIM_CALL
                self.accepted += 1
                self._queue_reply((self._refuse_busy, replace(call, **slim), spec, reply, arrived))
                return
        entry = CallState(call, spec, reply, arrived, loop.time() + timeout, cancellable)
        if cancel is not None:
            entry.cancel_reason = cancel
            self.accepted += 1
            self._reply_soon(self._cancelled, entry)
            return
        try:
            kwargs = spec.validate(call.arguments)
        except ArgumentsError as exc:
            if not runs:
                self._policy.waiting.release()
            message = f"invalid arguments for {spec.name}: {exc}"
            self.accepted += 1
            self._reply_soon(self._fail, entry, ErrorKind.INVALID_ARGUMENTS, message)
            return
        self._running.add(entry)
        self.accepted += 1
        if runs:
            self._start(entry, spec, kwargs)
        else:
            entry.kwargs = kwargs
            entry.timer = self._deadlines.add(entry.deadline, self._expire, entry)
            self._waiting.append(entry)
            self._idle.clear()

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
        self.accepted += 1
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
        """Return once every accepted call has its outcome and every task has ended."""
        await self._idle.wait()

    def stop_accepting(self) -> None:
        """Answer every call from now on with a ``shutdown`` cancellation; running calls
        carry on (the bot is leaving, see :meth:`drain`)."""
        self._accepting = False

    async def drain(self, grace: float) -> None:
        """Stop accepting calls; give running and waiting ones ``grace`` seconds, then
        cancel them.

        Every call still ends with exactly one answer (``cancelled``, error kind
        ``shutdown``, for those cut short), sent as soon as the grace runs out: a sync
        handler's thread is never waited for, and an ``async def`` handler that ignores
        its cancellation gets a fraction of a second before its call is answered
        without it.
        """
        self._accepting = False
        if not self._idle.is_set():
            idle = asyncio.ensure_future(self._idle.wait())
            try:
                await asyncio.wait({idle}, timeout=max(0.0, grace))
            finally:
                idle.cancel()
        for entry in list(self._running):
            self._cancel(entry, ErrorKind.SHUTDOWN)
        sends = self._answers.pending
        if self._tasks or sends:
            await asyncio.wait(self._tasks | sends.keys(), timeout=_CANCEL_WAIT)
        for entry in list(self._running):
            if not entry.done and entry.started:
                # Its handler ignored the cancellation: answer for it.
                self._reply_soon(self._cancelled, entry)
        while self._replier is not None:
            await asyncio.shield(self._replier)

    # -- one call ----------------------------------------------------------------------

    def _spawn(self, entry: CallState, coro: Any) -> None:
        # Started at once (see .eager): the task may even have answered on return, and a
        # task done already is neither kept nor watched (its answer's send is).
        task: asyncio.Task[None] = start_task(asyncio.get_running_loop(), coro)
        if task.done():
            return
        entry.task = task
        if not self._tasks:  # else it is clear already (set only once none are left)
            self._idle.clear()
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._check_idle()

    def _check_idle(self) -> None:
        """Set the idle flag once no task, waiting call or answer in flight is left."""
        if not self._tasks and not self._waiting and not self._answers.pending:
            self._idle.set()

    def _reply_soon(
        self, answer: Callable[..., Coroutine[Any, Any, None]], entry: CallState, *args: Any
    ) -> None:
        """Queue an answer that needs no handler (``answer(entry, *args)``); one task
        sends them in order, so a flood of refused calls costs no task each."""
        self._queue_reply((answer, entry, *args))

    def _queue_reply(self, reply: tuple[Any, ...]) -> None:
        """Queue ``(answer, *args)``: the replier awaits ``answer(*args)``. One flat tuple,
        the cheapest record of a refused call."""
        self._replies.append(reply)
        if self._replier is None:
            replier = asyncio.get_running_loop().create_task(self._send_replies())
            self._replier = replier
            self._tasks.add(replier)
            self._idle.clear()
            replier.add_done_callback(self._task_done)

    async def _send_replies(self) -> None:
        cancelled: asyncio.CancelledError | None = None
        try:
            while self._replies:
                reply = self._replies.popleft()
                try:
                    await reply[0](*reply[1:])
                except asyncio.CancelledError as exc:
                    # The loop is shutting down: the answers still queued are sent (the
                    # one cut short is not retried: it may have gone out).
                    cancelled = cancelled or exc
                except Exception:
                    self._log.exception("answer failed", conversation_id=self._conversation_id)
        finally:
            self._replier = None
        if cancelled is not None:
            raise cancelled

    async def _refuse_busy(
        self, call: ToolCall, spec: ToolSpec, reply: ReplyMode, arrived: float
    ) -> None:
        entry = CallState(call, spec, reply, arrived, 0.0, False)
        await self._fail(entry, ErrorKind.BUSY, _busy_text(spec.name))

    async def _abort_waiting(self) -> None:
        self._accepting = False
        self._aborted = True
        for entry in self._running:
            if entry.task is not None and not entry.started:
                entry.cancel_reason = ErrorKind.SHUTDOWN  # answers when its task starts
        while self._waiting:
            entry = self._waiting.popleft()
            self._policy.waiting.release()
            if entry.timer is not None:
                self._deadlines.cancel(entry.timer)
            entry.cancel_reason = ErrorKind.SHUTDOWN
            await self._cancelled(entry)

    @property
    def _conversation_id(self) -> str | None:
        return self._conversation.conversation_id

    # -- slots ---------------------------------------------------------------------------

    def _has_room(self, spec: ToolSpec) -> bool:
        return self._active < self._max_active and self._active_by_tool.get(spec.name, 0) < (
            spec.max_concurrent or self._per_tool_limit
        )

    def _start(self, entry: CallState, spec: ToolSpec, kwargs: dict[str, Any]) -> None:
        """Take a slot for ``entry`` and start its task."""
        self._active += 1
        self._active_by_tool[spec.name] = self._active_by_tool.get(spec.name, 0) + 1
        entry.counted = True
        if spec.context_param is not None:
            # Built only now: a waiting call costs no bound logger.
            call = entry.event
            remaining = entry.deadline - asyncio.get_running_loop().time()
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
                deadline=time.monotonic() + remaining,
            )
            kwargs[spec.context_param] = entry.ctx
        self._spawn(entry, self._run(entry, spec, kwargs))
        if entry.task is not None and not entry.handler_ended and entry.timer is None:
            # The handler is still running after the task's first step (or has not
            # started): its deadline only now, so a handler that answers at once never
            # costs one. A waiting call's deadline runs since it started waiting.
            entry.timer = self._deadlines.add(entry.deadline, self._expire, entry)

    def _release(self, entry: CallState) -> None:
        """Give back ``entry``'s slot and start the waiting calls that now have room."""
        if not entry.counted:
            return
        entry.counted = False
        assert entry.spec is not None
        name = entry.spec.name
        self._active -= 1
        left = self._active_by_tool[name] - 1
        if left:
            self._active_by_tool[name] = left
        else:
            del self._active_by_tool[name]
        if self._aborted or not self._waiting or self._active >= self._policy.max_concurrent_calls:
            return
        for waiting in list(self._waiting):
            spec = waiting.spec
            assert spec is not None and waiting.kwargs is not None
            if not self._has_room(spec):
                if self._active >= self._policy.max_concurrent_calls:
                    break
                continue
            self._unwait(waiting)
            kwargs, waiting.kwargs = waiting.kwargs, None
            self._start(waiting, spec, kwargs)

    def _unwait(self, entry: CallState) -> None:
        self._waiting.remove(entry)
        self._policy.waiting.release()

    def _cancel(self, entry: CallState, reason: ErrorKind) -> None:
        if entry.done or entry.cancel_reason is not None or entry.timed_out:
            return
        entry.cancel_reason = reason
        if entry.task is None and not entry.started:  # waiting for a slot
            if entry.timer is not None:
                self._deadlines.cancel(entry.timer)
            self._unwait(entry)
            self._reply_soon(self._cancelled, entry)
            return
        if entry.ctx is not None:
            entry.ctx._mark_cancelled()
        # A task cancelled before its first step never runs its body, so it could not
        # answer: an unstarted call sees ``cancel_reason`` when it starts instead.
        if entry.started:
            _task_of(entry).cancel()

    async def _run(self, entry: CallState, spec: ToolSpec, kwargs: dict[str, Any]) -> None:
        entry.started = True
        if entry.cancel_reason is not None or entry.timed_out:
            if entry.timer is not None:
                self._deadlines.cancel(entry.timer)
            self._release(entry)
            if entry.timed_out:
                await self._timed_out(entry, spec)
            else:
                await self._cancelled(entry)
            return
        # One deadline per call (see _start), cancelled as soon as the handler ends. Once
        # the task runs, it can only fall due while it is suspended in the handler, so
        # the CancelledError it causes always lands in the try block below, never in
        # the answer's send.
        try:
            try:
                if self._fence is not None and not await self._claim(entry):
                    raise _Fenced
                if spec.is_async:
                    value = await spec.function(**kwargs)
                else:
                    value = await self._call_sync(spec, kwargs)
            finally:
                entry.handler_ended = True
                timer = entry.timer
                if timer is not None:
                    entry.timer = None
                    self._deadlines.cancel(timer)
                self._release(entry)
            # A spoken answer gets the tool's say= sentence, or words rather than JSON.
            # UnsendableResult (a value with no JSON text) is a ToolError: answered below.
            mode = entry.reply
            text: str | None
            explicit: Interaction | None
            if type(value) is str and mode is ReplyMode.TOOL_RESULT:
                text, explicit = value, None  # the usual result: nothing to render
            else:
                text, explicit = render_answer(value, mode, spec.say, tool=spec.name)
        except asyncio.CancelledError:
            if entry.timed_out:
                await self._timed_out(entry, spec)
                return
            reason = entry.cancel_reason
            entry.cancel_reason = reason or ErrorKind.SHUTDOWN
            await self._cancelled(entry)
            if reason is None:
                # Cancelled from outside (the loop is shutting down): no task started
                # now would run, so the waiting calls are answered from here.
                await self._abort_waiting()
                raise  # answered, now propagate
            return
        except _Fenced:
            await self._finish(entry, OutcomeKind.FENCED, text=None, ok=False, send_nothing=True)
            return
        except ToolError as exc:
            await self._finish(
                entry, OutcomeKind.ERROR, text=exc.message, ok=False, error=ErrorKind.TOOL_ERROR
            )
            return
        except PoolBusy as exc:
            self._log.warning(
                "no thread for a sync handler",
                tool=spec.name,
                conversation_id=self._conversation_id,
                tool_call_id=entry.event.tool_call_id,
                detail=str(exc),
            )
            await self._fail(
                entry, ErrorKind.BUSY, f"{spec.name} is busy: no worker is free; try again shortly"
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

    async def _claim(self, entry: CallState) -> bool:
        """Ask the call fence, once per call, whether this host answers ``entry``. A
        fence that raises, or an ask cut short (a timeout, a cancellation), counts as
        ``False``: at most one answer matters more than an answer."""
        if entry.fenced is None:
            assert self._fence is not None
            entry.fenced = False
            try:
                entry.fenced = bool(await self._fence(fence_key(entry.event)))
            except Exception:
                self._log.exception(
                    "call fence failed",
                    tool=entry.event.name,
                    conversation_id=self._conversation_id,
                    tool_call_id=entry.event.tool_call_id,
                )
        return entry.fenced

    async def _call_sync(self, spec: ToolSpec, kwargs: dict[str, Any]) -> Any:
        call = functools.partial(spec.function, **kwargs)
        pool = self._executor
        if not isinstance(pool, ToolPool):
            return await asyncio.get_running_loop().run_in_executor(pool, call)
        future = pool.submit(call)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            # The thread may go on: the pool counts it as a zombie, not as a worker.
            pool.abandon(future)
            raise

    def _expire(self, entry: CallState) -> None:
        if entry.done or entry.cancel_reason is not None or entry.timed_out:
            return
        entry.timed_out = True
        if entry.task is None and not entry.started:  # still waiting for a slot
            assert entry.spec is not None
            self._unwait(entry)
            self._reply_soon(self._timed_out, entry, entry.spec)
            return
        if entry.ctx is not None:
            entry.ctx._mark_cancelled()
        if entry.started:  # else _run sees ``timed_out`` when it starts
            _task_of(entry).cancel()

    async def _timed_out(self, entry: CallState, spec: ToolSpec) -> None:
        timeout = spec.timeout if spec.timeout is not None else self._policy.default_timeout
        await self._finish(
            entry, OutcomeKind.TIMEOUT, text=f"{spec.name} timed out after {timeout:g} s", ok=False
        )

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
        mode = entry.reply
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
        if self._fence is not None and not send_nothing and not await self._claim(entry):
            kind, text, error, send_nothing = OutcomeKind.FENCED, None, None, True
        if self._answers.send(entry, kind, text, ok, error, explicit, send_nothing):
            self._idle.clear()  # a first send in flight; else it is clear already
