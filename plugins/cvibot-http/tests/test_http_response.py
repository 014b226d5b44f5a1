"""How the endpoint's response, or the lack of one, becomes the tool's answer."""

from __future__ import annotations

import time
from typing import Any

import pytest
from http_helpers import RecordingServer, closed_port_url, conversation, tool

ORDER = {"data": {"status": "shipped", "tracking": "TR-7", "items": [{"sku": "K-1"}]}}


def one_tool(base_url: str, **keys: Any) -> dict[str, Any]:
    return {"base_url": base_url, "tools": [tool(**keys)]}


async def answer(server: RecordingServer, path: str = "/", **keys: Any) -> Any:
    async with conversation(one_tool(server.url, **keys)) as conv:
        return await conv.tool_call("lookup_order")


# -- success ----------------------------------------------------------------------------


async def test_by_default_the_json_body_is_the_answer(server: RecordingServer) -> None:
    server.route("/", body=ORDER)
    reply = await answer(server)

    assert reply.status == "success"
    assert reply.event_type == "conversation.tool_result"
    assert reply.json() == ORDER
    assert reply.text == '{"data":{"status":"shipped","tracking":"TR-7","items":[{"sku":"K-1"}]}}'


@pytest.mark.parametrize(
    ("body", "text"),
    [("plain words", "plain words"), (b"", ""), ('"a json string"', "a json string")],
)
async def test_text_empty_and_string_bodies(server: RecordingServer, body: Any, text: str) -> None:
    server.route("/", body=body)
    reply = await answer(server)

    assert (reply.status, reply.text) == ("success", text)


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("data.status", "shipped"),
        ("data.items.0.sku", "K-1"),
        ("data.items", '[{"sku":"K-1"}]'),
    ],
)
async def test_path_picks_a_field(server: RecordingServer, path: str, text: str) -> None:
    server.route("/", body=ORDER)
    reply = await answer(server, response={"path": path})

    assert (reply.status, reply.text) == ("success", text)


async def test_template_fills_in_fields_of_the_body(server: RecordingServer) -> None:
    server.route("/", body=ORDER)
    reply = await answer(
        server,
        response={"template": "Order {data.status}, tracking {data.tracking} ({{ok}})"},
    )
    assert reply.text == "Order shipped, tracking TR-7 ({ok})"


async def test_template_after_path_reads_the_picked_value(server: RecordingServer) -> None:
    server.route("/", body=ORDER)
    reply = await answer(
        server, response={"path": "data", "template": "Order {status}, first {items.0.sku}"}
    )
    assert reply.text == "Order shipped, first K-1"


@pytest.mark.parametrize(
    ("body", "response"),
    [
        (ORDER, {"path": "data.missing"}),
        (ORDER, {"template": "{data.nothing}"}),
        ("not json", {"path": "data"}),
    ],
)
async def test_a_body_without_what_is_asked_is_an_error(
    server: RecordingServer, body: Any, response: dict[str, Any]
) -> None:
    server.route("/", body=body)
    reply = await answer(server, response=response)

    assert reply.status == "error"
    assert reply.text == "The service sent an answer that could not be read."


async def test_reply_option_echo_speaks_the_answer(server: RecordingServer) -> None:
    server.route("/", body={"say": "Your order shipped."})
    reply = await answer(server, reply="echo", response={"path": "say"})

    assert reply.event_type == "conversation.echo"
    assert reply.text == "Your order shipped."


# -- HTTP errors ------------------------------------------------------------------------


async def test_a_configured_message_answers_its_status(server: RecordingServer) -> None:
    server.route("/orders/A9", status=404, body={"message": "no such order"})
    declared = tool(
        parameters={"order_id": {"type": "string"}},
        request={"method": "GET", "url": "/orders/{order_id}"},
        response={"errors": {404: "There is no order {order_id}.", "4xx": "Refused."}},
    )
    async with conversation({"base_url": server.url, "tools": [declared]}) as conv:
        reply = await conv.tool_call("lookup_order", {"order_id": "A9"})

    assert reply.status == "error"
    assert reply.text == "There is no order A9."


async def test_a_4xx_class_message(server: RecordingServer) -> None:
    server.route("/", status=409, body={"message": "conflict"})
    reply = await answer(server, response={"errors": {"4xx": "The order cannot change now."}})
    assert (reply.status, reply.text) == ("error", "The order cannot change now.")


@pytest.mark.parametrize(
    ("body", "error_path", "text"),
    [
        ({"message": "Order A9 is archived."}, None, "Order A9 is archived."),
        ({"error": {"message": "Bad  order\nnumber."}}, None, "Bad order number."),
        ({"errors": [{"message": "first"}, {"message": "second"}]}, None, "first"),
        ({"detail": "Not allowed."}, None, "Not allowed."),
        ({"problem": {"why": "Too late."}}, "problem.why", "Too late."),
        ({"message": "x" * 300}, None, "x" * 199 + "…"),
        ({"code": 7}, None, "The service refused the request (HTTP 400)."),
        ("<html>oops</html>", None, "The service refused the request (HTTP 400)."),
    ],
)
async def test_a_4xx_answers_with_the_body_message(
    server: RecordingServer, body: Any, error_path: str | None, text: str
) -> None:
    server.route("/", status=400, body=body)
    reply = await answer(server, response={"error_path": error_path} if error_path else {})
    assert (reply.status, reply.text) == ("error", text)


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_a_5xx_is_the_service_is_unavailable(server: RecordingServer, status: int) -> None:
    server.route("/", status=status, body={"message": "stack trace: NullPointerException"})
    reply = await answer(server)
    assert (reply.status, reply.text) == ("error", "The service is unavailable.")


async def test_5xx_and_unavailable_messages_can_be_configured(server: RecordingServer) -> None:
    server.route("/", status=503)
    reply = await answer(server, response={"errors": {"unavailable": "Orders are offline."}})
    assert reply.text == "Orders are offline."
    reply = await answer(server, response={"errors": {"5xx": "Try later.", 503: "Maintenance."}})
    assert reply.text == "Maintenance."


async def test_a_redirect_is_not_followed(server: RecordingServer) -> None:
    server.route("/", status=302, headers={"Location": "/elsewhere"})
    reply = await answer(server)

    assert (reply.status, reply.text) == ("error", "The service is unavailable.")
    assert [r.path for r in server.received] == ["/"]


# -- no response ------------------------------------------------------------------------


async def test_a_timeout_answers_before_the_calls_deadline(server: RecordingServer) -> None:
    server.route("/", delay=5)
    started = time.perf_counter()
    reply = await answer(server, timeout=0.2)
    elapsed = time.perf_counter() - started

    assert reply.status == "error"
    assert reply.text == "The service is unavailable."
    assert reply.outcome is not None and reply.outcome.kind.value == "error"  # not "timeout"
    assert elapsed < 2


async def test_the_plugin_timeout_is_every_tools_default(server: RecordingServer) -> None:
    server.route("/", delay=5)
    async with conversation({"base_url": server.url, "timeout": 0.15, "tools": [tool()]}) as conv:
        assert conv.bot.tools["lookup_order"].timeout == 0.15
        reply = await conv.tool_call("lookup_order")
    assert reply.text == "The service is unavailable."


async def test_connection_refused() -> None:
    async with conversation(one_tool(closed_port_url())) as conv:
        reply = await conv.tool_call("lookup_order")

    assert (reply.status, reply.text) == ("error", "The service is unavailable.")


async def test_invalid_arguments_get_the_frameworks_answer(server: RecordingServer) -> None:
    declared = tool(
        parameters={
            "order_id": {"type": "string"},
            "quantity": {"type": "integer"},
            "status": {"type": "string", "enum": ["open", "shipped"]},
        },
        request={"method": "GET", "url": "/orders/{order_id}", "query": {"q": "{quantity}"}},
        response={"errors": {"4xx": "{status}"}},
    )
    async with conversation({"base_url": server.url, "tools": [declared]}) as conv:
        reply = await conv.tool_call(
            "lookup_order", {"order_id": "A1", "quantity": "many", "status": "lost", "x": 1}
        )

    assert reply.status == "error"
    assert reply.text is not None
    assert reply.text.startswith("invalid arguments for lookup_order: ")
    for field in ("quantity: ", "status: ", "x: Extra inputs are not permitted"):
        assert field in reply.text
    assert "order_id" not in reply.text
    assert server.received == []
