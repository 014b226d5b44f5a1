"""A call's last leg: its answer encoded, handed to the transport, and its one outcome
reported once the transport has settled the send.

The :class:`~cvibot._dispatch.Dispatcher` decides how a call ends (success, error,
timeout, cancellation, fenced) and hands that here once. :meth:`AnswerSends.send` picks
the interaction (the usual ``tool_result`` is encoded without building its model,
:func:`~cvibot._protocol.interactions.encode_tool_result`), checks and encodes it once
(:func:`~cvibot._dispatch.limits.encode_answer`: size limit, UTF-8, ``on_oversize``) and
hands the message to ``transmit``. While the transport confirms the send only the send's
future and the call's :class:`~cvibot._dispatch.state.CallState` are kept; when it
settles, the outcome is reported with the message sent (``answer``) or, for a send that
failed, without it. A call with nothing to send (``send_nothing``, a mode that says
nothing) is reported at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from cvibot._context import Conversation
from cvibot._dispatch.answer import answer_for, explicit_answer
from cvibot._dispatch.limits import encode_answer
from cvibot._dispatch.outcome import ErrorKind, OutcomeKind, ToolOutcome
from cvibot._dispatch.policy import DispatchPolicy
from cvibot._dispatch.state import CallState
from cvibot._protocol.events import ToolCall
from cvibot._protocol.interactions import Interaction, encode_tool_result
from cvibot._slots import slots_maker
from cvibot.tools._options import ReplyMode

__all__ = ["AnswerSends"]

# One per call: built the quick way (see cvibot._slots), every field given below.
_make_outcome = slots_maker(ToolOutcome)


class AnswerSends:
    """The answers of one conversation's calls on their way out, and their outcomes.

    ``transmit`` starts sending one encoded-and-checked app-message and returns the
    send's future (``None`` once sent, else the transport's error; it may also raise at
    once); ``on_sent`` is told of each message sent; ``on_outcome`` receives each call's
    :class:`ToolOutcome`, exactly once; ``on_settled`` is called when the last send in
    flight has settled (the dispatcher's idle check).
    """

    def __init__(
        self,
        *,
        policy: DispatchPolicy,
        conversation: Conversation,
        transmit: Callable[[Mapping[str, Any]], asyncio.Future[None]],
        on_sent: Callable[[Mapping[str, Any]], None],
        on_outcome: Callable[[ToolOutcome], None],
        on_settled: Callable[[], None],
        log: structlog.typing.FilteringBoundLogger,
    ) -> None:
        self._policy = policy
        self._conversation = conversation
        self._transmit = transmit
        self._on_sent = on_sent
        self._on_outcome = on_outcome
        self._on_settled = on_settled
        self._log = log
        #: Answers handed to the transport and not yet settled, with their calls.
        self.pending: dict[asyncio.Future[None], CallState] = {}
        self._on_answered = self._answered  # bound once: one callback for every send

    def send(
        self,
        entry: CallState,
        kind: OutcomeKind,
        text: str | None,
        ok: bool,
        error: ErrorKind | None,
        explicit: Interaction | None,
        send_nothing: bool,
    ) -> bool:
        """Send ``entry``'s answer and report its outcome once the send settles (at once
        when nothing is sent). ``text`` is the answer's text, ``explicit`` an interaction
        the handler returned (it replaces the one the reply mode would build). True when
        a send is now pending (the caller's idle flag is to be cleared)."""
        call = entry.event
        tool_call_id = call.tool_call_id
        mode = entry.reply
        conversation_id = self._conversation.conversation_id or call.conversation_id
        message: Mapping[str, Any] | None = None
        interaction: Interaction | None = None
        if send_nothing:
            pass
        elif explicit is not None:
            interaction, mode = explicit_answer(explicit, tool_call_id)
        elif mode is ReplyMode.TOOL_RESULT and tool_call_id:
            # The usual answer, encoded without building its model; None when it does not
            # fit, and the model's path below truncates or replaces it.
            message = encode_tool_result(
                tool_call_id, text or "", ok, conversation_id or "", self._policy.message_limit
            )
            if message is None:
                interaction = answer_for(mode, text=text, ok=ok, tool_call_id=tool_call_id)
        else:
            interaction = answer_for(mode, text=text, ok=ok, tool_call_id=tool_call_id)
        truncated = False
        if interaction is not None:
            encoded = encode_answer(
                interaction,
                mode=mode,
                call=call,
                conversation_id=conversation_id or "",
                limit=self._policy.message_limit,
                on_oversize=self._policy.on_oversize,
                log=self._log,
            )
            message, truncated = encoded.message, encoded.truncated
            if encoded.oversize is not None:
                kind, error, text = OutcomeKind.ERROR, ErrorKind.OVERSIZE, encoded.oversize
        if message is not None:
            try:
                sent = self._transmit(message)
            except Exception as exc:
                self._send_failed(call, exc)
            else:
                # The outcome waits on the call's own record: no object of its own.
                entry.reply, entry.kind, entry.text, entry.error = mode, kind, text, error
                entry.answer, entry.truncated = message, truncated
                first = not self.pending
                self.pending[sent] = entry
                sent.add_done_callback(self._on_answered)
                return first
        self._report(entry, kind, mode, text, error, None, truncated)
        return False

    def _answered(self, sent: asyncio.Future[None]) -> None:
        """The transport settled the send of a call's answer: report the call's outcome."""
        entry = self.pending.pop(sent)
        exc = sent.exception() if not sent.cancelled() else asyncio.CancelledError()
        if exc is None:
            try:
                self._on_sent(entry.answer)
            finally:
                self._report(
                    entry,
                    entry.kind,
                    entry.reply,
                    entry.text,
                    entry.error,
                    entry.answer,
                    entry.truncated,
                )
        else:
            self._send_failed(entry.event, exc)
            self._report(
                entry, entry.kind, entry.reply, entry.text, entry.error, None, entry.truncated
            )
        if not self.pending:
            self._on_settled()

    def _send_failed(self, call: ToolCall, exc: BaseException) -> None:
        self._log.error(
            "answer could not be sent",
            tool=call.name,
            conversation_id=self._conversation.conversation_id,
            tool_call_id=call.tool_call_id,
            seq=call.seq,
            exc_info=exc,
        )

    def _report(
        self,
        entry: CallState,
        kind: OutcomeKind,
        mode: ReplyMode,
        text: str | None,
        error: ErrorKind | None,
        answer: Mapping[str, Any] | None,
        truncated: bool,
    ) -> None:
        """Report ``entry``'s one outcome; ``answer`` is the message sent, if one was."""
        call = entry.event
        self._on_outcome(
            _make_outcome(
                kind=kind,
                tool=call.name,
                reply=mode,
                latency=time.perf_counter() - entry.arrived,
                text=text,
                error=error,
                answer=answer,
                conversation_id=self._conversation.conversation_id or call.conversation_id,
                tool_call_id=call.tool_call_id,
                inference_id=call.inference_id,
                seq=call.seq,
                truncated=truncated,
            )
        )
