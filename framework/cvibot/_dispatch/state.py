"""Book-keeping for one tool call, from acceptance to its single outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from cvibot._context import ToolContext
from cvibot._deadlines import Deadline
from cvibot._dispatch.answer import effective_reply
from cvibot._dispatch.outcome import ErrorKind, OutcomeKind
from cvibot._protocol.events import ToolCall
from cvibot.tools import ToolSpec
from cvibot.tools._options import ReplyMode

__all__ = ["CallState", "rejected_tool_name"]


class CallState:
    """One accepted call: its event, resolved options, task and how it is ending.

    ``reply`` is the reply mode as resolved by :func:`~cvibot._dispatch.answer.effective_reply`
    (``auto`` is never left). ``arrived`` is a ``time.perf_counter()`` value, ``deadline`` a
    loop-time value.
    ``done`` is set once, by the code that reports the outcome; ``cancel_reason`` and
    ``timed_out`` say why the task was cut short, when it was. A call waiting for a slot
    has no task yet: it keeps its validated ``kwargs`` and its deadline ``timer`` (a
    :class:`~cvibot._deadlines.Deadlines` token); a running call's ``timer`` is armed only
    if its handler has not ended once its task's first step is over (``handler_ended``);
    ``counted`` is true while it holds a slot.
    ``fenced`` is the call fence's verdict (``None`` until it was asked; see
    :class:`~cvibot._dispatch.Dispatcher`).
    """

    __slots__ = (
        "answer",
        "arrived",
        "cancel_on_interrupt",
        "cancel_reason",
        "counted",
        "ctx",
        "deadline",
        "done",
        "error",
        "event",
        "fenced",
        "handler_ended",
        "kind",
        "kwargs",
        "reply",
        "spec",
        "started",
        "task",
        "text",
        "timed_out",
        "timer",
        "truncated",
    )

    # The outcome held while its answer's send is confirmed (set and read by
    # cvibot._dispatch.sends.AnswerSends): no object of its own per call in flight.
    kind: OutcomeKind
    text: str | None
    error: ErrorKind | None
    answer: Mapping[str, Any]
    truncated: bool

    def __init__(
        self,
        event: ToolCall,
        spec: ToolSpec | None,
        reply: ReplyMode,
        arrived: float,
        deadline: float,
        cancel_on_interrupt: bool,
    ) -> None:
        self.event = event
        self.spec = spec
        self.reply = effective_reply(reply, event.tool_call_id)  # resolved once
        self.arrived = arrived
        self.deadline = deadline
        self.cancel_on_interrupt = cancel_on_interrupt
        self.cancel_reason: ErrorKind | None = None
        self.ctx: ToolContext | None = None
        self.task: asyncio.Task[None] | None = None
        self.kwargs: dict[str, Any] | None = None
        self.timer: Deadline | None = None
        self.counted = False
        self.started = False
        self.handler_ended = False
        self.timed_out = False
        self.done = False
        self.fenced: bool | None = None


def rejected_tool_name(raw: Any) -> str:
    """The tool name of a rejected call when it is readable, for logs and the transcript."""
    props = raw.get("properties") if isinstance(raw, Mapping) else None
    if isinstance(props, Mapping):
        function = props.get("function")
        for name in (
            props.get("name"),
            props.get("tool_name"),
            function.get("name") if isinstance(function, Mapping) else None,
        ):
            if isinstance(name, str) and name:
                return name
    return "<invalid tool call>"
