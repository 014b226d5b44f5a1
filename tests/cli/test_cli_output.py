"""What the command line writes: a stdout closed early, owner-only recordings, and a
replay that does not keep what it sends."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import (
    CONVERSATION_ID,
    RunProcess,
    invoke,
    read_jsonl,
    shutdown,
    tool_call,
    utterance,
    write_jsonl,
    write_text,
)

import cvibot._cli.main as cli_main
from cvibot._cli.live import Plan
from cvibot._listening import SessionListener
from cvibot._runtime import Bot
from cvibot._session import Session
from cvibot.transports._private_file import PRIVATE_MODE, open_private

ECHO_TOOLS = """
from cvibot import tool

@tool
def echo_back(text: str) -> str:
    \"\"\"Say it back.\"\"\"
    return f"you said {text}"
"""

# A plugin with enough tools that `tools show` writes more than a pipe holds (64 KB).
MANY_TOOLS = """
from cvibot import tool

def _make(i):
    def handler(text: str) -> str:
        return text
    handler.__name__ = f"tool_{i}"
    return tool(name=f"tool_{i}", description="Say it back. " + "word " * 60)(handler)

for _i in range(300):
    globals()[f"tool_{_i}"] = _make(_i)
"""


def _bot(folder: Path, pace: str = "fast", tools: str = ECHO_TOOLS) -> Path:
    write_text(folder / "echo_tools.py", tools)
    return write_text(
        folder / "bot.yaml",
        f"""
        conversation: {{id: {CONVERSATION_ID}}}
        transport: {{type: replay, path: rec.jsonl, pace: {pace}, out: out.jsonl}}
        plugins: [echo_tools]
        logging: {{level: info, format: json}}
        """,
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- a closed stdout -----------------------------------------------------------------------


def _read_one_line_then_close(
    argv: Sequence[str | os.PathLike[str]], cwd: Path
) -> tuple[str, str, int]:
    """Start ``argv``, read one line of its stdout, close it (as ``| head -1`` does);
    returns that line, the whole stderr and the exit status."""
    proc = subprocess.Popen(
        [os.fspath(a) for a in argv],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    try:
        stderr = proc.stderr.read()
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    return first.decode(), stderr.decode(), code


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")
def test_run_into_a_closed_pipe_stops_quietly(cvibot_exe: str, tmp_path: Path) -> None:
    config = _bot(tmp_path, pace="recorded")
    write_jsonl(
        tmp_path / "rec.jsonl",
        [
            {"direction": "in", "at": 0.0, "message": utterance(1, "hello")},
            # Printed after the reader is gone, whatever the timing.
            {
                "direction": "in",
                "at": 1.0,
                "message": tool_call(2, "echo_back", {"text": "a"}, "t1"),
            },
            {"direction": "in", "at": 30.0, "message": shutdown()},
        ],
    )
    started = time.monotonic()
    first, stderr, code = _read_one_line_then_close([cvibot_exe, "run", config], tmp_path)
    elapsed = time.monotonic() - started

    assert first.startswith("cvibot · replay")
    assert code == 141
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr
    assert "Exception ignored" not in stderr
    # It stopped as on a signal, not after the 30 s the recording lasts.
    assert '"reason": "closed stdout", "event": "leaving conversation"' in stderr
    assert elapsed < 20


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")
def test_tools_show_into_a_closed_pipe_ends_quietly(cvibot_exe: str, tmp_path: Path) -> None:
    config = _bot(tmp_path, tools=MANY_TOOLS)
    write_jsonl(tmp_path / "rec.jsonl", [])
    first, stderr, code = _read_one_line_then_close([cvibot_exe, "tools", "show", config], tmp_path)

    assert first.strip()
    assert code == 141
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr
    assert "Exception ignored" not in stderr


# -- owner-only files ----------------------------------------------------------------------


def _conversation(folder: Path) -> None:
    write_jsonl(
        folder / "rec.jsonl",
        [tool_call(1, "echo_back", {"text": "hi"}, "t1"), shutdown()],
    )


def test_recordings_and_replay_output_are_owner_only(
    run_cvibot: RunProcess, tmp_path: Path
) -> None:
    config = _bot(tmp_path)
    _conversation(tmp_path)
    # An existing world-readable file loses its group and other permissions.
    (tmp_path / "out.jsonl").write_text("old\n", encoding="utf-8")
    os.chmod(tmp_path / "out.jsonl", 0o644)

    result = run_cvibot("run", config, "--record", "recorded.jsonl", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert _mode(tmp_path / "recorded.jsonl") == 0o600
    assert _mode(tmp_path / "out.jsonl") == 0o600
    assert len(read_jsonl(tmp_path / "out.jsonl")) == 1

    replayed = run_cvibot(
        "replay", config, "recorded.jsonl", "--out", "again.jsonl", "--check", "-q", cwd=tmp_path
    )
    assert replayed.returncode == 0, replayed.stderr
    assert _mode(tmp_path / "again.jsonl") == 0o600


def test_open_private_creates_0600_narrows_and_never_widens(tmp_path: Path) -> None:
    old = os.umask(0)  # even with nothing masked
    try:
        with open_private(tmp_path / "new.jsonl") as handle:
            handle.write(b"x\n")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "new.jsonl") == PRIVATE_MODE == 0o600

    wide = tmp_path / "wide.jsonl"
    wide.write_bytes(b"old contents\n")
    os.chmod(wide, 0o666)
    with open_private(wide) as handle:
        handle.write(b"new\n")
    assert _mode(wide) == 0o600 and wide.read_bytes() == b"new\n"

    narrow = tmp_path / "narrow.jsonl"
    narrow.write_bytes(b"")
    os.chmod(narrow, 0o200)  # write-only for its owner: stays so
    with open_private(narrow) as handle:
        handle.write(b"y\n")
    assert _mode(narrow) == 0o200


@pytest.mark.skipif(not os.path.exists(os.devnull), reason="needs /dev/null")
def test_open_private_leaves_devices_alone() -> None:
    before = _mode(Path(os.devnull))
    with open_private(Path(os.devnull)) as handle:
        handle.write(b"discarded\n")
    assert _mode(Path(os.devnull)) == before


# -- replay keeps nothing it sends without --check --------------------------------------------


def _spy_listeners(monkeypatch: pytest.MonkeyPatch) -> list[list[SessionListener]]:
    seen: list[list[SessionListener]] = []
    real = cli_main._serve

    def spy(
        bot: Bot, plan: Plan, *, transcript: bool, listeners: Sequence[SessionListener] = ()
    ) -> Session:
        seen.append(list(listeners))
        return real(bot, plan, transcript=transcript, listeners=listeners)

    monkeypatch.setattr(cli_main, "_serve", spy)
    return seen


def _many_calls(folder: Path, n: int) -> Path:
    lines: list[dict[str, Any]] = [
        tool_call(i, "echo_back", {"text": str(i)}, f"t{i}") for i in range(1, n + 1)
    ]
    return write_jsonl(folder / "many.jsonl", lines)


def test_replay_without_check_keeps_no_outbound_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _bot(tmp_path)
    events = _many_calls(tmp_path, 50)
    seen = _spy_listeners(monkeypatch)

    result = invoke("replay", config, events, "--out", tmp_path / "sent.jsonl", "-q")

    assert result.exit_code == 0, result.stderr
    assert seen == [[]]  # no listener collects what is sent
    assert len(read_jsonl(tmp_path / "sent.jsonl")) == 50  # streamed to --out instead


def test_replay_with_check_still_compares(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _bot(tmp_path)
    recording = tmp_path / "recorded.jsonl"
    _conversation(tmp_path)
    assert invoke("run", config, "--record", recording, "-q").exit_code == 0
    seen = _spy_listeners(monkeypatch)

    result = invoke("replay", config, recording, "--check", "-q")

    assert result.exit_code == 0, result.stderr
    assert "check: ok, the 1 outbound message match" in result.stdout
    [listeners] = seen
    assert len(listeners) == 1
