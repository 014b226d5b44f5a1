"""Credentials in the settings reach the endpoint and nothing else: no log, repr or error."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from cvibot_http import build_tools
from cvibot_http.build import connections_of
from cvibot_http.errors import SettingsError
from cvibot_http.settings import parse_settings
from http_helpers import SECRET, RecordingServer, closed_port_url, conversation, tool
from structlog.testing import capture_logs

from cvibot import PluginLoadError


def secret_settings(base_url: str, **tool_keys: Any) -> dict[str, Any]:
    return {
        "base_url": base_url,
        "headers": {"Authorization": f"Bearer {SECRET}"},
        "tools": [tool(**tool_keys)],
    }


async def test_the_secret_reaches_the_server_but_no_log(
    server: RecordingServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.route("/denied", status=401, body={"message": f"Token {SECRET} has expired."})
    server.route("/broken", status=500, body=f"Authorization: Bearer {SECRET}")
    tools = [
        tool("ok"),
        tool("denied", request={"method": "GET", "url": "/denied"}),
        tool("broken", request={"method": "GET", "url": "/broken"}),
        tool("keyed", request={"method": "GET", "url": "/", "query": {"key": SECRET}}),
        tool("offline", request={"method": "GET", "url": f"{closed_port_url()}/x"}),
    ]
    plugin = {"base_url": server.url, "headers": {"Authorization": f"Bearer {SECRET}"}}
    caplog.set_level(logging.DEBUG)
    with capture_logs() as logs:
        async with conversation({**plugin, "tools": tools}) as conv:
            replies = {t["name"]: await conv.tool_call(t["name"]) for t in tools}

    assert [r.headers["Authorization"] for r in server.received] == [f"Bearer {SECRET}"] * 4
    assert replies["denied"].text == "Token [redacted] has expired."
    assert replies["broken"].text == "The service is unavailable."
    failures = [e for e in logs if e["event"] == "http request failed"]
    assert {(e["tool"], e.get("status")) for e in failures} == {
        ("denied", 401),
        ("broken", 500),
        ("offline", None),
    }
    assert "[redacted]" in str(failures)  # the echoed token, in the logged detail
    assert logs, "nothing was logged"
    assert SECRET not in repr(logs)
    assert SECRET not in caplog.text
    for reply in replies.values():
        assert SECRET not in repr(reply.message)
    assert all("key=" not in str(e.get("url")) for e in logs)  # URLs are logged without query


async def test_the_secret_is_not_in_reprs(server: RecordingServer) -> None:
    settings = secret_settings(server.url)
    specs = build_tools(settings)
    connection = connections_of({spec.name: spec for spec in specs})[0]

    texts = [repr(specs), repr(specs[0].function), repr(connection), repr(parse_settings(settings))]
    for text in texts:
        assert SECRET not in text
    assert "lookup_order" in repr(specs[0].function)


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {SECRET}\nX-Evil: 1"},
        {"Authorization": 12345},
        {f"Bad Name {SECRET}": "x"},
    ],
)
def test_a_bad_header_setting_does_not_quote_the_value(headers: dict[str, Any]) -> None:
    with pytest.raises(SettingsError) as caught:
        build_tools({"headers": headers})
    assert str(caught.value).startswith(("headers.", "headers["))
    if "Bad Name" not in next(iter(headers)):
        assert SECRET not in str(caught.value)


def test_a_bad_tool_header_value_in_a_config_error() -> None:
    header = {"X-Key": f"{SECRET}\r\n"}
    with pytest.raises(PluginLoadError) as caught:
        conversation(secret_settings("http://127.0.0.1:1", request={"url": "/", "headers": header}))
    assert "tools[0].request.headers.X-Key" in str(caught.value)
    assert SECRET not in str(caught.value)
