"""A config without ``transport:`` works wherever the command supplies the transport."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from console_helpers import console, cvibot_exe, environment, write_bot

from cvibot._cli.main import _plan_from_config, load_bot


def _cvibot(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [cvibot_exe(), *map(str, args)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=environment(),
        cwd=cwd,
        timeout=60,
    )


def test_replay_check_tools_and_console_take_a_config_without_transport(tmp_path: Path) -> None:
    config = write_bot(tmp_path)
    assert "transport" not in config.read_text(encoding="utf-8")
    call = {
        "message_type": "conversation",
        "event_type": "conversation.tool_call",
        "conversation_id": "c",
        "seq": 1,
        "properties": {"name": "add", "arguments": '{"a": 1, "b": 2}', "tool_call_id": "t"},
    }
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(call) + "\n", encoding="utf-8")

    replay = _cvibot("replay", config, events, "--out", tmp_path / "out.jsonl", cwd=tmp_path)
    assert replay.returncode == 0, replay.stderr
    [answer] = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert answer["properties"]["output"] == "3"

    check = _cvibot("check", config, cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert ": ok" in check.stdout

    tools = _cvibot("tools", "show", config, "--format", "registry", cwd=tmp_path)
    assert tools.returncode == 0, tools.stderr
    assert '"name": "add"' in tools.stdout

    talk = console(config, ["/call add a=1 b=2"])
    assert talk.returncode == 0, talk.stderr
    assert '(tool_call_id "call-1")\n    3\n' in talk.stdout


def test_run_without_transport_or_url_is_a_located_config_error(tmp_path: Path) -> None:
    config = write_bot(tmp_path)
    result = _cvibot("run", config, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {config}:1: transport: required by cvibot run")
    assert "--conversation-url" in result.stderr


def test_run_with_a_conversation_url_needs_no_transport(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    bot = load_bot(write_bot(tmp_path))
    plan = _plan_from_config(bot, "https://example.daily.co/room", None, None)
    assert plan.url == "https://example.daily.co/room"
    assert plan.transport is None and plan.daily is None
