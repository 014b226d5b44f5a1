"""A plugin's view of the edges: a fake conversation with hostile text and a handler
whose result is not JSON gets one answer per call, in valid UTF-8."""

from __future__ import annotations

import json
import threading

from cvibot import tool
from cvibot._protocol import encode_message
from cvibot.testing import FakeConversation

LONE = "\ud83d"


@tool
def echo_back(text: str) -> str:
    """Say the text back."""
    return f"got {text}"


@tool
def lookup_order(order_id: str) -> object:
    """Return something that is not JSON."""
    return threading.Lock()


async def test_lone_surrogates_and_a_lock_each_get_one_answer() -> None:
    async with FakeConversation(tools=[echo_back, lookup_order]) as conv:
        in_arguments = await conv.tool_call("echo_back", {"text": f"a{LONE}b"})
        assert (in_arguments.status, in_arguments.text) == ("success", "got a\ufffdb")
        in_id = await conv.tool_call("echo_back", {"text": "x"}, tool_call_id=f"id{LONE}")
        assert in_id.message["properties"]["tool_call_id"] == "id\ufffd"
        locked = await conv.tool_call("lookup_order", {"order_id": "A1"})
        assert locked.status == "error"
        assert locked.text == (
            "lookup_order returned a value that cannot be sent as JSON: _thread.lock"
        )
        for reply in (in_arguments, in_id, locked):
            json.loads(encode_message(reply.message).decode("utf-8"))
