"""ToolSpec: option checks, with_options, and validation of the LLM's arguments."""

from __future__ import annotations

import math
import pickle
import re
import time
from enum import Enum
from types import MappingProxyType
from typing import Annotated, Any, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from cvibot._context import ToolContext
from cvibot._errors import ToolDefinitionError
from cvibot.tools import ArgumentsError, Origin, ReplyMode, ToolSpec, build_tool_spec, tool
from cvibot.tools._spec import name_problem


class Size(Enum):
    SMALL = "s"
    LARGE = "l"


class Item(BaseModel):
    sku: str
    quantity: int = 1


def place_order(
    order_id: int,
    items: list[Item],
    ctx: ToolContext,
    size: Size = Size.SMALL,
    gift: bool = False,
    note: str | None = None,
    speed: Literal["slow", "fast"] = "slow",
    rating: Annotated[int, Field(ge=1, le=5)] = 3,
) -> None:
    """Place an order."""


SPEC = build_tool_spec(place_order)


def noop(a: int = 0) -> None: ...


def make(**options: Any) -> ToolSpec:
    return build_tool_spec(noop, **options)


# -- validate -------------------------------------------------------------------------------


def test_validate_coerces_and_fills_defaults() -> None:
    kwargs = SPEC.validate({"order_id": "42", "items": [{"sku": "A1", "quantity": "2"}]})
    assert kwargs == {
        "order_id": 42,
        "items": [Item(sku="A1", quantity=2)],
        "size": Size.SMALL,
        "gift": False,
        "note": None,
        "speed": "slow",
        "rating": 3,
    }
    assert isinstance(kwargs["items"][0], Item)  # nested models stay models


def test_validate_turns_enum_values_into_members_and_accepts_lax_json_values() -> None:
    kwargs = SPEC.validate(
        {"order_id": 1, "items": [], "size": "l", "gift": "true", "speed": "fast", "note": "hi"}
    )
    assert kwargs["size"] is Size.LARGE
    assert kwargs["gift"] is True
    assert kwargs["speed"] == "fast"
    assert kwargs["note"] == "hi"


def test_validate_leaves_the_context_parameter_to_the_dispatcher() -> None:
    assert "ctx" not in SPEC.validate({"order_id": 1, "items": []})


def test_validate_accepts_any_mapping() -> None:
    assert SPEC.validate(MappingProxyType({"order_id": 1, "items": []}))["order_id"] == 1


def test_validate_result_calls_the_function() -> None:
    def add(a: int, b: int = 2) -> int:
        return a + b

    spec = build_tool_spec(add)
    assert spec.function(**spec.validate({"a": "40"})) == 42


def test_wrong_type_names_the_field_and_the_bad_value() -> None:
    with pytest.raises(ArgumentsError) as info:
        SPEC.validate({"order_id": "abc", "items": []})
    assert info.value.errors == [
        (
            "order_id",
            "Input should be a valid integer, unable to parse string as an integer (got 'abc')",
        )
    ]
    assert str(info.value) == info.value.errors[0][0] + ": " + info.value.errors[0][1]


def test_every_bad_field_is_named_in_the_message() -> None:
    with pytest.raises(ArgumentsError) as info:
        SPEC.validate({"order_id": "abc", "size": "medium", "rating": 9})
    message = str(info.value)
    assert message.startswith("order_id: Input should be a valid integer")
    assert "items: Field required" in message
    assert "size: Input should be 's' or 'l' (got 'medium')" in message
    assert "rating: Input should be less than or equal to 5 (got 9)" in message
    assert [path for path, _ in info.value.errors] == ["order_id", "items", "size", "rating"]


def test_missing_field_does_not_quote_the_whole_arguments() -> None:
    with pytest.raises(ArgumentsError) as info:
        SPEC.validate({"items": []})
    assert info.value.errors == [("order_id", "Field required")]


def test_nested_paths_are_dotted() -> None:
    with pytest.raises(ArgumentsError) as info:
        SPEC.validate({"order_id": 1, "items": [{"sku": "A"}, {"quantity": "x"}]})
    assert [path for path, _ in info.value.errors] == ["items.1.sku", "items.1.quantity"]


def test_unknown_arguments_are_rejected() -> None:
    with pytest.raises(ArgumentsError) as info:
        SPEC.validate({"order_id": 1, "items": [], "discount": 100, "ctx": "x"})
    assert info.value.errors == [
        ("discount", "Extra inputs are not permitted (got 100)"),
        ("ctx", "Extra inputs are not permitted (got 'x')"),
    ]


def test_unknown_fields_inside_nested_models_follow_the_models_config() -> None:
    # Only the top level is cvibot's; a nested model keeps its own `extra` setting.
    kwargs = SPEC.validate({"order_id": 1, "items": [{"sku": "A", "colour": "red"}]})
    assert kwargs["items"] == [Item(sku="A")]


def test_bad_value_is_truncated() -> None:
    with pytest.raises(ArgumentsError) as info:
        SPEC.validate({"order_id": "x" * 500, "items": []})
    got = re.search(r"\(got (.*)\)$", info.value.errors[0][1])
    assert got is not None
    assert got.group(1) == "'" + "x" * 36 + "..."
    assert len(got.group(1)) == 40


@pytest.mark.parametrize("arguments", [[1, 2], "order_id=1", None, 5])
def test_arguments_that_are_not_an_object(arguments: Any) -> None:
    with pytest.raises(ArgumentsError) as info:
        SPEC.validate(arguments)
    assert info.value.errors[0][0] == ""
    assert str(info.value).startswith("Arguments should be a JSON object (got ")


def test_arguments_error_is_a_value_error_and_pickles() -> None:
    err = ArgumentsError([("a", "bad"), ("b.0", "worse")])
    assert isinstance(err, ValueError)
    assert str(err) == "a: bad; b.0: worse"
    copy = pickle.loads(pickle.dumps(err))
    assert copy.errors == err.errors
    assert str(copy) == str(err)


def test_validate_is_fast() -> None:
    arguments = {"order_id": "42", "items": [{"sku": "A1"}], "size": "l"}
    rounds = 2000
    start = time.perf_counter()
    for _ in range(rounds):
        SPEC.validate(arguments)
    per_call = (time.perf_counter() - start) / rounds
    assert per_call < 100e-6  # a few µs in practice; the margin absorbs slow machines


# -- options --------------------------------------------------------------------------------


def test_defaults() -> None:
    spec = make()
    assert (spec.reply, spec.timeout, spec.cancel_on_interrupt) == (None, None, None)
    assert spec.origin is Origin.LLM
    assert (spec.on_call, spec.static_filler, spec.on_resolve, spec.plugin) == (None,) * 4
    assert not spec.is_perception


def test_string_options_become_enums() -> None:
    spec = make(reply="echo", origin="vision")
    assert spec.reply is ReplyMode.ECHO
    assert spec.origin is Origin.VISION
    assert spec.is_perception
    assert make(reply=ReplyMode.TOOL_RESULT, origin=Origin.AUDIO).origin is Origin.AUDIO


def test_timeout_is_stored_as_float_seconds() -> None:
    assert make(timeout=5).timeout == 5.0
    assert isinstance(make(timeout=5).timeout, float)
    assert make(timeout=0.25).timeout == 0.25


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"timeout": 0}, r"timeout must be > 0 seconds, not 0"),
        ({"timeout": -1.5}, r"timeout must be > 0 seconds, not -1.5"),
        ({"timeout": math.nan}, r"timeout must be > 0 seconds, not nan"),
        ({"timeout": "5"}, r"timeout must be a number of seconds, not '5'"),
        ({"timeout": True}, r"timeout must be a number of seconds, not True"),
        ({"reply": "shout"}, r"reply must be one of 'auto', 'tool_result', .* not 'shout'"),
        ({"origin": "smell"}, r"origin must be one of 'llm', 'vision', 'audio', not 'smell'"),
        ({"on_call": "sing"}, r"on_call must be one of 'generate_filler', .* not 'sing'"),
        ({"on_resolve": "later"}, r"on_resolve must be one of 'generate_response', .*'later'"),
        ({"cancel_on_interrupt": "yes"}, r"cancel_on_interrupt must be true, false or None"),
        ({"description": 3}, r"description must be a string"),
        ({"on_call": "static_filler"}, r'on_call="static_filler" needs a non-empty static_filler'),
        (
            {"on_call": "static_filler", "static_filler": ""},
            r'on_call="static_filler" needs a non-empty static_filler',
        ),
        ({"static_filler": "One moment."}, r"static_filler is only used with on_call="),
        (
            {"on_call": "silent", "static_filler": "One moment."},
            r"static_filler is only used with .* \(on_call is 'silent'\)",
        ),
        (
            {"origin": "vision", "on_call": "silent"},
            r"perception tools \(origin 'vision'\) cannot have on_call \(got 'silent'\)",
        ),
        (
            {"origin": "audio", "on_resolve": "generate_response"},
            r"perception tools \(origin 'audio'\) only allow on_resolve='fire_and_forget'",
        ),
    ],
)
def test_bad_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ToolDefinitionError, match=r"^tool 'noop': " + message):
        make(**options)


def test_good_server_side_options() -> None:
    spec = make(on_call="static_filler", static_filler="One moment.", on_resolve="add_to_context")
    assert (spec.on_call, spec.static_filler, spec.on_resolve) == (
        "static_filler",
        "One moment.",
        "add_to_context",
    )
    assert make(origin="vision", on_resolve="fire_and_forget").on_resolve == "fire_and_forget"


# -- the name rule --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a" * 64, "_leading", "_", "A", "get_Order_2"])
def test_valid_names(name: str) -> None:
    assert make(name=name).name == name


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("a" * 65, r"must be at most 64 characters long \(it has 65\)"),
        ("1st_order", r"must start with an ASCII letter or an underscore, not '1'"),
        ("get-order", r"may contain only ASCII letters, digits and underscores \(found '-'\)"),
        ("get order!", r"\(found ' ', '!'\)"),
        ("café", r"\(found 'é'\)"),
        ("", r"must not be empty"),
    ],
)
def test_invalid_names_say_which_rule(name: str, message: str) -> None:
    with pytest.raises(ToolDefinitionError, match=r"^tool name .* " + message):
        make(name=name)


def test_invalid_default_name_is_reported_too() -> None:
    namespace: dict[str, Any] = {}
    exec("def ok(a: int) -> None: ...", namespace)
    fn = namespace["ok"]
    fn.__name__ = "not-ok"
    with pytest.raises(ToolDefinitionError, match=r"tool name 'not-ok' may contain only"):
        tool(fn)


@given(st.text(max_size=70))
def test_name_problem_agrees_with_the_tavus_pattern(name: str) -> None:
    valid = re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]{0,63}", name, flags=re.ASCII) is not None
    assert (name_problem(name) is None) == valid


# -- with_options ---------------------------------------------------------------------------


def test_with_options_returns_a_validated_copy() -> None:
    spec = make()
    changed = spec.with_options(reply="respond", timeout=2, plugin="shop")
    assert changed.reply is ReplyMode.RESPOND
    assert changed.timeout == 2.0
    assert changed.plugin == "shop"
    assert changed.function is spec.function
    assert changed.arguments_model is spec.arguments_model
    assert spec.reply is None  # the original is untouched


def test_with_options_rejects_bad_values_and_unknown_keys() -> None:
    with pytest.raises(ToolDefinitionError, match=r"timeout must be > 0"):
        make().with_options(timeout=-1)
    with pytest.raises(ToolDefinitionError, match=r"unknown option\(s\) 'parameters', 'retries'"):
        make().with_options(retries=3, parameters={})


def test_specs_are_frozen_and_hashable() -> None:
    spec = make()
    with pytest.raises(AttributeError):
        spec.timeout = 3  # type: ignore[misc]
    assert spec.with_options() == spec
    assert len({spec, spec.with_options()}) == 1
    assert "parameters" not in repr(spec)
