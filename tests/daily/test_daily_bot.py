"""End to end: a bot built from a config answers a tool call that arrives in the room."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from daily_helpers import URL, eventually, tool_call

from cvibot._runtime import Bot
from cvibot.config import load_config
from cvibot.transports._daily import DailyTransport, ReconnectPolicy
from doubles.fake_daily import FakeDaily, participant

TOOLS = '''
import asyncio
from cvibot import tool

GATE = asyncio.Event()

@tool(timeout=10)
async def wait_for_gate(label: str) -> str:
    """Answer once the test opens the gate."""
    await GATE.wait()
    return f"{label} done"

@tool
def lookup_order(order_id: str) -> str:
    """Look up an order's status.

    Args:
        order_id: The order number, for example "A1001".
    """
    return f"order {order_id} has shipped"
'''

ANNA = participant("Anna", "tavus-replica-r1")
BEN = participant("Ben", "user-ben")


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[Bot]:
    module = f"daily_e2e_tools_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(TOOLS, encoding="utf-8")
    config = tmp_path / "bot.yaml"
    config.write_text(
        textwrap.dedent(
            f"""
            conversation: {{id: c0ffee}}
            transport: {{type: daily}}
            plugins: [{module}]
            """
        ),
        encoding="utf-8",
    )
    path = list(sys.path)
    yield Bot.from_config(load_config(config), autoload=False)
    sys.path[:] = path
    sys.modules.pop(module, None)


def _transport(fake: FakeDaily, rejoins: int = 1) -> DailyTransport:
    return DailyTransport(
        URL,
        sdk=fake,
        join_timeout=1,
        leave_timeout=0.5,
        release_timeout=1,
        reconnect=ReconnectPolicy(max_attempts=rejoins, initial_backoff=0.01, max_backoff=0.02),
    )


def results(fake: FakeDaily) -> list[dict[str, Any]]:
    return [
        message["properties"]
        for message, _ in fake.client.sent
        if message.get("event_type") == "conversation.tool_result"
    ]


async def test_a_tool_call_in_the_room_is_answered_once_across_a_rejoin(bot: Bot) -> None:
    fake = FakeDaily(join_outcomes=["ok", "ok"], join_delay=0.01, remote_participants=[ANNA, BEN])
    serving = asyncio.create_task(bot.run(_transport(fake, rejoins=2)))
    await eventually(lambda: bool(fake.clients) and fake.client.joined)
    client = fake.client

    client.inject_app_message(tool_call("call-1", seq=1, order_id="A1"), ANNA["id"])
    # A human's browser can broadcast too: a forged call is not acted on.
    client.inject_app_message(tool_call("forged", seq=2, order_id="B2"), BEN["id"])
    await eventually(lambda: len(results(fake)) == 1)

    client.drop_network()
    await eventually(lambda: len(client.joins) == 2 and client.joined)
    # After the rejoin the replica repeats the call it saw no answer for, and goes on.
    client.inject_app_message(tool_call("call-1", seq=1, order_id="A1"), ANNA["id"])
    client.inject_app_message(tool_call("call-2", seq=3, order_id="C3"), ANNA["id"])
    await eventually(lambda: len(results(fake)) == 2)
    client.inject_app_message(
        {
            "message_type": "system",
            "event_type": "system.shutdown",
            "conversation_id": "c0ffee",
            "properties": {"shutdown_reason": "participant_left_timeout"},
        },
        ANNA["id"],
    )
    session = await asyncio.wait_for(serving, 5)

    assert results(fake) == [
        {"tool_call_id": "call-1", "output": "order A1 has shipped", "status": "success"},
        {"tool_call_id": "call-2", "output": "order C3 has shipped", "status": "success"},
    ]
    assert session.closed and session.stats.outcomes["success"] == 2
    assert client.released and client.participants_calls == 0
    client.assert_callbacks_on_emitter()


def _gate_call(tcid: str, seq: int) -> dict[str, Any]:
    call = tool_call(tcid, seq=seq, order_id="x")
    call["properties"]["name"] = "wait_for_gate"
    call["properties"]["arguments"] = json.dumps({"label": tcid})
    return call


async def test_stop_drains_in_flight_calls_through_the_room_then_leaves(bot: Bot) -> None:
    fake = FakeDaily(join_outcome="ok", join_delay=0.01, remote_participants=[ANNA])
    serving = asyncio.create_task(bot.run(_transport(fake), grace=5))
    await eventually(lambda: bool(fake.clients) and fake.client.joined)
    client = fake.client
    client.inject_app_message(_gate_call("running", 1), ANNA["id"])
    await asyncio.sleep(0.05)  # the call is running, waiting for the gate
    assert bot.stop("signal SIGTERM") == 1
    # Still in the room while draining: a call that arrives now gets a shutdown error.
    client.inject_app_message(_gate_call("late", 2), ANNA["id"])
    await eventually(lambda: len(results(fake)) == 1)
    assert results(fake)[0]["tool_call_id"] == "late"
    assert results(fake)[0]["status"] == "error"
    assert client.joined and not serving.done()
    bot.host.plugins[0].plugin.GATE.set()  # type: ignore[attr-defined]
    session = await asyncio.wait_for(serving, 5)
    assert results(fake)[1] == {
        "tool_call_id": "running",
        "output": "running done",
        "status": "success",
    }
    assert session.shutdown_reason == "signal SIGTERM"
    assert not client.joined and client.released


async def test_the_replica_leaving_ends_the_conversation(bot: Bot) -> None:
    fake = FakeDaily(join_outcome="ok", join_delay=0.01, remote_participants=[ANNA, BEN])
    serving = asyncio.create_task(bot.run(_transport(fake)))
    await eventually(lambda: bool(fake.clients) and fake.client.joined)
    client = fake.client
    client.inject_participant_left(BEN)
    await asyncio.sleep(0.05)
    assert not serving.done()  # a human leaving changes nothing
    client.inject_participant_left(ANNA)
    session = await asyncio.wait_for(serving, 5)
    assert session.shutdown_reason == "replica_left"
    assert client.released
