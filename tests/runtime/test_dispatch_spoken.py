"""Spoken results: a structured result under a spoken reply is words, never JSON.

``say=`` turns a tool's result into the sentence spoken; without it the readable default
(:func:`cvibot._dispatch.answer.speakable`) applies. Answers Tavus reads keep the JSON.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field
from runtime_helpers import MakeHarness, append_context, echo, respond, spec_of, tool_call

from cvibot import tool
from cvibot._dispatch import OutcomeKind
from cvibot._dispatch.answer import speakable
from cvibot._errors import ToolDefinitionError
from cvibot.tools import build_tool_spec, dynamic_tool

ORDER = {"order_id": 7, "status": "shipped", "eta": "Friday"}
ORDER_JSON = '{"order_id":7,"status":"shipped","eta":"Friday"}'
ORDER_WORDS = "order id: 7, status: shipped, eta: Friday"


@tool
def lookup_order() -> dict[str, Any]:
    """Look up an order."""
    return ORDER


@tool(say=lambda order: f"Order {order['order_id']} is {order['status']}, due {order['eta']}.")
def lookup_said() -> dict[str, Any]:
    """Look up an order, with a sentence to say."""
    return ORDER


@pytest.mark.parametrize(
    ("reply", "tcid", "expected"),
    [
        ("echo", "t1", [echo(ORDER_WORDS)]),
        ("respond", "t1", [respond(ORDER_WORDS)]),
        ("auto", None, [echo(ORDER_WORDS)]),  # a legacy call: no id to answer
        ("tool_result", None, [echo(ORDER_WORDS)]),
        ("append_context", "t1", [append_context(ORDER_JSON)]),
    ],
)
async def test_a_structured_result_is_spoken_in_words(
    make_harness: MakeHarness, reply: str, tcid: str | None, expected: list[dict[str, Any]]
) -> None:
    h = make_harness(spec_of(lookup_order).with_options(reply=reply))

    assert await h.run(tool_call("lookup_order", tcid=tcid)) == expected


@pytest.mark.parametrize(
    ("reply", "tcid", "spoken"),
    [("echo", "t1", True), ("auto", None, True), ("auto", "t1", False)],
)
async def test_say_makes_the_sentence_and_tool_result_keeps_the_json(
    make_harness: MakeHarness, reply: str, tcid: str | None, spoken: bool
) -> None:
    h = make_harness(spec_of(lookup_said).with_options(reply=reply))

    [message] = await h.run(tool_call("lookup_said", tcid=tcid))

    if spoken:
        assert message == echo("Order 7 is shipped, due Friday.")
    else:
        assert json.loads(message["properties"]["output"]) == ORDER


async def test_say_returning_none_speaks_nothing(make_harness: MakeHarness) -> None:
    spec = build_tool_spec(lookup_order, reply="echo", say=lambda _: None)

    h = make_harness(spec)

    assert await h.run(tool_call("lookup_order", tcid="t1")) == []
    assert h.rec.outcome("t1").kind is OutcomeKind.SUCCESS


@pytest.mark.parametrize(
    ("say", "error"),
    [
        (lambda order: order["missing"], None),  # raises KeyError
        (lambda order: 42, "it returned int, not a string"),
    ],
    ids=["raises", "not a string"],
)
async def test_a_failing_say_is_logged_and_the_default_is_spoken(
    make_harness: MakeHarness, logs: list[dict[str, Any]], say: Any, error: str | None
) -> None:
    h = make_harness(build_tool_spec(lookup_order, reply="echo", say=say))

    sent = await h.run(tool_call("lookup_order", tcid="t1"))

    assert sent == [echo(ORDER_WORDS)]  # still exactly one answer
    [failed] = [entry for entry in logs if entry["event"] == "say formatter failed"]
    assert failed["tool"] == "lookup_order"
    assert failed["log_level"] == "error"
    assert failed.get("error") == error


async def test_dynamic_tools_take_say_too(make_harness: MakeHarness) -> None:
    spec = dynamic_tool(
        "stock",
        "Stock of a product.",
        {"sku": str},
        lambda arguments: {"sku": arguments["sku"], "left": 3},
        reply="echo",
        say=lambda result: f"{result['left']} left of {result['sku']}",
    )
    h = make_harness(spec)

    assert await h.run(tool_call("stock", {"sku": "A1"}, tcid="t1")) == [echo("3 left of A1")]


def test_say_must_be_a_plain_function() -> None:
    async def later(result: Any) -> str:
        return "never"

    with pytest.raises(ToolDefinitionError, match="say must be a plain function"):
        build_tool_spec(lookup_order, say="Order {order_id}")  # type: ignore[arg-type]
    with pytest.raises(ToolDefinitionError, match="say must be a plain function"):
        build_tool_spec(lookup_order, say=later)  # type: ignore[arg-type]
    # register(fn, say=...) in cvibot_register_tools goes through with_options.
    assert spec_of(lookup_order).with_options(say=str).say is str


# -- the readable default --------------------------------------------------------------------


class Status(enum.Enum):
    SHIPPED = "shipped"


class Line(BaseModel):
    sku: str
    qty: int = Field(ge=0)


@dataclasses.dataclass
class Parcel:
    carrier: str
    delivered: bool


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("already words", "already words"),
        (None, None),
        (ORDER, ORDER_WORDS),
        ([], "none"),
        ({}, "none"),
        (["tea"], "tea"),
        (["tea", "coffee"], "tea and coffee"),
        (["tea", "coffee", "cake"], "tea, coffee and cake"),
        ((1, 2.5, 3.0), "1, 2.5 and 3"),
        (
            {"in_stock": True, "backorder": False, "note": None},
            "in stock: yes, backorder: no, note: none",
        ),
        (Status.SHIPPED, "shipped"),
        (Line(sku="A1", qty=2), "sku: A1, qty: 2"),
        (Parcel("DHL", delivered=False), "carrier: DHL, delivered: no"),
        (
            [Line(sku="A1", qty=2), Line(sku="B2", qty=1)],
            "sku: A1, qty: 2; sku: B2, qty: 1",
        ),
        (
            {"order": 7, "lines": [{"sku": "A1", "qty": 2}]},
            "order: 7; lines: sku: A1, qty: 2",
        ),
        (float("nan"), "not a number"),
    ],
)
def test_the_readable_default(value: Any, words: str | None) -> None:
    assert speakable(value) == words


def test_a_number_too_long_for_str_is_still_said() -> None:
    assert speakable({"n": 10**5000}) == "n: a very large number"


def test_deep_and_self_containing_results_end() -> None:
    deep: list[Any] = []
    for _ in range(10_000):
        deep = [deep]
    looped: dict[str, Any] = {"name": "loop"}
    looped["self"] = looped

    assert speakable(deep) == "…"
    assert speakable(looped).startswith("name: loop; self: name: loop")  # type: ignore[union-attr]


# Any text, lone surrogates included: a tool may hand on what it was given.
any_text = st.text(st.characters(exclude_categories=()))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=30,
)


@given(json_values)
def test_any_json_value_becomes_words_without_raising(value: Any) -> None:
    words = speakable(value)

    assert words is None if value is None else isinstance(words, str)


@given(
    st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True), st.text(max_size=20), min_size=1)
)
def test_every_key_and_value_of_a_flat_result_is_said(value: dict[str, str]) -> None:
    words = speakable(value)

    assert words is not None
    for key, item in value.items():
        assert f"{key}: {item}" in words
