"""The clock tools in a fake conversation: answers at the call's own moment, clear errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from cvibot.testing import FakeConversation

# Saturday 21 November 2026, 15:00 UTC.
MOMENT = "2026-11-21T15:00:00Z"


def call(name: str, arguments: dict[str, Any], call_id: str) -> dict[str, Any]:
    return {
        "message_type": "conversation",
        "event_type": "conversation.tool_call",
        "conversation_id": "fake-conversation",
        "timestamp": MOMENT,
        "properties": {
            "name": name,
            "arguments": json.dumps(arguments),
            "tool_call_id": call_id,
        },
    }


def result_of(call_id: str) -> Callable[[Any], bool]:
    return lambda m: m.get("properties", {}).get("tool_call_id") == call_id


@pytest.fixture
async def conv() -> Any:
    async with FakeConversation(plugins=["cvibot-clock"]) as conversation:
        yield conversation


@pytest.mark.parametrize(
    ("arguments", "output"),
    [
        ({"timezone": "Asia/Tokyo"}, "In Asia/Tokyo it is 00:00 on Sunday 22 November 2026."),
        ({"timezone": "Europe/Paris"}, "In Europe/Paris it is 16:00 on Saturday 21 November 2026."),
    ],
)
async def test_local_time_is_the_moment_of_the_call(
    conv: FakeConversation, arguments: dict[str, Any], output: str
) -> None:
    conv.send(call("local_time", arguments, "t1"))

    answer = await conv.wait_for(result_of("t1"))

    assert answer["properties"] == {"tool_call_id": "t1", "output": output, "status": "success"}


@pytest.mark.parametrize(
    ("arguments", "output"),
    [
        (
            {
                "clock_time": "15:30",
                "from_timezone": "Europe/Paris",
                "to_timezone": "America/New_York",
            },
            "15:30 in Europe/Paris is 09:30 in America/New_York (on Saturday 21 November 2026).",
        ),
        (
            {
                "clock_time": "20:00",
                "from_timezone": "America/New_York",
                "to_timezone": "Asia/Tokyo",
            },
            "20:00 in America/New_York is 10:00 the next day in Asia/Tokyo "
            "(on Saturday 21 November 2026).",
        ),
        (
            {"clock_time": "08:00", "from_timezone": "Asia/Tokyo", "to_timezone": "Europe/London"},
            "08:00 in Asia/Tokyo is 23:00 the day before in Europe/London "
            "(on Sunday 22 November 2026).",
        ),
    ],
)
async def test_convert_time_between_zones(
    conv: FakeConversation, arguments: dict[str, Any], output: str
) -> None:
    conv.send(call("convert_time", arguments, "c1"))

    answer = await conv.wait_for(result_of("c1"))

    assert answer["properties"]["output"] == output


@pytest.mark.parametrize(
    ("name", "arguments", "error"),
    [
        ("local_time", {"timezone": "Mars/Base"}, "'Mars/Base' is not a time zone name"),
        (
            "convert_time",
            {"clock_time": "3pm", "from_timezone": "UTC", "to_timezone": "UTC"},
            "'3pm' is not a time like '15:30'.",
        ),
        ("local_time", {}, "timezone: Field required"),
    ],
)
async def test_bad_arguments_are_explained(
    conv: FakeConversation, name: str, arguments: dict[str, Any], error: str
) -> None:
    reply = await conv.tool_call(name, arguments)

    assert reply.status == "error"
    assert reply.text is not None and error in reply.text


async def test_installed_plugin_brings_both_tools(conv: FakeConversation) -> None:
    assert {name: spec.plugin for name, spec in conv.bot.tools.items()} == {
        "local_time": "cvibot-clock",
        "convert_time": "cvibot-clock",
    }
