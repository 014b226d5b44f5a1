"""The live transcript and the end-of-run summary a person reads in a terminal.

Everything shown comes from the conversation, so it is treated as hostile: each line is
made printable before it is written (:func:`printable`: lone surrogates replaced,
control characters such as ANSI escapes shown as ``\\x1b``), and each field is cut to a
preview (:func:`_clip`) without first walking the whole of a megabyte string.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from typing import IO, Any

from cvibot._cli.style import Styler
from cvibot._dispatch import OutcomeKind, ToolOutcome
from cvibot._listening import SessionListener
from cvibot._participants import Participant, ParticipantChange
from cvibot._protocol.events import (
    Event,
    PerceptionToolCall,
    ReplicaJoined,
    Shutdown,
    ToolCall,
    UnknownEvent,
    Utterance,
)
from cvibot._protocol.parse import Rejection, parse_event
from cvibot._protocol.text import valid_unicode
from cvibot._session import DropReason, SessionStats

__all__ = ["SHOWN_EVENTS", "Transcript", "format_summary", "printable"]

SHOWN_EVENTS = frozenset(
    {
        "event dropped",
        "event rejected",
        "message from untrusted sender dropped",
        "tool call answered",
        "tool call failed",
        "unknown tool",
    }
)
"""The log events (messages of the session's and dispatcher's log calls) that say what
a transcript line says already: left out of console logs while the transcript is the
view, so that each call is printed once."""

_PREVIEW = 160
_SUMMARY_INDENT = 14  # "  events      ": where a summary line's counts start
_NAME = 64  # characters shown of a name, id or event type
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_MARKS = {
    OutcomeKind.SUCCESS: ("✓", "green"),
    OutcomeKind.ERROR: ("✗", "red"),
    OutcomeKind.TIMEOUT: ("⏱", "yellow"),
    OutcomeKind.CANCELLED: ("⊘", "yellow"),
    OutcomeKind.FENCED: ("⇄", "yellow"),
}


def printable(text: str) -> str:
    """``text`` safe to write to a terminal: lone surrogates replaced by U+FFFD, control
    and bidirectional-override characters written as escapes (``\\x1b``, ``\\u202e``)."""
    return _CONTROL.sub(_escape, valid_unicode(text))


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _clip(text: str, limit: int = _PREVIEW) -> str:
    """A one-line preview of at most ``limit`` characters, ending in "…" when cut."""
    # Whitespace runs become one space; a long text is cut first, so a megabyte field
    # costs no more than a short one.
    cut = len(text) > 4 * limit
    text = " ".join(text[: 4 * limit].split())
    return text if len(text) <= limit and not cut else text[: limit - 1] + "…"


def _name(value: object) -> str:
    return _clip(str(value), _NAME)


def _arguments(arguments: Mapping[str, Any], limit: int) -> str:
    """``key=JSON, ...`` for a preview of ``limit`` characters; stops once that is filled."""
    parts: list[str] = []
    length = 0
    for key, value in arguments.items():
        if length > limit:
            parts.append("…")
            break
        if isinstance(value, str):
            value = value[: limit + 1]  # a long string need not be encoded in full
        try:
            shown = json.dumps(value, ensure_ascii=False, default=lambda v: type(v).__name__)
        except (ValueError, RecursionError):  # NaN is written; only exotic values get here
            shown = "…"
        parts.append(f"{key}={shown[: limit + 1]}")
        length += len(parts[-1]) + 2
    return ", ".join(parts)


class Transcript(SessionListener):
    """Prints speech, tool calls with their outcome, and anything rejected or dropped.

    One line per event, styled and wrapped by :class:`cvibot._cli.style.Styler`: colours
    when ``color`` is true (``None``: on a terminal, unless ``NO_COLOR``), wrapped to
    ``width`` columns (``None``: the terminal's, no wrapping off a terminal) with each
    line's continuation rows indented under the text after its marker.
    """

    def __init__(
        self, stream: IO[str], *, color: bool | None = None, width: int | None = None
    ) -> None:
        self._styler = Styler(stream, color=color, width=width)

    def _line(self, head: str, body: str, style: str | None = None) -> None:
        """``head`` (the indent and marker) then ``body``; wrapped rows line up under
        ``body``."""
        from rich.cells import cell_len

        self._styler.line(head + body, style, indent=cell_len(printable(head)))

    def header(self, text: str, detail: str | None = None) -> None:
        """The run's first line, bold, and a ``detail`` line under it (the tools);
        wrapped rows indented by two columns."""
        lines: list[tuple[str, str | None, int]] = [(text, "bold", 2)]
        if detail is not None:
            lines.append((f"  {detail}", None, 4))
        self._styler.lines(lines)

    def summary(self, stats: SessionStats) -> None:
        """The end-of-run summary (:func:`format_summary`), each line's wrapped rows
        aligned under its counts."""
        self._styler.lines(
            [
                (line, "bold" if i == 0 else None, _SUMMARY_INDENT)
                for i, line in enumerate(format_summary(stats).split("\n"))
            ]
        )

    def note(self, text: str) -> None:
        """A note the recording carries about the line replayed next (what a demo's
        deliberate error demonstrates), dim, before that line's own output."""
        self._line("  ┊ ", _clip(text), "dim italic")

    def on_event(self, event: Event, *, late: bool) -> None:
        note = f"  (late: seq {event.seq})" if late else ""
        if isinstance(event, Utterance):
            who = "user" if event.role == "user" else event.role
            self._line(
                f"  {who:<8}│ ",
                f"{_clip(event.speech)}{note}",
                "cyan" if event.role == "user" else "magenta",
            )
        elif isinstance(event, ToolCall):
            kind = "perception tool call" if isinstance(event, PerceptionToolCall) else "tool call"
            ids = [f"seq {event.seq}"] if event.seq is not None else []
            if event.tool_call_id:
                ids.append(f"id {_name(event.tool_call_id)}")
            suffix = f"  [{', '.join(ids)}]" if ids else ""
            shown = _clip(_arguments(event.arguments, 120), 120)
            self._line("  ⚙ ", f"{kind} {_name(event.name)}({shown}){suffix}{note}", "bold")
        elif event.is_replica_interruption:
            self._line("  · ", f"replica interrupted{note}", "dim")
        elif isinstance(event, ReplicaJoined):
            self._line("  · ", "replica joined", "dim")
        elif isinstance(event, Shutdown):
            reason = _name(event.shutdown_reason or "no reason given")
            self._line("  · ", f"conversation shut down ({reason})", "dim")
        elif isinstance(event, UnknownEvent):
            self._line("  · ", f"unhandled event {_name(event.event_type)}{note}", "dim")

    def on_responded(self, utterance: Utterance, text: str) -> None:
        # What the replica is told to say under pipeline_mode echo, under the user's line.
        self._line(f"  {'↳ echo':<8}│ ", _clip(text), "cyan")

    def on_rejection(self, rejection: Rejection) -> None:
        what = _name(rejection.event_type or "message")
        answered = "  → answered with an error" if rejection.tool_call_id else ""
        self._line(
            "  ✗ ",
            f"rejected {what} ({rejection.reason.value}): {_clip(rejection.detail, 120)}{answered}",
            "red",
        )

    def on_drop(self, event: Event, reason: DropReason) -> None:
        seq = f" seq {event.seq}" if event.seq is not None else ""
        self._line("  · ", f"dropped {_name(event.event_type)}{seq} ({reason.value})", "dim")

    def on_participant(
        self, change: ParticipantChange, participant: Participant, *, replica: bool
    ) -> None:
        if change == "updated":
            return
        who = "replica" if replica else "participant"
        self._line("  · ", f"{who} {_clip(participant.describe())} {change} the room", "dim")

    def on_untrusted(self, message: Any, sender: str) -> None:
        parsed = parse_event(message)
        what = _name(parsed.event_type or "message")
        why = "not the replica (untrusted_sender)"
        self._line("  ✗ ", f"ignored {what} from {_clip(sender)}: {why}", "red")

    def on_outcome(self, outcome: ToolOutcome) -> None:
        mark, colour = _MARKS[outcome.kind]
        kind = outcome.kind.value + (f" ({outcome.error.value})" if outcome.error else "")
        if outcome.answer is None:
            sent = "nothing sent" + (f": {_clip(outcome.text, 100)}" if outcome.text else "")
        else:
            properties = outcome.answer.get("properties") or {}
            body = (
                properties.get("output")
                or properties.get("text")
                or properties.get("context")
                or ""
            )
            status = properties.get("status")
            label = str(outcome.answer.get("event_type", "")).removeprefix("conversation.")
            if status == "error":
                label += "[error]"
            sent = f"{label}: {_clip(str(body))}"
        trunc = " (truncated)" if outcome.truncated else ""
        took = f"{outcome.latency * 1000:.1f} ms"
        body = f"{_name(outcome.tool)} {kind} in {took} → {sent}{trunc}"
        self._line(f"    {mark} ", body, colour)


def _counts(counter: Counter[str] | Mapping[str, int]) -> str:
    items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{_name(k)} {v}" for k, v in items) if items else "none"


def format_summary(stats: SessionStats) -> str:
    """The end-of-run summary: events by type, calls by outcome, rejections by reason."""
    calls = sum(stats.outcomes.values())
    lines = [
        "summary",
        f"  events      {sum(stats.events.values())} accepted: {_counts(stats.events)}",
        f"  tool calls  {calls}: "
        + ", ".join(
            f"{k.value} {stats.outcomes.get(k.value, 0)}"
            for k in OutcomeKind
            # Fenced calls happen only under cvibot serve: not a column of every run.
            if k is not OutcomeKind.FENCED or stats.outcomes.get(k.value)
        ),
        f"  rejected    {sum(stats.rejections.values())}: {_counts(stats.rejections)}",
        f"  dropped     {sum(stats.drops.values())}: {_counts(stats.drops)}",
        f"  sent        {sum(stats.sent.values())}: {_counts(stats.sent)}",
    ]
    if stats.late:
        lines.append(f"  late        {stats.late} (arrived after a higher seq)")
    return "\n".join(printable(line) for line in lines)
