"""The transcript prints hostile text safely: lone surrogates, control characters, huge
fields. Its stream is strict UTF-8, as a terminal's stdout is."""

from __future__ import annotations

import io
from collections import Counter

from cvibot._cli.transcript import Transcript, format_summary, printable
from cvibot._dispatch import ErrorKind, OutcomeKind, ToolOutcome
from cvibot._participants import Participant
from cvibot._protocol import parse_event
from cvibot._protocol.events import Event, ToolCall, UnknownEvent, Utterance
from cvibot._protocol.parse import Rejection
from cvibot._session import DropReason, SessionStats
from cvibot.tools._options import ReplyMode

LONE = "\ud83d"
HUGE = "spam " * 300_000  # 1.5 MB


def strict_stream() -> tuple[io.TextIOWrapper, io.BytesIO]:
    raw = io.BytesIO()
    return io.TextIOWrapper(raw, encoding="utf-8", errors="strict", write_through=True), raw


def show(*calls: tuple[str, tuple[object, ...], dict[str, object]]) -> list[str]:
    stream, raw = strict_stream()
    transcript = Transcript(stream, color=False)
    for name, args, kwargs in calls:
        getattr(transcript, name)(*args, **kwargs)
    return raw.getvalue().decode("utf-8").splitlines()


def test_lone_surrogates_and_escapes_are_printed_safely() -> None:
    speech = Utterance(
        event_type="conversation.utterance",
        role="user",
        original_role="user",
        speech=f"hi {LONE}\x1b[2J there\u202e",
    )
    call = ToolCall(
        event_type="conversation.tool_call",
        seq=3,
        name=f"look{LONE}up",
        arguments={f"k{LONE}": f"v{LONE}\x1b]0;title\x07"},
        tool_call_id=f"t{LONE}",
    )
    unknown = UnknownEvent(event_type=f"x.{LONE}\n")
    outcome = ToolOutcome(
        kind=OutcomeKind.ERROR,
        tool=f"look{LONE}up",
        reply=ReplyMode.TOOL_RESULT,
        latency=0.001,
        text=f"bad {LONE}",
        error=ErrorKind.TOOL_ERROR,
    )
    rejection = parse_event(f'{{"event_type": "conversation.tool_call", "x": "{LONE}"')
    assert isinstance(rejection, Rejection)
    lines = show(
        ("on_event", (speech,), {"late": False}),
        ("on_event", (call,), {"late": True}),
        ("on_event", (unknown,), {"late": False}),
        ("on_outcome", (outcome,), {}),
        ("on_rejection", (rejection,), {}),
        ("on_drop", (unknown, DropReason.DUPLICATE), {}),
        ("on_untrusted", ({"event_type": f"{LONE}"}, f"human{LONE}"), {}),
    )
    text = "\n".join(lines)
    assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
    assert "hi \ufffd\\x1b[2J there\\u202e" in lines[0]
    assert "look\ufffdup(k\ufffd=" in lines[1] and "id t\ufffd" in lines[1]
    assert lines[2].endswith("unhandled event x.\ufffd")  # whitespace folded
    assert len(lines) == 7  # one line each: no newline got through


def test_huge_fields_are_cut_to_a_preview() -> None:
    speech = Utterance(
        event_type="conversation.utterance", role="user", original_role="user", speech=HUGE
    )
    call = ToolCall(
        event_type="conversation.tool_call",
        name="n" * 100_000,
        arguments={"a": HUGE, "b": [HUGE] * 3, **{f"k{i}": i for i in range(10_000)}},
        tool_call_id="t" * 100_000,
    )
    events: list[Event] = [speech, call]
    lines = show(*(("on_event", (e,), {"late": False}) for e in events))
    assert len(lines) == 2
    assert all(len(line) < 600 for line in lines)
    assert lines[0].endswith("…")


def test_summary_shows_hostile_event_types_safely() -> None:
    stats = SessionStats()
    stats.events = Counter({f"x.{LONE}\x1b" + "y" * 5000: 2})
    summary = format_summary(stats)
    summary.encode("utf-8")
    assert "\x1b" not in summary and len(summary) < 2000


def test_a_terminal_that_is_not_utf8_gets_escapes_not_a_traceback() -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii", errors="strict", write_through=True)
    Transcript(stream, color=False).on_participant(
        "joined", Participant(id="p1", user_name="Zoë ☕"), replica=False
    )
    assert raw.getvalue().decode("ascii") == (
        "  \\xb7 participant p1 (Zo\\xeb \\u2615) joined the room\n"
    )


def test_printable() -> None:
    assert printable("ok é 😀") == "ok é 😀"
    assert printable(f"a{LONE}\x00\x7f\x9b\u2066") == "a\ufffd\\x00\\x7f\\x9b\\u2066"
