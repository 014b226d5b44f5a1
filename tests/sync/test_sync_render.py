"""The readable diff of a sync plan, and the lines of what was done."""

from __future__ import annotations

from sync_helpers import PERSONA, spec, stored

from cvibot._sync import (
    Applied,
    Done,
    plan_persona,
    plan_registry,
    render_applied,
    render_partial,
    render_plan,
    render_problems,
)
from cvibot.tools import to_legacy_tool


def lookup_order(order_id: str) -> str:
    """Look up an order: its status, its items and the tracking number of its parcel."""
    return order_id


def add_to_cart(sku: str, quantity: int = 1) -> str:
    """Put a product in the cart."""
    return sku


def view_cart() -> str:
    """Show the cart."""
    return ""


LOOKUP, CART, VIEW = spec(lookup_order), spec(add_to_cart), spec(view_cart)


def test_a_registry_plan_reads_as_a_diff() -> None:
    old_lookup = stored(
        LOOKUP,
        description="Look up an order: its status, its items and the tracking number of its box.",
    )
    gone = stored(spec(view_cart, name="old_tool"))
    attached = [old_lookup, gone, stored(VIEW)]
    plan = plan_registry([LOOKUP, CART, VIEW], attached, attached, PERSONA)

    assert render_plan(plan) == [
        f"tools sync: 3 tools → the tools registry, attached to persona {PERSONA}",
        "  + create    add_to_cart",
        "  ~ update    lookup_order",
        '      description: "…cking number of its box." → "…cking number of its parcel."',
        "  + attach    add_to_cart",
        "  - detach    old_tool",
        "  = unchanged 1 tool",
        "plan: 1 to create, 1 to update, 1 to attach, 1 to detach, 1 unchanged",
    ]


def test_long_strings_are_cut_around_their_first_difference() -> None:
    old = stored(CART, description="Put a product in the cart. " + "x" * 100)
    plan = plan_registry([CART], [old], [old], PERSONA)

    (line,) = [line for line in render_plan(plan) if "description" in line]
    assert line == (
        '      description: "…product in the cart. ' + "x" * 39 + '…" → "…product in the cart."'
    )


def test_parameters_show_as_a_unified_diff_of_their_json() -> None:
    params = {**CART.parameters, "required": ["sku", "quantity"]}
    old = stored(CART, parameters=params, on_call="silent")
    plan = plan_registry([CART], [old], [old], PERSONA)

    lines = render_plan(plan)
    start = lines.index("      parameters:")
    assert lines[start + 1].startswith("        @@ ")
    assert '        -    "sku",' in lines
    assert '        -    "quantity"' in lines
    assert '        +    "sku"' in lines
    assert '      on_call: "silent" → "generate_filler"' in lines


def test_an_empty_plan_says_nothing_to_change() -> None:
    tools = [stored(CART)]
    plan = plan_registry([CART], tools, tools, PERSONA)

    assert render_plan(plan)[1:] == [
        f"nothing to change: persona {PERSONA} has the bot's tools as coded"
    ]


def test_a_persona_plan_lists_each_changed_list() -> None:
    old = to_legacy_tool(VIEW)
    old["function"]["description"] = "Show it."
    persona = {"layers": {"llm": {"tools": [old, to_legacy_tool(spec(view_cart, name="gone"))]}}}
    plan = plan_persona([CART, VIEW], persona, PERSONA)

    assert render_plan(plan) == [
        f"tools sync: 2 tools → the inline tools of persona {PERSONA}",
        "  /layers/llm/tools",
        "    + add       add_to_cart",
        "    ~ update    view_cart",
        '        description: "Show it." → "Show the cart."',
        "    - remove    gone",
        "plan: 1 to add, 1 to update, 1 to remove, 0 unchanged",
        f"patch: PATCH /personas/{PERSONA} with replace /layers/llm/tools",
    ]


def test_what_was_done_and_what_was_done_before_a_failure() -> None:
    plan = plan_registry([CART], [], [], PERSONA)
    applied = Applied(
        (
            Done("create", "add_to_cart", "t1"),
            Done("update", "view_cart", "t2", "description, parameters"),
            Done("attach", "add_to_cart", "t1"),
        )
    )

    assert render_applied(plan, applied) == [
        f"done: created 1, updated 1, attached 1, detached 0 (persona {PERSONA})"
    ]
    assert render_partial(applied) == [
        "applied before the error: created add_to_cart (t1), "
        "updated view_cart (t2: description, parameters), attached add_to_cart (t1)"
    ]
    assert render_partial(Applied()) == ["nothing was changed before the error"]


def test_limit_problems_are_each_on_a_line() -> None:
    assert render_problems(["first", "second"]) == [
        "the bot's tools break Tavus's limits (2 problems); nothing was sent:",
        "  - first",
        "  - second",
    ]
