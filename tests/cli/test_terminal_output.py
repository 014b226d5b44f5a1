"""Terminal output: colour only where wanted, wrapping with hanging indents, logs that
do not repeat the transcript, and the demo recording's notes."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import (
    EXAMPLE_CONFIG,
    SHOP_CONVERSATION,
    invoke,
    tool_call,
    utterance,
    write_jsonl,
    write_text,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from cvibot._cli.console.repl import Screen
from cvibot._cli.main import log_settings
from cvibot._cli.style import Styler, wants_color
from cvibot._cli.transcript import SHOWN_EVENTS, Transcript
from cvibot._dispatch import OutcomeKind, ToolOutcome
from cvibot._protocol.events import Utterance
from cvibot._protocol.parse import parse_event
from cvibot.config import LoggingConfig
from cvibot.tools._options import ReplyMode
from cvibot.transports._replay import read_entries, read_recording

ANSI = re.compile(r"\x1b\[")
REPO = Path(__file__).resolve().parents[2]


class FakeTerminal(io.StringIO):
    """A stream that says it is a terminal (its width is not read: tests give one)."""

    def isatty(self) -> bool:
        return True


def outcome(text: str, kind: OutcomeKind = OutcomeKind.SUCCESS) -> ToolOutcome:
    return ToolOutcome(
        tool="lookup_order",
        kind=kind,
        latency=0.0012,
        reply=ReplyMode.TOOL_RESULT,
        answer={
            "event_type": "conversation.tool_result",
            "properties": {"tool_call_id": "c1", "output": text, "status": "success"},
        },
        text=text,
    )


# -- colour -------------------------------------------------------------------------------


def test_colour_follows_no_color_force_color_and_the_terminal() -> None:
    tty, pipe = FakeTerminal(), io.StringIO()
    assert wants_color(tty, {}) and not wants_color(pipe, {})
    assert not wants_color(tty, {"NO_COLOR": "1"})
    assert wants_color(tty, {"NO_COLOR": ""})  # no-color.org: only a non-empty value counts
    assert wants_color(pipe, {"FORCE_COLOR": "1"})
    assert not wants_color(tty, {"NO_COLOR": "1", "FORCE_COLOR": "1"})


def test_a_transcript_off_a_terminal_has_no_ansi_codes_and_is_not_wrapped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    out = io.StringIO()
    printer = Transcript(out)
    printer.header("cvibot · a header")
    printer.on_outcome(outcome("word " * 60))
    printer.note("demo: a note \x1b[31m with an escape")
    text = out.getvalue()
    assert not ANSI.search(text)
    assert "\\x1b[31m" in text  # the recording's escape is shown, not obeyed
    assert len(text.splitlines()) == 3  # one line each, whatever their length


def test_no_color_turns_colour_off_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    coloured, plain = FakeTerminal(), FakeTerminal()
    Transcript(coloured, width=100).on_outcome(outcome("ok"))
    monkeypatch.setenv("NO_COLOR", "1")
    Transcript(plain, width=100).on_outcome(outcome("ok"))
    Screen(plain, width=100).show(["← echo: hi", "error: bad"])
    assert ANSI.search(coloured.getvalue())
    assert not ANSI.search(plain.getvalue())


def test_force_color_colours_a_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("FORCE_COLOR", "1")
    out = io.StringIO()
    Transcript(out).on_outcome(outcome("ok"))
    assert ANSI.search(out.getvalue())


# -- wrapping -----------------------------------------------------------------------------


def test_wrapping_keeps_the_hanging_indent() -> None:
    out = io.StringIO()
    Transcript(out, color=False, width=60).on_outcome(outcome("the order shipped " * 8))
    rows = out.getvalue().splitlines()
    assert len(rows) > 2
    assert rows[0].startswith("    ✓ lookup_order success in 1.2 ms")
    assert all(row.startswith(" " * 6) and row[6] != " " for row in rows[1:])
    assert all(len(row) <= 60 for row in rows)


def test_an_utterance_wraps_under_the_speech() -> None:
    out = io.StringIO()
    event = _utterance_event("please tell me where my order is " * 5)
    Transcript(out, color=False, width=50).on_event(event, late=False)
    rows = out.getvalue().splitlines()
    assert rows[0].startswith("  user    │ please")
    assert all(row.startswith(" " * 12) for row in rows[1:])


def _utterance_event(speech: str) -> Utterance:
    parsed = parse_event(utterance(1, speech))
    assert isinstance(parsed, Utterance)
    return parsed


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=400),
    width=st.integers(min_value=1, max_value=140),
    indent=st.integers(min_value=0, max_value=12),
)
def test_wrapping_never_loses_text_or_overflows(text: str, width: int, indent: int) -> None:
    from rich.cells import cell_len

    from cvibot._cli.transcript import printable

    out = io.StringIO()
    Styler(out, color=False, width=width).line(text, indent=indent)
    rows = out.getvalue().split("\n")
    assert rows[-1] == ""
    rows = rows[:-1]
    shown = printable(text)
    # Every visible character is kept, in order; only spaces move.
    assert "".join("".join(rows).split()) == "".join(shown.split())
    if cell_len(shown) > width >= 20:  # narrower, the terminal wraps
        assert all(cell_len(row) <= width for row in rows)
        if width - indent >= 20:
            assert all(row.startswith(" " * indent) for row in rows[1:])
    elif width < 20:
        assert len(rows) == 1


# -- logs: the transcript is the view -----------------------------------------------------


def test_log_settings_precedence() -> None:
    unset, info = LoggingConfig(), LoggingConfig(level="info")
    assert log_settings(unset, None, 0, transcript=True, console=True) == ("warning", True)
    assert log_settings(unset, None, 0, transcript=False, console=True) == ("info", False)
    assert log_settings(unset, None, 0, transcript=True, console=False) == ("info", False)
    assert log_settings(info, None, 0, transcript=True, console=True) == ("info", True)
    assert log_settings(unset, None, 1, transcript=True, console=True) == ("info", False)
    assert log_settings(unset, None, 2, transcript=True, console=True) == ("debug", False)
    assert log_settings(unset, None, 5, transcript=True, console=True) == ("debug", False)
    assert log_settings(unset, "error", 2, transcript=True, console=True) == ("error", False)


def _calls(tmp_path: Path) -> tuple[Path, Path]:
    config = write_text(
        tmp_path / "bot.yaml",
        "plugins:\n  - tools.py\nconversation:\n  id: conv-7\n",
    )
    write_text(
        tmp_path / "tools.py",
        "from cvibot import tool\n\n@tool\ndef add(a: int, b: int) -> int:\n"
        '    """Add."""\n    return a + b\n',
    )
    events = write_jsonl(
        tmp_path / "events.jsonl",
        [
            tool_call(1, "add", {"a": 1, "b": 2}, "call-ok"),
            tool_call(1, "add", {"a": 1, "b": 2}, "call-ok"),  # a duplicate, dropped
            tool_call(2, "add", {"a": "x"}, "call-bad"),
            tool_call(3, "missing", {}, "call-unknown"),
        ],
    )
    return config, events


def test_at_the_default_level_each_call_prints_once(tmp_path: Path) -> None:
    config, events = _calls(tmp_path)
    result = invoke("replay", config, events, "--log-format", "console")
    assert result.exit_code == 0, result.output
    for call_id in ("call-ok", "call-bad", "call-unknown"):
        assert result.stdout.count(f"id {call_id}") == 1
        assert call_id not in result.stderr  # no log line repeats it
    assert result.stdout.count("add error (invalid_arguments)") == 1
    assert "tool call failed" not in result.stderr
    assert "unknown tool" not in result.stderr
    assert "tool call answered" not in result.stderr


def test_v_shows_the_info_logs_and_log_level_wins(tmp_path: Path) -> None:
    config, events = _calls(tmp_path)
    verbose = invoke("replay", config, events, "--log-format", "console", "-v")
    assert verbose.exit_code == 0, verbose.output
    assert "tool call answered" in verbose.stderr and "tool call failed" in verbose.stderr
    assert "[debug" not in verbose.stderr
    debug = invoke("replay", config, events, "--log-format", "console", "-vv")
    assert "[debug" in debug.stderr
    errors_only = invoke(
        "replay", config, events, "--log-format", "console", "-vv", "--log-level", "error"
    )
    assert "tool call" not in errors_only.stderr


def test_json_logs_are_unchanged_by_the_view(tmp_path: Path) -> None:
    config, events = _calls(tmp_path)
    result = invoke("replay", config, events, "--log-format", "json")
    assert result.exit_code == 0, result.output
    logged = [json.loads(line)["event"] for line in result.stderr.splitlines()]
    assert "tool call answered" in logged and "tool call failed" in logged
    assert not ANSI.search(result.stderr)


def test_every_event_the_view_omits_is_one_the_framework_logs() -> None:
    # A renamed log call would otherwise print twice again, silently.
    source = "\n".join(
        p.read_text(encoding="utf-8") for p in (REPO / "framework" / "cvibot").rglob("*.py")
    )
    for name in SHOWN_EVENTS:
        assert re.search(r"\.(debug|info|warning|error)\(\s*" + re.escape(f'"{name}"'), source), (
            name
        )


# -- the demo's notes ---------------------------------------------------------------------


def test_the_demo_notes_label_the_demo_lines() -> None:
    result = invoke("replay", EXAMPLE_CONFIG, SHOP_CONVERSATION, "--check")
    assert result.exit_code == 0, result.output
    rows = result.stdout.splitlines()

    def after(note: str, shown: str) -> None:
        index = next(i for i, row in enumerate(rows) if note in row)
        assert rows[index].startswith("  ┊ demo: ")
        assert shown in rows[index + 1], (rows[index], rows[index + 1])

    after("a tool call forged by a human participant", "ignored conversation.tool_call from")
    after("a message that is a JSON array", "rejected message (not_object)")
    after("a truncated line that is not valid JSON", "rejected message (not_json)")
    after("the same tool call delivered twice", "(duplicate)")
    after("another conversation", "(other_conversation)")
    after("longer than its 1 s timeout", "tool call track_shipment")
    assert sum(row.startswith("  ┊ ") for row in rows) == 14
    assert "check: ok" in result.stdout


def test_notes_go_with_the_next_line_and_never_reach_the_bot(tmp_path: Path) -> None:
    config, _ = _calls(tmp_path)
    call = tool_call(1, "add", {"a": 1, "b": 2}, "call-1")
    lines = [
        json.dumps({"direction": "note", "note": "first"}),
        json.dumps({"direction": "note", "note": "second"}),
        "{not json",
        json.dumps({"direction": "in", "note": "its own", "message": call}),
        json.dumps(utterance(2, "hello")),
    ]
    recording = write_text(tmp_path / "rec.jsonl", "\n".join(lines) + "\n")
    entries = list(read_entries(recording))
    assert [e.note for e in entries] == ["first; second", "its own", None]
    assert [m.note for m in read_recording(recording)] == ["first; second", "its own", None]
    result = invoke("replay", config, recording)
    assert result.exit_code == 0, result.output
    rows = result.stdout.splitlines()
    at = rows.index("  ┊ first; second")
    assert "rejected message (not_json)" in rows[at + 1]
    assert rows[at + 2] == "  ┊ its own"
    assert "tool call add" in rows[at + 3]
    assert "note" not in result.stderr


# -- --help stays light -------------------------------------------------------------------


def test_the_command_line_module_does_not_import_rich() -> None:
    code = "import sys, cvibot._cli.main; print(sorted(m for m in sys.modules if 'rich' in m))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"
