"""The shared client: opened at start-up, closed at shutdown, one per bot, bounded."""

from __future__ import annotations

import asyncio

import pytest
from cvibot_http import build_tools
from cvibot_http.build import connections_of
from cvibot_http.client import Connection, NotStartedError
from cvibot_http.secrets import Redactor
from http_helpers import RecordingServer, conversation, tool

from cvibot.testing import FakeConversation


async def test_named_without_settings_it_brings_no_tools() -> None:
    async with FakeConversation(plugins=["cvibot-http"]) as conv:
        assert "cvibot-http" in [p.name for p in conv.bot.host.plugins]
        assert not [s for s in conv.bot.tools.values() if s.plugin == "cvibot-http"]


async def test_autoloaded_it_brings_no_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    # The repository's tests turn autoloading off for the whole session.
    monkeypatch.delenv("CVIBOT_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    async with FakeConversation(autoload=True) as conv:
        assert "cvibot-http" in [p.name for p in conv.bot.host.plugins]
        assert not [s for s in conv.bot.tools.values() if s.plugin == "cvibot-http"]


async def test_the_client_is_open_while_the_bot_runs(server: RecordingServer) -> None:
    conv = conversation({"base_url": server.url, "tools": [tool("a"), tool("b")]})
    (connection,) = connections_of(conv.bot.tools)
    assert not connection.is_open
    async with conv:
        assert connection.is_open
        assert (await conv.tool_call("a")).status == "success"
        assert (await conv.tool_call("b")).status == "success"
    assert not connection.is_open


async def test_each_bot_has_its_own_client(server: RecordingServer) -> None:
    settings = {"base_url": server.url, "tools": [tool()]}
    async with conversation(settings) as first, conversation(settings) as second:
        (one,) = connections_of(first.bot.tools)
        (two,) = connections_of(second.bot.tools)
        assert one is not two
        await first.close()
        assert not one.is_open
        assert (await second.tool_call("lookup_order")).status == "success"


async def test_config_overrides_keep_the_tool_connected(server: RecordingServer) -> None:
    conv = FakeConversation(
        config={"tools": {"lookup_order": {"reply": "echo"}}},
        plugins=[{"name": "cvibot-http", "settings": {"base_url": server.url, "tools": [tool()]}}],
    )
    async with conv:
        reply = await conv.tool_call("lookup_order")
    # Spoken: the JSON response reads as words.
    assert (reply.event_type, reply.text) == ("conversation.echo", "ok: yes")


async def test_the_pool_bounds_concurrent_requests(server: RecordingServer) -> None:
    server.route("/", delay=0.05)
    settings = {"base_url": server.url, "max_connections": 2, "tools": [tool()]}
    async with conversation(settings) as conv:
        replies = await asyncio.gather(*(conv.tool_call("lookup_order") for _ in range(5)))

    assert [r.status for r in replies] == ["success"] * 5
    assert server.max_in_flight == 2


async def test_a_tool_whose_client_is_not_open_fails() -> None:
    (spec,) = build_tools({"base_url": "http://127.0.0.1:1", "tools": [tool()]})
    (connection,) = connections_of({spec.name: spec})
    with pytest.raises(NotStartedError, match="cvibot_startup has not run"):
        _ = connection.client


async def test_a_closed_connection_can_be_opened_again() -> None:
    connection = Connection(headers={}, max_connections=1, redact=Redactor())
    connection.open()
    first = connection.client
    connection.open()  # already open: the same client
    assert connection.client is first
    await connection.aclose()
    await connection.aclose()  # closing twice is fine
    connection.open()
    assert connection.client is not first
    await connection.aclose()
    assert first.is_closed
