"""Bad settings fail at start-up with the key path of the problem; good ones build specs."""

from __future__ import annotations

from typing import Any

import pytest
from cvibot_http import SettingsError, build_tools
from http_helpers import conversation, tool

from cvibot import PluginLoadError
from cvibot.tools import Origin, ReplyMode

BASE = "https://api.example.com"
ORDER_ID = {"order_id": {"type": "string"}}


def with_tool(**keys: Any) -> dict[str, Any]:
    return {"base_url": BASE, "tools": [tool(**keys)]}


def get(url: str, **keys: Any) -> dict[str, Any]:
    return {"method": "GET", "url": url, **keys}


BAD_SETTINGS = [
    # -- shapes -------------------------------------------------------------------------
    (
        {"base_ur": BASE},
        "base_ur: unknown key (allowed: base_url, headers, timeout, max_connections, tools)",
    ),
    ({"timeout": 0}, "timeout: Input should be greater than 0"),
    ({"timeout": "soon"}, "timeout: Input should be a valid number"),
    ({"max_connections": 0}, "max_connections: Input should be greater than or equal to 1"),
    ({"tools": {"name": "x"}}, "tools: Input should be a valid list"),
    ({"tools": [{"name": "x", "description": "d"}]}, "tools[0].request: Field required"),
    (with_tool(name="bad name"), "tools[0].name: the tool name may contain only ASCII letters"),
    (with_tool(description=""), "tools[0].description: String should have at least 1 character"),
    (
        with_tool(request={"url": "/", "metod": "GET"}),
        "tools[0].request.metod: unknown key (allowed: method, url, query, headers, json)",
    ),
    (with_tool(request={"method": "FETCH", "url": "/"}), "tools[0].request.method: Input should"),
    (with_tool(reply="shout"), "tools[0].reply: Input should be 'auto', 'tool_result'"),
    (with_tool(timeout=-1), "tools[0].timeout: Input should be greater than 0"),
    (with_tool(on_call="sing"), "tools[0].on_call: must be one of generate_filler, static_"),
    (
        with_tool(on_call="static_filler"),
        "tools[0]: tool 'lookup_order': on_call=\"static_filler\" needs a non-empty static_",
    ),
    (
        with_tool(parameters={"n": {"type": "int"}}),
        "tools[0].parameters.n.type: Input should be 'string', 'integer', 'number', 'boolean'",
    ),
    (
        with_tool(response={"paht": "x"}),
        "tools[0].response.paht: unknown key (allowed: path, template, errors, error_path)",
    ),
    # -- URLs ---------------------------------------------------------------------------
    (
        with_tool(parameters=ORDER_ID, request=get("/orders/{ordr_id}")),
        "tools[0].request.url: placeholder {ordr_id} is not a parameter (parameters: order_id; "
        "call ids: conversation_id, tool_call_id, inference_id, seq, turn_idx)",
    ),
    ({"tools": [tool(request=get("/orders"))]}, "tools[0].request.url: a relative URL needs"),
    (
        {"tools": [tool(parameters={"h": {"type": "string"}}, request=get("http://{h}/x"))]},
        "tools[0].request.url: placeholders can only be in the URL's path or query",
    ),
    (with_tool(request=get("ftp://example.com/x")), "tools[0].request.url: must be an absolute"),
    (with_tool(request=get("https://u:p@example.com/")), "must not contain credentials"),
    ({"base_url": "example.com"}, "base_url: must be an absolute http:// or https:// URL"),
    ({"base_url": f"{BASE}?key=1"}, "base_url: must not have a query or a fragment"),
    ({"base_url": f"{BASE}/{{x}}"}, "base_url: base_url cannot have placeholders"),
    (
        with_tool(parameters={"o": {"type": "string", "required": False}}, request=get("/{o}")),
        "tools[0].request.url: placeholder {o} names an optional parameter without a default",
    ),
    (
        with_tool(parameters={"ids": {"type": "array"}}, request=get("/{ids}")),
        "tools[0].request.url: placeholder {ids} is an array parameter, which a URL cannot hold",
    ),
    (
        with_tool(parameters=ORDER_ID, request=get("/{order_id:>5}")),
        "tools[0].request.url: placeholder {order_id:>5}: format specs and conversions are not",
    ),
    (with_tool(request=get("/{")), "tools[0].request.url: Single '{' encountered"),
    (with_tool(request=get("/{a.b}")), "tools[0].request.url: placeholder {a.b} is a dotted path"),
    # -- query, headers, body -------------------------------------------------------------
    (
        with_tool(request=get("/", query={"q": "{nope}"})),
        "tools[0].request.query.q: placeholder {nope} is not a parameter",
    ),
    (
        with_tool(request=get("/", query={"q": {"a": 1}})),
        "tools[0].request.query.q: a query value must be a string, a number, a boolean or a list",
    ),
    (
        with_tool(parameters={"f": {"type": "object"}}, request=get("/", query={"f": "{f}"})),
        "tools[0].request.query.f: placeholder {f} is an object parameter",
    ),
    (
        with_tool(parameters={"f": {"type": "array"}}, request=get("/", query={"f": "x{f}"})),
        "tools[0].request.query.f: placeholder {f} is an array parameter; only strings",
    ),
    (
        with_tool(request=get("/", headers={"Bad Header": "x"})),
        'tools[0].request.headers["Bad Header"]: not a valid header name',
    ),
    (
        {"headers": {"X-Key": 5}},
        "headers.X-Key: Input should be a valid string",
    ),
    (
        with_tool(request=get("/", json={"a": 1})),
        "tools[0].request.json: GET requests have no body; send the values in query",
    ),
    (
        with_tool(request={"url": "/", "json": {"items": [{"sku": "{skew}"}]}}),
        "tools[0].request.json.items[0].sku: placeholder {skew} is not a parameter",
    ),
    # -- parameters -----------------------------------------------------------------------
    (
        with_tool(parameters=ORDER_ID, request=get("/")),
        "tools[0].parameters.order_id: the request never uses it; put {order_id} in",
    ),
    (
        with_tool(parameters={"tool_call_id": {}}, request={"url": "/"}),
        "tools[0].parameters.tool_call_id: 'tool_call_id' names one of the call's ids",
    ),
    (
        with_tool(parameters={"tavus_x": {}}, request={"url": "/"}),
        "tools[0].parameters.tavus_x: the prefix 'tavus_' is reserved by Tavus",
    ),
    (
        with_tool(parameters={"a-b": {}}, request={"url": "/"}),
        "tools[0].parameters.a-b: a parameter name must be an identifier",
    ),
    (
        with_tool(parameters={"_a": {}}, request={"url": "/"}),
        "tools[0].parameters._a: a parameter name must not start with an underscore",
    ),
    (
        with_tool(parameters={"n": {"type": "integer", "default": "5"}}, request={"url": "/"}),
        "tools[0].parameters.n.default: Input should be a valid integer (got '5')",
    ),
    (
        with_tool(parameters={"n": {"default": 1, "required": True}}, request={"url": "/"}),
        "tools[0].parameters.n.required: a parameter with a default is optional",
    ),
    (
        with_tool(parameters={"n": {"type": "integer", "enum": [1, "2"]}}, request={"url": "/"}),
        "tools[0].parameters.n.enum[1]: '2' is not of the parameter's type integer",
    ),
    (
        with_tool(parameters={"n": {"type": "boolean", "enum": [True]}}, request={"url": "/"}),
        "tools[0].parameters.n.enum: enum is only for string, integer and number",
    ),
    (
        with_tool(parameters={"n": {"items": {"type": "string"}}}, request={"url": "/"}),
        "tools[0].parameters.n.items: items is only for parameters of type array",
    ),
    (
        with_tool(parameters={"s": {"enum": ["a", "b"], "default": "c"}}, request={"url": "/"}),
        "tools[0].parameters.s.default: Input should be 'a' or 'b' (got 'c')",
    ),
    # -- response -------------------------------------------------------------------------
    (with_tool(response={"path": "data..x"}), "tools[0].response.path: has an empty segment"),
    (with_tool(response={"path": "items[0]"}), "tools[0].response.path: write list indexes as"),
    (with_tool(response={"template": "{a!r}"}), "tools[0].response.template: placeholder {a!r}"),
    (
        with_tool(response={"errors": {302: "moved"}}),
        "tools[0].response.errors.302: expected an HTTP status from 400 to 599, 4xx, 5xx or",
    ),
    (with_tool(response={"errors": {404: 5}}), "tools[0].response.errors.404: Input should be"),
    (
        with_tool(response={"errors": {404: "No order {order}."}}),
        "tools[0].response.errors.404: placeholder {order} is not a parameter",
    ),
    # -- tools ----------------------------------------------------------------------------
    (
        {"base_url": BASE, "tools": [tool(), tool()]},
        "tools[1].name: tool 'lookup_order' is declared twice (first at tools[0])",
    ),
]


@pytest.mark.parametrize(("settings", "message"), BAD_SETTINGS)
def test_a_bad_setting_names_its_key(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        build_tools(settings)
    assert message in str(caught.value)
    assert str(caught.value).startswith(caught.value.key + ": ")


def test_every_shape_problem_is_listed() -> None:
    with pytest.raises(SettingsError) as caught:
        build_tools({"timeout": 0, "tools": [{"name": "x"}]})
    assert [key for key, _ in caught.value.problems] == [
        "timeout",
        "tools[0].description",
        "tools[0].request",
    ]


def test_the_bot_reports_a_load_error_at_the_bad_setting() -> None:
    settings = with_tool(parameters=ORDER_ID, request=get("/orders/{ordr_id}"))
    with pytest.raises(PluginLoadError) as caught:
        conversation(settings)
    assert caught.value.key == "plugins[0].settings.tools[0].request.url"
    assert caught.value.plugin == "cvibot-http"
    assert caught.value.message.startswith("placeholder {ordr_id} is not a parameter")


def test_empty_settings_declare_no_tools() -> None:
    assert build_tools({}) == []
    assert build_tools({"base_url": BASE, "headers": {"A": "b"}}) == []


def test_a_declared_tool_is_a_normal_tool_spec() -> None:
    declared = tool(
        parameters={
            "order_id": {"type": "string", "description": "The order number, e.g. A1001"},
            "status": {"type": "string", "enum": ["open", "shipped"], "default": "open"},
            "limit": {"type": "integer", "required": False},
            "skus": {"type": "array", "items": {"type": "string"}},
            "price": {"type": "number", "default": 1},
            "gift": {"type": "boolean", "default": False},
            "extra": {"type": "object", "description": "Anything else."},
        },
        request={"url": "/orders"},
        reply="tool_result",
        timeout=3,
        cancel_on_interrupt=True,
        on_call="static_filler",
        static_filler="One moment.",
        on_resolve="generate_response",
    )
    (spec,) = build_tools({"base_url": BASE, "timeout": 5, "tools": [declared]})

    assert spec.name == "lookup_order"
    assert spec.description == "Look up an order by its number."
    assert (spec.reply, spec.timeout, spec.cancel_on_interrupt) == (ReplyMode.TOOL_RESULT, 3, True)
    assert (spec.on_call, spec.static_filler, spec.on_resolve) == (
        "static_filler",
        "One moment.",
        "generate_response",
    )
    assert spec.origin is Origin.LLM
    assert spec.parameters == {
        "type": "object",
        "properties": {
            "order_id": {"type": "string", "description": "The order number, e.g. A1001"},
            "status": {"enum": ["open", "shipped"], "type": "string", "default": "open"},
            "limit": {"type": ["integer", "null"], "default": None},
            "skus": {"type": "array", "items": {"type": "string"}},
            "price": {"type": "number", "default": 1},
            "gift": {"type": "boolean", "default": False},
            "extra": {
                "type": "object",
                "additionalProperties": True,
                "description": "Anything else.",
            },
        },
        "required": ["order_id", "skus", "extra"],
    }


def test_a_perception_tool() -> None:
    declared = tool("seen_id_card", origin="vision", request={"url": "/seen"})
    (spec,) = build_tools({"base_url": BASE, "tools": [declared]})
    assert spec.is_perception
