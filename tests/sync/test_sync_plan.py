"""Planning a registry sync (pure: no requests) and the semantic comparison under it."""

from __future__ import annotations

import pytest
from sync_helpers import PERSONA, spec, stored

from cvibot._sync import AttachTool, DetachTool, FieldChange, LimitsExceeded, plan_registry
from cvibot._sync.report import render_plan
from cvibot._sync.tool_compare import json_equal, registry_changes, registry_fields
from cvibot.tools import ToolSpec, to_registry_tool


def lookup_order(order_id: str) -> str:
    """Look up an order.

    Args:
        order_id: The order number, e.g. "A1001".
    """
    return order_id


def add_to_cart(sku: str, quantity: int = 1) -> str:
    """Put a product in the cart."""
    return sku


def product_shown(product: str) -> None:
    """A product is held up to the camera."""


LOOKUP = spec(lookup_order)
CART = spec(add_to_cart)
SHOWN = spec(product_shown, origin="vision")


# -- comparison ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        ({"a": 1, "b": [1, {"c": None}]}, {"b": [1, {"c": None}], "a": 1}, True),
        (1, 1.0, True),
        (1, True, False),
        (0, False, False),
        ([1, 2], [2, 1], False),
        ({"a": 1}, {"a": 1, "b": None}, False),
        ("1", 1, False),
        (None, None, True),
    ],
)
def test_json_equal_is_json_semantics(a: object, b: object, equal: bool) -> None:
    assert json_equal(a, b) is equal
    assert json_equal(b, a) is equal


def test_a_tool_tavus_filled_in_equals_the_body_it_came_from() -> None:
    # Tavus adds server keys and defaults, and may order keys as it likes.
    body = to_registry_tool(CART)
    returned = stored(CART).document()
    returned["parameters"] = dict(reversed(list(returned["parameters"].items())))
    assert registry_changes(returned, body) == []


def test_missing_or_null_fields_count_as_tavus_defaults() -> None:
    assert registry_fields({"name": "x"}) == {
        "description": "",
        "parameters": {},
        "origin": "llm",
        "on_call": "generate_filler",
        "static_filler": None,
        "on_resolve": "fire_and_forget",
        "delivery": {"app_message": True},
    }
    assert registry_fields({"origin": "audio", "on_call": None})["on_call"] is None
    assert registry_fields({"delivery": {"app_message": True, "api": None}})["delivery"] == {
        "app_message": True
    }


# -- the registry plan --------------------------------------------------------------------


def test_an_empty_account_gets_every_tool_created_and_attached() -> None:
    plan = plan_registry([LOOKUP, CART], account=[], attached=[], persona_id=PERSONA)

    assert [(c.name, c.body) for c in plan.creates] == [
        ("add_to_cart", to_registry_tool(CART)),
        ("lookup_order", to_registry_tool(LOOKUP)),
    ]
    assert plan.attaches == (AttachTool("add_to_cart", None), AttachTool("lookup_order", None))
    assert (plan.updates, plan.detaches, plan.unchanged) == ((), (), ())
    assert plan.tools == ("add_to_cart", "lookup_order")
    assert not plan.empty


def test_tools_as_coded_and_attached_are_unchanged() -> None:
    tools = [stored(LOOKUP), stored(SHOWN)]
    plan = plan_registry([SHOWN, LOOKUP], account=tools, attached=tools, persona_id=PERSONA)

    assert plan.empty
    assert plan.unchanged == ("lookup_order", "product_shown")


def test_a_changed_description_is_an_update_of_that_field_only() -> None:
    old = stored(LOOKUP, description="Find an order.")
    plan = plan_registry([LOOKUP], account=[old], attached=[old], persona_id=PERSONA)

    (update,) = plan.updates
    assert update.tool_id == old.tool_id
    assert update.changes == (FieldChange("description", "Find an order.", LOOKUP.description),)
    assert update.body() == {"description": LOOKUP.description}
    assert (plan.creates, plan.attaches, plan.detaches, plan.unchanged) == ((), (), (), ())


def test_changed_parameters_and_options_are_each_a_field_change() -> None:
    old = stored(CART, parameters={"type": "object"}, on_resolve="add_to_context")
    plan = plan_registry([CART], account=[old], attached=[old], persona_id=PERSONA)

    (update,) = plan.updates
    assert [c.field for c in update.changes] == ["parameters", "on_resolve"]
    assert update.body() == {
        "parameters": CART.parameters,
        "on_resolve": "generate_response",
    }


def test_a_tool_turned_perception_sends_the_null_on_call() -> None:
    old = stored(SHOWN, origin="llm", on_call="generate_filler", on_resolve="generate_response")
    plan = plan_registry([SHOWN], account=[old], attached=[old], persona_id=PERSONA)

    assert plan.updates[0].body() == {
        "origin": "vision",
        "on_call": None,
        "on_resolve": "fire_and_forget",
    }


def test_a_stale_static_filler_is_cleared() -> None:
    old = stored(LOOKUP, static_filler="One moment.")
    plan = plan_registry([LOOKUP], account=[old], attached=[old], persona_id=PERSONA)

    assert plan.updates[0].body() == {"static_filler": None}


def test_an_account_tool_not_attached_is_attached_by_its_id() -> None:
    old = stored(LOOKUP, tool_id="t-42")
    plan = plan_registry([LOOKUP], account=[old], attached=[], persona_id=PERSONA)

    assert plan.attaches == (AttachTool("lookup_order", "t-42"),)
    assert (plan.creates, plan.updates, plan.unchanged) == ((), (), ())


def test_attached_tools_the_code_lacks_are_detached_and_others_left_alone() -> None:
    gone = stored(CART, tool_id="t-gone")
    other = stored(spec(product_shown, name="elsewhere"), tool_id="t-other")
    system = stored(spec(add_to_cart, name="end_call"), tool_id="t-sys", is_system_tool=True)
    attached = [stored(LOOKUP), gone, system]
    plan = plan_registry(
        [LOOKUP], account=[*attached, other], attached=attached, persona_id=PERSONA
    )

    # The other account tool is neither detached nor deleted; the system tool is ignored.
    assert plan.detaches == (DetachTool("add_to_cart", "t-gone"),)
    assert plan.unchanged == ("lookup_order",)
    assert (plan.creates, plan.updates, plan.attaches) == ((), (), ())


def test_attached_tools_tavus_calls_itself_are_kept() -> None:
    api = {"app_message": False, "api": {"url": "https://crm.example/hook", "method": "POST"}}
    by_api = stored(spec(add_to_cart, name="crm_hook"), tool_id="t-api", delivery=api)
    post_call = stored(
        spec(lookup_order, name="summary"), tool_id="t-post", trigger_type="post_call"
    )
    gone = stored(CART, tool_id="t-gone")
    attached = [stored(LOOKUP), by_api, post_call, gone]

    plan = plan_registry([LOOKUP], account=attached, attached=attached, persona_id=PERSONA)

    assert plan.detaches == (DetachTool("add_to_cart", "t-gone"),)
    assert plan.kept == ("crm_hook", "summary")
    assert "  · keep      crm_hook (not delivered to the room)" in render_plan(plan)


def test_a_system_tool_is_never_taken_for_a_code_tool() -> None:
    system = stored(LOOKUP, tool_id="t-sys", is_system_tool=True)
    plan = plan_registry([LOOKUP], account=[system], attached=[system], persona_id=PERSONA)

    assert [c.name for c in plan.creates] == ["lookup_order"]
    assert plan.detaches == ()


def _numbered(numbers: range) -> list[ToolSpec]:
    return [LOOKUP.with_options(name=f"tool_{n:02d}") for n in numbers]


def test_detaching_comes_first_when_attaching_first_would_pass_fifty() -> None:
    old = [stored(s) for s in _numbered(range(50))]
    plan = plan_registry(_numbered(range(10, 60)), account=old, attached=old, persona_id=PERSONA)

    assert (len(plan.creates), len(plan.detaches), len(plan.unchanged)) == (10, 10, 40)
    assert plan.detach_first

    fewer = old[:40]  # 40 attached + 10 new = 50: attaching first fits
    plan = plan_registry(
        _numbered(range(10, 50)), account=fewer, attached=fewer, persona_id=PERSONA
    )
    assert (len(plan.attaches), len(plan.detaches)) == (10, 10)
    assert not plan.detach_first


def test_tools_over_the_limits_are_refused_with_every_problem() -> None:
    huge = LOOKUP.with_options(description="x" * 10_001)
    many = [CART.with_options(name=f"t{n}") for n in range(51)]

    with pytest.raises(LimitsExceeded) as caught:
        plan_registry([huge, *many], account=[], attached=[], persona_id=PERSONA)

    problems = caught.value.problems
    assert len(problems) == 2
    assert "52 tools, more than Tavus's limit of 50" in problems[0]
    assert "'lookup_order': description and parameters take 10," in problems[1]
