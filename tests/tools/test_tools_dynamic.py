"""dynamic_tool: tool specs built from data, run by the real dispatcher."""

from __future__ import annotations

import threading
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from cvibot._context import ToolContext
from cvibot._errors import ToolDefinitionError, ToolError
from cvibot.testing import FakeConversation
from cvibot.tools import (
    ArgumentsError,
    Origin,
    ReplyMode,
    ToolSpec,
    dynamic_handler,
    dynamic_tool,
    get_tool_spec,
    tool,
)

FIELDS: dict[str, Any] = {
    "order_id": (str, Field(description="The order number, e.g. A1001")),
    "quantity": (Annotated[int, Field(ge=1)], 1),
    "note": str | None,
}


async def echo_arguments(arguments: dict[str, Any]) -> dict[str, Any]:
    return arguments


def test_the_spec_has_the_schema_and_model_of_the_fields() -> None:
    spec = dynamic_tool("lookup_order", "Look up an order.", FIELDS, echo_arguments)

    assert isinstance(spec, ToolSpec)
    assert (spec.name, spec.description, spec.is_async) == (
        "lookup_order",
        "Look up an order.",
        True,
    )
    assert spec.context_param is None
    assert spec.parameters == {
        "type": "object",
        "properties": {
            "order_id": {"type": "string", "description": "The order number, e.g. A1001"},
            "quantity": {"type": "integer", "minimum": 1, "default": 1},
            "note": {"type": ["string", "null"]},
        },
        "required": ["order_id", "note"],
    }
    assert spec.validate({"order_id": "A1", "quantity": "2", "note": None}) == {
        "order_id": "A1",
        "quantity": 2,
        "note": None,
    }


def test_invalid_and_unknown_arguments_name_the_field() -> None:
    spec = dynamic_tool("lookup_order", "Look up an order.", FIELDS, echo_arguments)
    with pytest.raises(ArgumentsError) as caught:
        spec.validate({"order_id": "A1", "quantity": 0, "note": "x", "colour": "red"})
    assert [path for path, _ in caught.value.errors] == ["quantity", "colour"]
    assert "Extra inputs are not permitted" in str(caught.value)


def test_a_model_is_used_as_it_is() -> None:
    class Arguments(BaseModel):
        model_config = ConfigDict(extra="forbid")
        sku: str
        count: int = 2

    spec = dynamic_tool("add_to_cart", "Add a product.", Arguments, echo_arguments)
    assert spec.arguments_model is Arguments
    assert spec.parameters["required"] == ["sku"]
    assert spec.validate({"sku": "K"}) == {"sku": "K", "count": 2}


def test_options_are_checked_like_tools() -> None:
    spec = dynamic_tool(
        "ping",
        "Ping.",
        {},
        echo_arguments,
        reply="echo",
        timeout=3,
        cancel_on_interrupt=True,
        on_call="static_filler",
        static_filler="One moment.",
        on_resolve="generate_response",
    )
    assert (spec.reply, spec.timeout, spec.cancel_on_interrupt) == (ReplyMode.ECHO, 3.0, True)
    assert (spec.on_call, spec.static_filler, spec.on_resolve) == (
        "static_filler",
        "One moment.",
        "generate_response",
    )
    assert (
        dynamic_tool("seen", "Seen.", {}, echo_arguments, origin="vision").origin is Origin.VISION
    )
    with pytest.raises(ToolDefinitionError, match="timeout must be > 0"):
        dynamic_tool("ping", "Ping.", {}, echo_arguments, timeout=0)


def test_dynamic_handler_finds_the_handler_through_overrides() -> None:
    spec = dynamic_tool("ping", "Ping.", {}, echo_arguments)

    assert dynamic_handler(spec) is echo_arguments
    assert dynamic_handler(spec.with_options(reply="echo", name="pong")) is echo_arguments

    @tool
    def plain() -> str:
        """A decorated tool."""
        return "x"

    decorated = get_tool_spec(plain)
    assert decorated is not None
    assert dynamic_handler(decorated) is None


class _Callable:
    async def __call__(self, arguments: dict[str, Any], ctx: ToolContext) -> str:
        return "called"


def _takes(*args: Any) -> str:
    return "varargs"


@pytest.mark.parametrize(
    ("handler", "takes_context", "is_async"),
    [
        (echo_arguments, False, True),
        (lambda arguments: arguments, False, False),
        (lambda arguments, ctx: arguments, True, False),
        (lambda arguments, ctx, extra=1: arguments, True, False),
        (_Callable(), True, True),
        (_takes, True, False),
    ],
)
def test_the_handler_signature_decides_whether_it_gets_the_context(
    handler: Any, takes_context: bool, is_async: bool
) -> None:
    spec = dynamic_tool("t", "T.", {}, handler)
    assert (spec.context_param is not None, spec.is_async) == (takes_context, is_async)


@pytest.mark.parametrize(
    ("name", "arguments", "handler", "message"),
    [
        ("bad name", {}, echo_arguments, "may contain only ASCII letters"),
        ("t", {}, "not callable", "the handler must be callable"),
        ("t", {}, lambda: None, "must take (arguments) or (arguments, ctx)"),
        ("t", {}, lambda a, b, c: None, "must take (arguments) or (arguments, ctx)"),
        ("t", {}, lambda a, *, key: None, "must take (arguments) or (arguments, ctx)"),
        ("t", [("x", str)], echo_arguments, "must be a pydantic model or a mapping"),
        ("t", {"a b": str}, echo_arguments, "argument names must be Python identifiers"),
        ("t", {"_hidden": str}, echo_arguments, "may not start with an underscore"),
        ("t", {"model_config": str}, echo_arguments, "be a pydantic model attribute"),
        ("t", {"tavus_id": str}, echo_arguments, "'tavus_id' use the prefix 'tavus_'"),
        ("t", {"ctx": ToolContext}, echo_arguments, "a ToolContext is not an argument"),
        ("t", {"x": (int, "not an int", 3)}, echo_arguments, "cannot build the argument model"),
    ],
)
def test_bad_definitions_name_the_tool(
    name: str, arguments: Any, handler: Any, message: str
) -> None:
    with pytest.raises(ToolDefinitionError) as caught:
        dynamic_tool(name, "D.", arguments, handler)
    assert message in str(caught.value)
    if name == "t":
        assert str(caught.value).startswith("tool 't': ")


# -- run by the dispatcher ----------------------------------------------------------------


async def test_an_async_handler_gets_the_arguments_and_the_context() -> None:
    seen: list[tuple[dict[str, Any], ToolContext]] = []

    async def handler(arguments: dict[str, Any], ctx: ToolContext) -> str:
        seen.append((arguments, ctx))
        return f"order {arguments['order_id']} x{arguments['quantity']}"

    spec = dynamic_tool("lookup_order", "Look up an order.", FIELDS, handler)
    async with FakeConversation(tools=[spec]) as conv:
        reply = await conv.tool_call(
            "lookup_order", {"order_id": "A1", "note": None}, tool_call_id="tc-1"
        )

    assert (reply.status, reply.text) == ("success", "order A1 x1")
    ((arguments, ctx),) = seen
    assert arguments == {"order_id": "A1", "quantity": 1, "note": None}
    assert isinstance(ctx, ToolContext)
    assert (ctx.tool, ctx.tool_call_id) == ("lookup_order", "tc-1")


async def test_a_sync_handler_runs_in_the_thread_pool() -> None:
    threads: list[str] = []

    def handler(arguments: dict[str, Any]) -> dict[str, Any]:
        threads.append(threading.current_thread().name)
        return {"got": arguments}

    spec = dynamic_tool("ping", "Ping.", {"n": int}, handler)
    async with FakeConversation(tools=[spec]) as conv:
        reply = await conv.tool_call("ping", {"n": "7"})

    assert reply.json() == {"got": {"n": 7}}
    assert threads and threads[0] != threading.main_thread().name


async def test_errors_and_invalid_arguments_get_the_usual_answers() -> None:
    async def handler(arguments: dict[str, Any]) -> str:
        raise ToolError(f"There is no order {arguments['order_id']}.")

    spec = dynamic_tool("lookup_order", "Look up an order.", FIELDS, handler)
    async with FakeConversation(tools=[spec]) as conv:
        refused = await conv.tool_call("lookup_order", {"order_id": "A9", "note": None})
        invalid = await conv.tool_call("lookup_order", {"order_id": 5, "quantity": 0})

    assert (refused.status, refused.text) == ("error", "There is no order A9.")
    assert invalid.status == "error"
    assert invalid.text is not None
    assert invalid.text.startswith("invalid arguments for lookup_order: order_id: ")
    assert "quantity: " in invalid.text and "note: Field required" in invalid.text
