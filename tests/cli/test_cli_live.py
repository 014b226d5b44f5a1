"""``cvibot run`` against live conversations, offline: the real SDK failing to reach the
room, conversations created (and ended) through a served fake of the Tavus API, and a
recording made through the Daily transport replayed with ``--check``."""

from __future__ import annotations

import asyncio
import json
import textwrap
import time
from pathlib import Path

import pytest
from cli_helpers import EXAMPLE_CONFIG, RunProcess, error_lines, invoke, write_text

from cvibot._runtime import Bot
from cvibot.config import load_config
from cvibot.transports._daily import DailyTransport, ReconnectPolicy
from cvibot.transports._recording import RecordingTransport
from doubles.fake_daily import FakeDaily, participant
from doubles.fake_tavus import FakeTavusAPI

ROOM = "https://tavus.daily.co/c0ffee"
API_KEY = "sk-test-0123456789"

TOOLS = '''
from cvibot import tool

@tool
def lookup_order(order_id: str) -> str:
    """Look up an order."""
    return ANSWER.format(order_id)

ANSWER = "order {} has shipped"
'''


def _daily_bot(folder: Path, extra: str = "") -> Path:
    write_text(folder / "live_tools.py", TOOLS)
    base = (
        "transport: {type: daily, join_timeout: 1.5, leave_timeout: 0.5}\nplugins: [live_tools]\n"
    )
    return write_text(folder / "bot.yaml", base + textwrap.dedent(extra))


@pytest.mark.real_sdk
def test_unreachable_room_fails_within_the_join_timeout(
    run_cvibot: RunProcess, tmp_path: Path
) -> None:
    config = _daily_bot(tmp_path)
    started = time.monotonic()
    result = run_cvibot("run", config, "--conversation-url", ROOM, "-q", cwd=tmp_path)
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert error_lines(result.stderr) == [
        f"error: the room {ROOM} could not be reached: no join within 1.5 s"
    ]
    assert "Traceback" not in result.stderr
    assert 1.5 <= elapsed < 6  # the SDK alone would take ~19 s to give up


@pytest.mark.real_sdk
def test_malformed_url_fails_at_once(run_cvibot: RunProcess, tmp_path: Path) -> None:
    started = time.monotonic()
    result = run_cvibot("run", EXAMPLE_CONFIG, "--conversation-url", "not a url", cwd=tmp_path)
    assert result.returncode == 1
    assert error_lines(result.stderr) == [
        "error: the room URL 'not a url' is not valid: it needs http:// or https:// and a "
        "host name (for example https://tavus.daily.co/<conversation_id>)"
    ]
    assert time.monotonic() - started < 5
    assert "Traceback" not in result.stderr


def test_daily_transport_without_a_room_is_a_config_error(tmp_path: Path) -> None:
    config = _daily_bot(tmp_path)
    result = invoke("run", config)
    assert result.exit_code == 2
    assert error_lines(result.stderr) == [
        f"error: {config}:1: conversation: the daily transport needs a room: set "
        "conversation.url or conversation.create, or pass --conversation-url"
    ]


def test_create_without_an_api_key_is_a_config_error(tmp_path: Path) -> None:
    config = _daily_bot(tmp_path, "conversation: {create: {persona_id: p1}}\n")
    result = invoke("run", config, env={"TAVUS_API_KEY": None})
    assert result.exit_code == 2
    (line,) = error_lines(result.stderr)
    assert line.startswith(f"error: {config}:")
    assert "tavus.api_key: creating a conversation needs a Tavus API key" in line


@pytest.mark.real_sdk
def test_created_conversation_is_printed_joined_and_ended(
    run_cvibot: RunProcess, tmp_path: Path
) -> None:
    fake = FakeTavusAPI(api_key=API_KEY)
    fake.add_persona(persona_id="p-shop", persona_name="Shop", default_replica_id="r-1")
    with fake.serve() as base_url:
        config = _daily_bot(
            tmp_path,
            f"""
            conversation:
              create: {{persona_id: p-shop, name: Support, greeting: Hello there}}
            tavus: {{api_key: "${{TAVUS_API_KEY}}", base_url: "{base_url}"}}
            """,
        )
        result = run_cvibot("run", config, cwd=tmp_path, extra_env={"TAVUS_API_KEY": API_KEY})
    # The fake hands out a tavus.daily.co room, which cannot be reached offline.
    assert result.returncode == 1
    (created,) = fake.conversations.values()
    cid = created["conversation_id"]
    assert f"conversation {cid}: open https://tavus.daily.co/{cid} to talk" in result.stdout
    calls = [(r.method, r.path) for r in fake.requests]
    assert calls == [("POST", "/conversations"), ("POST", f"/conversations/{cid}/end")]
    body = fake.requests[0].json
    assert body == {
        "persona_id": "p-shop",
        "conversation_name": "Support",
        "custom_greeting": "Hello there",
    }
    assert created["status"] == "ended"
    assert API_KEY not in result.stdout + result.stderr


@pytest.mark.real_sdk
def test_a_refused_api_key_fails_in_one_line(run_cvibot: RunProcess, tmp_path: Path) -> None:
    fake = FakeTavusAPI(api_key="the-right-key")
    with fake.serve() as base_url:
        config = _daily_bot(
            tmp_path,
            f"""
            conversation: {{create: {{persona_id: p1}}}}
            tavus: {{base_url: "{base_url}"}}
            """,
        )
        result = run_cvibot("run", config, cwd=tmp_path, extra_env={"TAVUS_API_KEY": API_KEY})
    assert result.returncode == 1
    (line,) = error_lines(result.stderr)
    assert "401" in line and "API key" in line
    assert API_KEY not in result.stderr
    assert "Traceback" not in result.stderr


ANNA = participant("Anna", "tavus-replica-r1")
BEN = participant("Ben", "user-ben")


def _call(tcid: str, order_id: str, seq: int) -> dict[str, object]:
    return {
        "message_type": "conversation",
        "event_type": "conversation.tool_call",
        "conversation_id": "c0ffee",
        "seq": seq,
        "properties": {
            "name": "lookup_order",
            "arguments": json.dumps({"order_id": order_id}),
            "tool_call_id": tcid,
        },
    }


async def _record_through_daily(config: Path, recording: Path) -> None:
    bot = Bot.from_config(load_config(config), autoload=False)
    fake = FakeDaily(join_outcome="ok", join_delay=0.01, remote_participants=[ANNA, BEN])
    daily = DailyTransport(
        ROOM,
        sdk=fake,
        join_timeout=1,
        leave_timeout=0.5,
        release_timeout=1,
        reconnect=ReconnectPolicy(max_attempts=1, initial_backoff=0.01, max_backoff=0.01),
    )
    serving = asyncio.create_task(bot.run(RecordingTransport(daily, recording)))
    deadline = time.monotonic() + 5
    while not (fake.clients and fake.client.joined):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    client = fake.client
    client.inject_app_message(_call("t1", "A1", 1), ANNA["id"])
    client.inject_app_message(_call("forged", "A9", 2), BEN["id"])  # a human's forgery
    client.inject_app_message(_call("t2", "A2", 3), ANNA["id"])
    while sum(1 for m, _ in client.sent if m.get("event_type") == "conversation.tool_result") < 2:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    client.inject_app_message(
        {
            "message_type": "system",
            "event_type": "system.shutdown",
            "conversation_id": "c0ffee",
            "properties": {"shutdown_reason": "end_conversation_endpoint_hit"},
        },
        ANNA["id"],
    )
    session = await asyncio.wait_for(serving, 5)
    assert session.stats.drops["untrusted_sender"] == 1


def test_a_daily_recording_replays_with_check(run_cvibot: RunProcess, tmp_path: Path) -> None:
    config = _daily_bot(tmp_path, "conversation: {id: c0ffee}\n")
    recording = tmp_path / "live.jsonl"
    asyncio.run(_record_through_daily(config, recording))
    lines = [json.loads(line) for line in recording.read_text(encoding="utf-8").splitlines()]
    joined = [
        line["participant"]["user_name"] for line in lines if line["direction"] == "participant"
    ]
    assert sorted(joined) == ["Anna", "Ben"]
    outs = [line["message"]["properties"] for line in lines if line["direction"] == "out"]
    assert sorted(o["tool_call_id"] for o in outs) == ["t1", "t2"]

    same = run_cvibot("replay", config, recording, "--check", "-q", cwd=tmp_path)
    assert same.returncode == 0, same.stderr
    assert "check: ok, the 2 outbound messages match" in same.stdout

    source = (tmp_path / "live_tools.py").read_text(encoding="utf-8")
    (tmp_path / "live_tools.py").write_text(source.replace("has shipped", "is lost"), "utf-8")
    changed = run_cvibot("replay", config, recording, "--check", "-q", cwd=tmp_path)
    assert changed.returncode == 1
    assert "tool_call_id=t1" in changed.stdout and "tool_call_id=t2" in changed.stdout
    assert '"order A1 has shipped" -> "order A1 is lost"' in changed.stdout
    assert "forged" not in changed.stdout  # the forged call stays dropped on replay
