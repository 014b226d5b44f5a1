"""``cvibot dev``: the bot restarts when a watched file changes, with the new code."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_helpers import cvibot_exe, environment

from cvibot._cli.dev import watched

_WAIT = 90.0  # seconds for any expected line: generous for a loaded 2-core machine

TOOLS = '''
from cvibot import tool


@tool
def version() -> str:
    """Which version of the tools runs."""
    return "{version}"
'''


class Output:
    """The merged output lines of a process, read by a thread."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert process.stdout is not None
        stream = process.stdout
        threading.Thread(target=lambda: [self.lines.put(x) for x in stream], daemon=True).start()

    def expect(self, text: str) -> None:
        deadline = time.monotonic() + _WAIT
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return
        raise AssertionError(f"{text!r} not seen in {_WAIT:g} s; got:\n{''.join(self.seen)}")


def _bot(folder: Path) -> Path:
    tools = folder / "tools"
    tools.mkdir(parents=True)
    (tools / "versioned.py").write_text(TOOLS.format(version="v1"), encoding="utf-8")
    call = {
        "message_type": "conversation",
        "event_type": "conversation.tool_call",
        "conversation_id": "c",
        "seq": 1,
        "properties": {"name": "version", "arguments": "{}", "tool_call_id": "t1"},
    }
    bot = folder / "bot"
    bot.mkdir()
    (bot / "conversation.jsonl").write_text(json.dumps(call) + "\n", encoding="utf-8")
    config = bot / "bot.yaml"
    config.write_text(
        f"plugins:\n  - module: {tools / 'versioned.py'}\n"
        "transport: {type: replay, path: conversation.jsonl}\n",
        encoding="utf-8",
    )
    return config


@contextlib.contextmanager
def _dev(
    config: Path, *, sigint: signal.Handlers = signal.SIG_DFL
) -> Iterator[tuple[subprocess.Popen[str], Output]]:
    """``cvibot dev CONFIG`` started with SIGINT at ``sigint`` (``SIG_IGN``: as a
    script's background job), and its merged output. On the way out, dev and any
    process still naming the config (a bot left behind) are killed."""
    process = subprocess.Popen(
        [cvibot_exe(), "dev", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        env=environment(),
        cwd=config.parent.parent,
        preexec_fn=lambda: signal.signal(signal.SIGINT, sigint),
    )
    try:
        yield process, Output(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in _running_processes_naming(str(config)):
            os.kill(pid, signal.SIGKILL)
        assert process.stdout is not None
        process.stdout.close()


def test_watched_folders_are_the_configs_and_its_plugin_modules(tmp_path: Path) -> None:
    config = _bot(tmp_path)
    (tmp_path / "extra").mkdir()
    (tmp_path / "bot" / "local").mkdir()
    (tmp_path / "bot" / "local" / "__init__.py").write_text("", encoding="utf-8")
    assert watched(config) == [tmp_path / "bot", tmp_path / "tools"]
    folders = watched(config, ["../extra/more.py", "local.sub", "no:x", "not-installed"])
    # local is inside the config's folder, watched already; "no:" names nothing
    assert folders == [tmp_path / "bot", tmp_path / "extra", tmp_path / "tools"]
    # a config that does not load is still watched, through its folder
    config.write_text("plugins: 7\n", encoding="utf-8")
    assert watched(config) == [tmp_path / "bot"]


@pytest.mark.parametrize("inherited", [signal.SIG_DFL, signal.SIG_IGN], ids=["default", "ignored"])
def test_a_changed_tools_module_restarts_the_bot_with_the_new_code(
    tmp_path: Path, inherited: signal.Handlers
) -> None:
    """…and Ctrl-C ends dev with 130, also when dev started with SIGINT ignored (a
    script's background job)."""
    config = _bot(tmp_path)
    with _dev(config, sigint=inherited) as (process, out):
        out.expect("tool_result: v1")
        # Printed from inside the watch loop: the folders are being watched by now.
        out.expect("the bot exited with status 0; waiting for a change")
        (tmp_path / "tools" / "versioned.py").write_text(
            TOOLS.format(version="v2"), encoding="utf-8"
        )
        out.expect("versioned.py changed: restarting")
        out.expect("tool_result: v2")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=_WAIT) == 130


def _running_processes_naming(text: str) -> list[int]:
    """The pids of live processes whose command line contains ``text`` (Linux /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue  # gone meanwhile
        if text in cmdline and state != "Z":
            pids.append(int(entry.name))
    return pids


def test_sigterm_to_dev_stops_the_bot_it_runs_then_exits_143(tmp_path: Path) -> None:
    """``run`` has a session of its own: a SIGTERM sent to dev alone (an editor's stop
    button) must not leave the bot running in its room."""
    config = _bot(tmp_path)
    # A conversation that stays open: its next event is recorded ten minutes later.
    later = {
        "message_type": "conversation",
        "event_type": "conversation.utterance",
        "conversation_id": "c",
        "seq": 2,
        "timestamp": 600.0,
        "properties": {"role": "user", "speech": "still there?"},
    }
    recording = config.parent / "conversation.jsonl"
    first = json.loads(recording.read_text(encoding="utf-8"))
    first["timestamp"] = 0.0
    recording.write_text(json.dumps(first) + "\n" + json.dumps(later) + "\n", encoding="utf-8")
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "path: conversation.jsonl", "path: conversation.jsonl, pace: recorded"
        ),
        encoding="utf-8",
    )
    with _dev(config) as (process, out):
        out.expect("tool_result: v1")
        bots = [pid for pid in _running_processes_naming(str(config)) if pid != process.pid]
        assert len(bots) == 1, bots  # the run child, waiting for the next event
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=_WAIT) == 143
        out.expect("run summary")  # the bot stopped as on Ctrl-C, and said so
        assert _running_processes_naming(str(config)) == []
