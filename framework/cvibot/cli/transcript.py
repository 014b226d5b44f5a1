"""The live transcript and the end-of-run summary a person reads in a terminal."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from typing import IO, Any

import click

from cvibot.dispatch import OutcomeKind, ToolOutcome
from cvibot.participants import Participant, ParticipantChange
from cvibot.protocol.events import (
    Event,
    PerceptionToolCall,
    ReplicaJoined,
    Shutdown,
    ToolCall,
    UnknownEvent,
    Utterance,
)
from cvibot.protocol.parse import Rejection, parse_event
from cvibot.session import DropReason, SessionListener, SessionStats

__all__ = ["Transcript", "format_summary"]

_PREVIEW = 160
_MARKS = {
    OutcomeKind.SUCCESS: ("✓", "green"),
    OutcomeKind.ERROR: ("✗", "red"),
    OutcomeKind.TIMEOUT: ("⏱", "yellow"),
    OutcomeKind.CANCELLED: ("⊘", "yellow"),
}


def _clip(text: str, limit: int = _PREVIEW) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _arguments(arguments: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in arguments.items())


class Transcript(SessionListener):
    """Prints speech, tool calls with their outcome, and anything rejected or dropped.

    Colours are used when ``color`` is true (on a terminal by default).
    """

    def __init__(self, stream: IO[str], *, color: bool | None = None) -> None:
        self._out = stream
        self._color = stream.isatty() if color is None else color

    def _line(self, text: str, **style: Any) -> None:
        if self._color and style:
            text = click.style(text, **style)
        self._out.write(text + "\n")
        self._out.flush()

    def header(self, text: str) -> None:
        self._line(text, bold=True)

    def on_event(self, event: Event, *, late: bool) -> None:
        note = f"  (late: seq {event.seq})" if late else ""
        if isinstance(event, Utterance):
            who = "user" if event.role == "user" else event.role
            self._line(
                f"  {who:<8}│ {_clip(event.speech)}{note}",
                fg="cyan" if event.role == "user" else "magenta",
            )
        elif isinstance(event, ToolCall):
            kind = "perception tool call" if isinstance(event, PerceptionToolCall) else "tool call"
            ids = [f"seq {event.seq}"] if event.seq is not None else []
            if event.tool_call_id:
                ids.append(f"id {event.tool_call_id}")
            suffix = f"  [{', '.join(ids)}]" if ids else ""
            self._line(
                f"  ⚙ {kind} {event.name}({_clip(_arguments(event.arguments), 120)}){suffix}{note}",
                bold=True,
            )
        elif event.is_replica_interruption:
            self._line(f"  · replica interrupted{note}", dim=True)
        elif isinstance(event, ReplicaJoined):
            self._line("  · replica joined", dim=True)
        elif isinstance(event, Shutdown):
            self._line(
                f"  · conversation shut down ({event.shutdown_reason or 'no reason given'})",
                dim=True,
            )
        elif isinstance(event, UnknownEvent):
            self._line(f"  · unhandled event {event.event_type}{note}", dim=True)

    def on_responded(self, utterance: Utterance, text: str) -> None:
        # What the replica is told to say under pipeline_mode echo, under the user's line.
        self._line(f"  {'↳ echo':<8}│ {_clip(text)}", fg="cyan")

    def on_rejection(self, rejection: Rejection) -> None:
        what = rejection.event_type or "message"
        answered = "  → answered with an error" if rejection.tool_call_id else ""
        self._line(
            f"  ✗ rejected {what} ({rejection.reason.value}): {_clip(rejection.detail, 120)}"
            f"{answered}",
            fg="red",
        )

    def on_drop(self, event: Event, reason: DropReason) -> None:
        seq = f" seq {event.seq}" if event.seq is not None else ""
        self._line(f"  · dropped {event.event_type}{seq} ({reason.value})", dim=True)

    def on_participant(
        self, change: ParticipantChange, participant: Participant, *, replica: bool
    ) -> None:
        if change == "updated":
            return
        who = "replica" if replica else "participant"
        self._line(f"  · {who} {participant.describe()} {change} the room", dim=True)

    def on_untrusted(self, message: Any, sender: str) -> None:
        parsed = parse_event(message)
        what = parsed.event_type or "message"
        self._line(
            f"  ✗ ignored {what} from {sender}: not the replica (untrusted_sender)", fg="red"
        )

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
        self._line(
            f"    {mark} {outcome.tool} {kind} in {outcome.latency * 1000:.1f} ms → {sent}{trunc}",
            fg=colour,
        )


def _counts(counter: Counter[str] | Mapping[str, int]) -> str:
    items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{k} {v}" for k, v in items) if items else "none"


def format_summary(stats: SessionStats) -> str:
    """The end-of-run summary: events by type, calls by outcome, rejections by reason."""
    calls = sum(stats.outcomes.values())
    lines = [
        "summary",
        f"  events      {sum(stats.events.values())} accepted: {_counts(stats.events)}",
        f"  tool calls  {calls}: "
        + ", ".join(f"{k.value} {stats.outcomes.get(k.value, 0)}" for k in OutcomeKind),
        f"  rejected    {sum(stats.rejections.values())}: {_counts(stats.rejections)}",
        f"  dropped     {sum(stats.drops.values())}: {_counts(stats.drops)}",
        f"  sent        {sum(stats.sent.values())}: {_counts(stats.sent)}",
    ]
    if stats.late:
        lines.append(f"  late        {stats.late} (arrived after a higher seq)")
    return "\n".join(lines)
