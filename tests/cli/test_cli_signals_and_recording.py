"""SIGINT/SIGTERM drain in a real process, and ``run --record`` → ``replay --check``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import (
    CONVERSATION_ID,
    RunProcess,
    read_jsonl,
    shutdown,
    tool_call,
    utterance,
    write_jsonl,
    write_text,
)

SLOW_TOOLS = """
import time
from cvibot import tool

@tool(timeout=30)
def slow(seconds: float) -> str:
    \"\"\"Take a while.\"\"\"
    time.sleep(seconds)
    return f"slept {seconds}"

@tool
def echo_back(text: str) -> str:
    \"\"\"Say it back.\"\"\"
    return ANSWER.format(text)

ANSWER = "you said {}"
"""


def _bot(folder: Path, *, pace: str = "fast", grace: float = 10) -> Path:
    write_text(folder / "slow_tools.py", SLOW_TOOLS)
    return write_text(
        folder / "bot.yaml",
        f"""
        conversation: {{id: {CONVERSATION_ID}}}
        transport: {{type: replay, path: rec.jsonl, pace: {pace}, out: out.jsonl}}
        plugins: [slow_tools]
        dispatch: {{shutdown_grace: {grace}}}
        logging: {{level: info, format: json}}
        """,
    )


def _start_until(cvibot_exe: str, config: Path, needle: str) -> subprocess.Popen[str]:
    """Start ``cvibot run CONFIG``; return once its transcript printed ``needle``."""
    proc = subprocess.Popen(
        [cvibot_exe, "run", os.fspath(config)],
        cwd=config.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:  # the transcript flushes every line
        if needle in line:
            return proc
    proc.wait(timeout=10)
    raise AssertionError(f"{needle!r} never printed; stderr: {proc.stderr and proc.stderr.read()}")


def _slow_recording(folder: Path) -> None:
    write_jsonl(
        folder / "rec.jsonl",
        [
            {"direction": "in", "at": 0.0, "message": tool_call(1, "slow", {"seconds": 1.0}, "t1")},
            # Far in the future: the run would last a minute without the signal.
            {"direction": "in", "at": 60.0, "message": shutdown()},
        ],
    )


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_drains_the_running_call_and_answers_it(
    cvibot_exe: str, tmp_path: Path, signum: int
) -> None:
    config = _bot(tmp_path, pace="recorded")
    _slow_recording(tmp_path)
    proc = _start_until(cvibot_exe, config, "tool call slow")
    started = time.monotonic()
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=15)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, stderr
    assert elapsed < 5  # not the minute the recording lasts
    (answer,) = read_jsonl(tmp_path / "out.jsonl")
    assert answer["properties"] == {
        "tool_call_id": "t1",
        "output": "slept 1.0",
        "status": "success",
    }
    name = signal.Signals(signum).name
    assert f"{name}: finishing running tool calls" in stderr
    assert "slow success" in stdout
    assert "Traceback" not in stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_second_signal_exits_at_once(cvibot_exe: str, tmp_path: Path) -> None:
    config = _bot(tmp_path, pace="recorded")
    write_jsonl(
        tmp_path / "rec.jsonl",
        [
            {"direction": "in", "at": 0.0, "message": tool_call(1, "slow", {"seconds": 20}, "t1")},
            {"direction": "in", "at": 60.0, "message": shutdown()},
        ],
    )
    proc = _start_until(cvibot_exe, config, "tool call slow")
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    assert proc.poll() is None  # draining: the call has 10 s of grace
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 130
    assert time.monotonic() - started < 3
    assert "SIGINT again: exiting now" in stderr
    assert "Traceback" not in stderr


def test_run_record_then_replay_check(run_cvibot: RunProcess, tmp_path: Path) -> None:
    config = _bot(tmp_path)
    write_jsonl(
        tmp_path / "rec.jsonl",
        [
            utterance(1, "say hi back"),
            tool_call(2, "echo_back", {"text": "hi"}, "t1"),
            tool_call(3, "echo_back", {"text": "bye"}, "t2"),
            shutdown(),
        ],
    )
    recording = tmp_path / "recorded.jsonl"
    result = run_cvibot("run", config, "--record", recording, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = read_jsonl(recording)
    assert lines[0]["direction"] == "meta"
    directions = sorted(line["direction"] for line in lines[1:])
    assert directions == ["in"] * 4 + ["out"] * 2
    outs = [line["message"]["properties"]["output"] for line in lines if line["direction"] == "out"]
    assert sorted(outs) == ["you said bye", "you said hi"]

    same = run_cvibot("replay", config, recording, "--check", "--quiet", cwd=tmp_path)
    assert same.returncode == 0, same.stderr
    assert "check: ok, the 2 outbound messages match" in same.stdout

    source = (tmp_path / "slow_tools.py").read_text(encoding="utf-8")
    write_text(tmp_path / "slow_tools.py", source.replace("you said {}", "you told me {}"))
    changed = run_cvibot("replay", config, recording, "--check", "--quiet", cwd=tmp_path)
    assert changed.returncode == 1
    assert "tool_call_id=t1" in changed.stdout
    assert '"you said hi" -> "you told me hi"' in changed.stdout
    assert changed.stderr.splitlines()[-1] == (
        "error: what the bot sends differs from the recording"
    )


def test_replay_check_of_a_file_without_outbound_lines_compares_to_nothing(
    run_cvibot: RunProcess, tmp_path: Path
) -> None:
    config = _bot(tmp_path)
    write_jsonl(tmp_path / "rec.jsonl", [tool_call(1, "echo_back", {"text": "x"}, "t1")])
    result = run_cvibot("replay", config, tmp_path / "rec.jsonl", "--check", "-q", cwd=tmp_path)
    assert result.returncode == 1
    assert "unexpected" in result.stdout
