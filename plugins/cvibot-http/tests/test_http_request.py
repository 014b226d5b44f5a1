"""What the endpoint receives: URL, query, headers and body built from a tool call."""

from __future__ import annotations

from typing import Any

from http_helpers import SECRET, RecordingServer, conversation, tool

ORDER_ID = {"order_id": {"type": "string", "description": "The order number, e.g. A1001"}}


def settings(server: RecordingServer, *tools: dict[str, Any], **keys: Any) -> dict[str, Any]:
    return {"base_url": server.url, "tools": list(tools), **keys}


async def test_url_placeholders_are_quoted_as_one_path_segment(server: RecordingServer) -> None:
    declared = tool(
        parameters=ORDER_ID, request={"method": "GET", "url": "/orders/{order_id}/items"}
    )
    async with conversation(settings(server, declared)) as conv:
        reply = await conv.tool_call("lookup_order", {"order_id": "A/1 ?&#ü"})

    assert reply.status == "success"
    assert server.last.method == "GET"
    # "/" cannot add a path segment, "?" and "#" cannot start a query or a fragment.
    assert server.last.target == "/orders/A%2F1%20%3F%26%23%C3%BC/items"


async def test_dot_segments_are_refused_before_any_request(server: RecordingServer) -> None:
    declared = tool(parameters=ORDER_ID, request={"method": "GET", "url": "/orders/{order_id}"})
    async with conversation(settings(server, declared)) as conv:
        reply = await conv.tool_call("lookup_order", {"order_id": ".."})

    assert reply.status == "error"
    assert reply.text == "'..' is not a valid value here."
    assert server.received == []


async def test_base_url_path_and_absolute_tool_urls(server: RecordingServer) -> None:
    tools = [
        tool("relative", request={"method": "GET", "url": "status"}),
        tool("absolute", request={"method": "GET", "url": f"{server.url}/elsewhere?x=1"}),
    ]
    async with conversation({"base_url": f"{server.url}/api/v1/", "tools": tools}) as conv:
        await conv.tool_call("relative")
        await conv.tool_call("absolute")

    assert [r.target for r in server.received] == ["/api/v1/status", "/elsewhere?x=1"]


async def test_query_values_literal_templated_typed_and_repeated(server: RecordingServer) -> None:
    declared = tool(
        parameters={
            "order_id": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "limit": {"type": "integer", "default": 5},
            "page": {"type": "integer", "required": False},
        },
        request={
            "method": "GET",
            "url": "/orders?fixed=1",
            "query": {
                "expand": "items",
                "id": "{order_id}",
                "label": "order {order_id} & co",
                "tag": "{tags}",
                "limit": "{limit}",
                "page": "{page}",
                "flag": True,
                "many": ["a", 2],
            },
        },
    )
    async with conversation(settings(server, declared)) as conv:
        reply = await conv.tool_call("lookup_order", {"order_id": "A 1", "tags": ["x", "y z"]})

    assert reply.status == "success", reply
    assert server.last.query == {
        "fixed": ["1"],
        "expand": ["items"],
        "id": ["A 1"],
        "label": ["order A 1 & co"],
        "tag": ["x", "y z"],
        "limit": ["5"],
        "flag": ["true"],
        "many": ["a", "2"],
    }  # "page" was left out by the LLM: not sent


async def test_headers_carry_the_secret_the_templates_and_the_call_ids(
    server: RecordingServer,
) -> None:
    declared = tool(
        parameters=ORDER_ID,
        request={
            "method": "GET",
            "url": "/orders/{order_id}",
            "headers": {
                "X-Trace": "{tool_call_id}",
                "X-Context": "{conversation_id}/{seq}",
                "X-Order": "{order_id}",
            },
        },
    )
    plugin = settings(
        server, declared, headers={"Authorization": f"Bearer {SECRET}", "X-Client": "cvibot"}
    )
    async with conversation(plugin) as conv:
        reply = await conv.tool_call("lookup_order", {"order_id": "A1"}, tool_call_id="tc-9")

    assert reply.status == "success"
    headers = server.last.headers
    assert headers["Authorization"] == f"Bearer {SECRET}"
    assert headers["X-Client"] == "cvibot"
    assert headers["X-Trace"] == "tc-9"
    assert headers["X-Context"] == f"{conv.conversation_id}/1"
    assert headers["X-Order"] == "A1"


async def test_a_tool_header_overrides_the_plugin_header_of_that_name(
    server: RecordingServer,
) -> None:
    declared = tool(request={"method": "GET", "url": "/", "headers": {"x-client": "tool"}})
    async with conversation(settings(server, declared, headers={"X-Client": "plugin"})) as conv:
        await conv.tool_call("lookup_order")

    assert server.last.headers["x-client"] == "tool"


async def test_a_lone_call_id_placeholder_without_value_drops_the_header(
    server: RecordingServer,
) -> None:
    declared = tool(request={"method": "GET", "url": "/", "headers": {"X-Trace": "{tool_call_id}"}})
    async with conversation(settings(server, declared)) as conv:
        reply = await conv.tool_call("lookup_order", tool_call_id=None)  # answered by echo

    assert reply.event_type == "conversation.echo"
    assert "X-Trace" not in server.last.headers


async def test_a_line_break_in_a_header_value_is_refused(server: RecordingServer) -> None:
    declared = tool(
        parameters=ORDER_ID,
        request={"method": "GET", "url": "/", "headers": {"X-Order": "{order_id}"}},
    )
    async with conversation(settings(server, declared)) as conv:
        reply = await conv.tool_call("lookup_order", {"order_id": "A1\r\nX-Evil: 1"})

    assert reply.status == "error"
    assert reply.text == "A value cannot be sent in the X-Order header."
    assert server.received == []


async def test_json_body_keeps_the_types_of_lone_placeholders(server: RecordingServer) -> None:
    declared = tool(
        "create_order",
        parameters={
            "sku": {"type": "string"},
            "quantity": {"type": "integer"},
            "price": {"type": "number"},
            "gift": {"type": "boolean"},
            "tags": {"type": "array"},
            "address": {"type": "object"},
            "note": {"type": "string", "required": False},
        },
        request={
            "method": "POST",
            "url": "/orders",
            "json": {
                "item": {"sku": "{sku}", "quantity": "{quantity}", "price": "{price}"},
                "gift": "{gift}",
                "tags": "{tags}",
                "address": "{address}",
                "note": "{note}",
                "summary": "{quantity} x {sku} for {price}",
                "trace": "{tool_call_id}",
                "literal": [1, None, True, "{{braces}}"],
            },
        },
    )
    arguments = {
        "sku": "K-1",
        "quantity": "3",  # coerced to 3 by validation
        "price": 9.5,
        "gift": False,
        "tags": ["a", 1],
        "address": {"city": "Oslo"},
    }
    async with conversation(settings(server, declared)) as conv:
        reply = await conv.tool_call("create_order", arguments, tool_call_id="tc-1")

    assert reply.status == "success"
    assert server.last.method == "POST"
    assert server.last.headers["Content-Type"] == "application/json"
    assert server.last.json() == {
        "item": {"sku": "K-1", "quantity": 3, "price": 9.5},
        "gift": False,
        "tags": ["a", 1],
        "address": {"city": "Oslo"},
        "summary": "3 x K-1 for 9.5",
        "trace": "tc-1",
        "literal": [1, None, True, "{braces}"],
    }  # "note" was not given: dropped


async def test_post_without_json_sends_the_arguments(server: RecordingServer) -> None:
    declared = tool(
        "create_order",
        parameters={
            "sku": {"type": "string"},
            "quantity": {"type": "integer", "default": 1},
            "note": {"type": "string", "required": False},
        },
        request={"url": "/orders"},  # POST by default
    )
    async with conversation(settings(server, declared)) as conv:
        await conv.tool_call("create_order", {"sku": "K-1"})

    assert server.last.method == "POST"
    assert server.last.json() == {"sku": "K-1", "quantity": 1}


async def test_get_sends_no_body(server: RecordingServer) -> None:
    declared = tool(parameters=ORDER_ID, request={"method": "get", "url": "/orders/{order_id}"})
    async with conversation(settings(server, declared)) as conv:
        await conv.tool_call("lookup_order", {"order_id": "A1"})

    assert server.last.method == "GET"
    assert server.last.body == b""
    assert "Content-Type" not in server.last.headers


async def test_json_null_sends_no_body_with_post(server: RecordingServer) -> None:
    declared = tool(request={"method": "POST", "url": "/ping", "json": None})
    async with conversation(settings(server, declared)) as conv:
        await conv.tool_call("lookup_order")

    assert server.last.method == "POST"
    assert server.last.body == b""


async def test_put_patch_delete_and_head(server: RecordingServer) -> None:
    tools = [
        tool("put_it", request={"method": "PUT", "url": "/r", "json": {"a": 1}}),
        tool("patch_it", request={"method": "PATCH", "url": "/r", "json": {"b": 2}}),
        tool("delete_it", request={"method": "DELETE", "url": "/r"}),
        tool("head_it", request={"method": "HEAD", "url": "/r"}),
    ]
    async with conversation(settings(server, *tools)) as conv:
        for declared in tools:
            reply = await conv.tool_call(declared["name"])
            assert reply.status == "success", reply

    assert [(r.method, r.body) for r in server.received] == [
        ("PUT", b'{"a":1}'),
        ("PATCH", b'{"b":2}'),
        ("DELETE", b""),
        ("HEAD", b""),
    ]
