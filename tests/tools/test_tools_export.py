"""Tool definitions in Tavus's formats, and Tavus's limits."""

from __future__ import annotations

import dataclasses
import json
from enum import Enum
from typing import Any

import pytest
from pydantic import BaseModel, create_model

from cvibot._context import ToolContext
from cvibot.tools import (
    ToolSpec,
    build_tool_spec,
    limit_problems,
    to_legacy_tool,
    to_perception_tool,
    to_registry_tool,
    tool_definitions,
)


class Status(Enum):
    OPEN = "open"
    SHIPPED = "shipped"


class Customer(BaseModel):
    """Who placed the order."""

    email: str


async def find_orders(
    customer: Customer, ctx: ToolContext, status: Status = Status.OPEN, limit: int | None = None
) -> list[str]:
    """Find a customer's orders.

    Args:
        customer: The customer.
        status: Only orders in this state.
        limit: At most this many.
    """
    return []


def person_waved(hand: str) -> None:
    """The person in view waves.

    Args:
        hand: "left" or "right".
    """


def keyword_heard(word: str) -> None:
    """A keyword was said."""


FIND = build_tool_spec(find_orders)
WAVED = build_tool_spec(person_waved, origin="vision")
HEARD = build_tool_spec(keyword_heard, origin="audio")

FIND_PARAMETERS = {
    "type": "object",
    "properties": {
        "customer": {
            "description": "The customer.",
            "properties": {"email": {"type": "string"}},
            "required": ["email"],
            "type": "object",
        },
        "status": {
            "description": "Only orders in this state.",
            "enum": ["open", "shipped"],
            "type": "string",
            "default": "open",
        },
        "limit": {
            "type": ["integer", "null"],
            "default": None,
            "description": "At most this many.",
        },
    },
    "required": ["customer"],
}
FIND_DESCRIPTION = "Find a customer's orders."
WAVED_FUNCTION = {
    "type": "function",
    "function": {
        "name": "person_waved",
        "description": "The person in view waves.",
        "parameters": {
            "type": "object",
            "properties": {"hand": {"description": '"left" or "right".', "type": "string"}},
            "required": ["hand"],
        },
    },
}


def test_legacy_tool() -> None:
    assert to_legacy_tool(FIND) == {
        "type": "function",
        "function": {
            "name": "find_orders",
            "description": FIND_DESCRIPTION,
            "parameters": FIND_PARAMETERS,
        },
    }


def test_registry_tool_with_defaults() -> None:
    assert to_registry_tool(FIND) == {
        "name": "find_orders",
        "description": FIND_DESCRIPTION,
        "parameters": FIND_PARAMETERS,
        "origin": "llm",
        "on_call": "generate_filler",
        "on_resolve": "generate_response",
        "delivery": {"app_message": True},
    }


def test_registry_tool_with_server_side_options() -> None:
    spec = FIND.with_options(
        on_call="static_filler", static_filler="Let me look.", on_resolve="add_to_context"
    )
    body = to_registry_tool(spec)
    assert (body["on_call"], body["static_filler"], body["on_resolve"]) == (
        "static_filler",
        "Let me look.",
        "add_to_context",
    )
    assert "static_filler" not in to_registry_tool(FIND.with_options(on_call="silent"))


def test_perception_tool_formats() -> None:
    assert to_perception_tool(WAVED) == WAVED_FUNCTION
    assert to_registry_tool(WAVED) == {
        "name": "person_waved",
        "description": "The person in view waves.",
        "parameters": WAVED_FUNCTION["function"]["parameters"],  # type: ignore[index]
        "origin": "vision",
        "on_call": None,
        "on_resolve": "fire_and_forget",
        "delivery": {"app_message": True},
    }
    assert to_registry_tool(HEARD)["origin"] == "audio"


def test_wrong_format_for_the_origin_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"'person_waved' is a vision perception tool"):
        to_legacy_tool(WAVED)
    with pytest.raises(ValueError, match=r"'find_orders' is an LLM tool"):
        to_perception_tool(FIND)


def test_exports_are_copies() -> None:
    exported = to_legacy_tool(FIND)
    exported["function"]["parameters"]["properties"].clear()
    to_registry_tool(FIND)["parameters"]["required"].append("x")
    assert FIND.parameters == FIND_PARAMETERS


def test_tool_definitions_with_every_kind() -> None:
    assert tool_definitions([FIND, WAVED, HEARD]) == {
        "persona": {
            "layers": {
                "llm": {"tools": [to_legacy_tool(FIND)]},
                "perception": {
                    "visual_tools": [WAVED_FUNCTION],
                    "audio_tools": [to_perception_tool(HEARD)],
                },
            }
        },
        "tools": [to_registry_tool(FIND), to_registry_tool(WAVED), to_registry_tool(HEARD)],
    }


def test_tool_definitions_leave_out_empty_perception_lists() -> None:
    assert tool_definitions([FIND]) == {
        "persona": {"layers": {"llm": {"tools": [to_legacy_tool(FIND)]}}},
        "tools": [to_registry_tool(FIND)],
    }
    only_vision = tool_definitions(iter([WAVED]))
    assert only_vision["persona"]["layers"] == {
        "llm": {"tools": []},
        "perception": {"visual_tools": [WAVED_FUNCTION]},
    }


# -- limits ---------------------------------------------------------------------------------


def numbered(count: int) -> list[ToolSpec]:
    return [FIND.with_options(name=f"tool_{i}") for i in range(count)]


def test_no_problems() -> None:
    assert limit_problems([FIND, WAVED, HEARD]) == []
    assert limit_problems(numbered(50)) == []


def test_more_than_fifty_tools() -> None:
    assert limit_problems(numbered(51)) == ["51 tools, more than Tavus's limit of 50 per persona"]


def test_description_and_parameters_over_ten_thousand_characters() -> None:
    size = len(FIND.description) + len(json.dumps(FIND.parameters))
    just_fits = FIND.with_options(description="x" * (10_000 - size + len(FIND.description)))
    assert limit_problems([just_fits]) == []
    too_big = FIND.with_options(description="x" * (10_001 - size + len(FIND.description)))
    assert limit_problems([too_big]) == [
        "tool 'find_orders': description and parameters take 10,001 characters, "
        "more than Tavus's limit of 10,000"
    ]


def test_name_breaking_the_rule() -> None:
    # A spec cannot be built with a bad name; one smuggled past the checks is still caught.
    spec = FIND.with_options()
    object.__setattr__(spec, "name", "find-orders")
    assert limit_problems([spec]) == [
        "tool 'find-orders': the name may contain only ASCII letters, digits and "
        "underscores (found '-')"
    ]


def test_reserved_parameter_names_nested_too() -> None:
    model = create_model("m")
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {
            "tavus_top": {"type": "string"},
            "order": {"type": "object", "properties": {"tavus_inner": {"type": "string"}}},
        },
        "required": [],
    }
    spec = ToolSpec(
        name="raw",
        description="Hand-written schema.",
        parameters=parameters,
        function=person_waved,
        is_async=False,
        arguments_model=model,
    )
    assert limit_problems([spec]) == [
        "tool 'raw': parameter(s) 'tavus_top', 'order.tavus_inner' use the prefix 'tavus_', "
        "which Tavus reserves"
    ]


def test_duplicate_names() -> None:
    assert limit_problems([FIND, dataclasses.replace(FIND)]) == [
        "tool 'find_orders': the name is used by more than one tool"
    ]
