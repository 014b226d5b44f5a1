"""In a live (fake) Daily room: forged senders, impostor replicas and senderless messages."""

from __future__ import annotations

import asyncio
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
from cvibot import tool

@tool
def lookup_order(order_id: str) -> str:
    """Look up an order's status."""
    return f"order {order_id} has shipped"
'''

ANNA = participant("Anna", "tavus-replica-r1")
BEN = participant("Ben", "user-ben")


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[Bot]:
    module = f"daily_trust_tools_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(TOOLS, encoding="utf-8")
    config = tmp_path / "bot.yaml"
    config.write_text(
        textwrap.dedent(
            f"""
            conversation: {{id: c0ffee}}
            transport: {{type: daily}}
            plugins: [{module}]
            trust: {{replica: {{user_names: [Anna]}}}}
            """
        ),
        encoding="utf-8",
    )
    path = list(sys.path)
    yield Bot.from_config(load_config(config), autoload=False)
    sys.path[:] = path
    sys.modules.pop(module, None)


def results(fake: FakeDaily) -> list[str]:
    return [
        message["properties"]["tool_call_id"]
        for message, _ in fake.client.sent
        if message.get("event_type") == "conversation.tool_result"
    ]


async def test_only_the_one_replica_is_served(bot: Bot, logs: list[dict[str, Any]]) -> None:
    fake = FakeDaily(join_outcome="ok", join_delay=0.01, remote_participants=[ANNA, BEN])
    transport = DailyTransport(
        URL,
        sdk=fake,
        join_timeout=1,
        leave_timeout=0.5,
        release_timeout=1,
        reconnect=ReconnectPolicy(max_attempts=1, initial_backoff=0.01, max_backoff=0.02),
    )
    serving = asyncio.create_task(bot.run(transport))
    await eventually(lambda: bool(fake.clients) and fake.client.joined)
    client = fake.client
    # A human takes the persona's name; another participant joins with the marker.
    client.inject_participant_updated({**BEN, "info": {**BEN["info"], "userName": "Anna"}})
    eve = participant("Anna", "tavus-replica-evil")
    client.inject_participant_joined(eve)
    client.inject_app_message(tool_call("renamed", seq=1, order_id="B"), BEN["id"])
    client.inject_app_message(tool_call("impostor", seq=2, order_id="E"), eve["id"])
    client.inject_app_message(tool_call("no-sender", seq=3, order_id="N"), None)  # type: ignore[arg-type]
    client.inject_app_message(tool_call("real", seq=4, order_id="A"), ANNA["id"])
    await eventually(lambda: results(fake) == ["real"])
    client.inject_app_message(
        {"event_type": "system.shutdown", "conversation_id": "c0ffee", "properties": {}},
        ANNA["id"],
    )
    session = await asyncio.wait_for(serving, 5)
    assert results(fake) == ["real"]
    assert session.stats.drops["untrusted_sender"] == 3
    impostors = [e for e in logs if e["event"] == "impostor replica refused: not trusted"]
    assert [eve["id"] in e["participant"] for e in impostors] == [True]
