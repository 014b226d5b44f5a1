"""Runtime failures: exit status 1 and one ``error: `` line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import (
    EXAMPLE_CONFIG,
    RunProcess,
    error_lines,
    invoke,
    shutdown,
    utterance,
    write_jsonl,
    write_text,
)

FAILING_STARTUP = """
from cvibot import hookimpl, tool

STARTED = []

@hookimpl
def cvibot_startup(settings):
    STARTED.append(dict(settings))
    raise RuntimeError("cannot open " + settings["db"])

@tool
def ping() -> str:
    \"\"\"Answer pong.\"\"\"
    return "pong"
"""


@pytest.fixture
def failing_startup(tmp_path: Path) -> Path:
    write_text(tmp_path / "failing_startup.py", FAILING_STARTUP)
    write_jsonl(tmp_path / "rec.jsonl", [utterance(1, "hello"), shutdown()])
    return write_text(
        tmp_path / "bot.yaml",
        """
        transport: {type: replay, path: rec.jsonl, out: out.jsonl}
        plugins:
          - {module: failing_startup, settings: {db: orders.sqlite}}
        logging: {format: json, level: warning}
        """,
    )


def test_missing_recording(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"

    result = invoke("replay", EXAMPLE_CONFIG, missing, "--quiet")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"error: recording not found: {missing}\n"


def test_missing_recording_of_the_config_in_a_real_process(
    tmp_path: Path, run_cvibot: RunProcess
) -> None:
    config = write_text(tmp_path / "bot.yaml", "transport: {type: replay, path: gone.jsonl}\n")

    done = run_cvibot("run", config)

    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [f"error: recording not found: {tmp_path / 'gone.jsonl'}"]


def test_unwritable_out_file(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "rec.jsonl", [utterance(1, "hello")])
    config = write_text(tmp_path / "bot.yaml", "transport: {type: replay, path: rec.jsonl}\n")
    blocker = write_text(tmp_path / "a_file", "not a folder\n")

    result = invoke("replay", config, tmp_path / "rec.jsonl", "--out", blocker / "out.jsonl", "-q")

    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: cannot write {blocker / 'out.jsonl'}: ")


def test_failing_startup_hook_exits_1_naming_the_plugin(failing_startup: Path) -> None:
    result = invoke("run", failing_startup, "--quiet")

    assert result.exit_code == 1
    assert error_lines(result.stderr) == [
        "error: plugin 'failing_startup' failed to start: RuntimeError: cannot open orders.sqlite"
    ]
    # The bot did not start: nothing was opened or sent.
    assert not (failing_startup.parent / "out.jsonl").exists()
    assert result.stdout == ""


def test_failing_startup_hook_in_a_real_process(
    failing_startup: Path, run_cvibot: RunProcess
) -> None:
    done = run_cvibot("run", failing_startup)

    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert error_lines(done.stderr) == [
        "error: plugin 'failing_startup' failed to start: RuntimeError: cannot open orders.sqlite"
    ]
    assert "Traceback (most recent call last)" not in done.stderr
    # Everything else on stderr is the JSON log, which records the failure with its plugin.
    records = [json.loads(line) for line in lines if not line.startswith("error: ")]
    [record] = [r for r in records if r["event"] == "plugin failed to start"]
    assert record["plugin"] == "failing_startup"
    assert record["level"] == "error"
    assert record["exception"][0]["exc_type"] == "RuntimeError"
    assert not (failing_startup.parent / "out.jsonl").exists()
