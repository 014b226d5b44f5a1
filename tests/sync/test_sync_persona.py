"""The persona target: planning the JSON Patch of a persona's inline tool lists, and
applying it to the fake (protocol reference §7.1, §7.3)."""

from __future__ import annotations

from typing import Any

from sync_helpers import PERSONA, calls, spec, writes

from cvibot._sync import apply_plan, plan_persona, read_plan
from cvibot.tavus import TavusClient
from cvibot.tools import to_legacy_tool, to_perception_tool
from doubles.fake_tavus import FakeTavusAPI


def lookup_order(order_id: str) -> str:
    """Look up an order."""
    return order_id


def view_cart() -> str:
    """Show the cart."""
    return ""


def product_shown(product: str) -> None:
    """A product is held up to the camera."""


def heard_name(name: str) -> None:
    """The user said a name."""


LOOKUP, CART = spec(lookup_order), spec(view_cart)
SHOWN = spec(product_shown, origin="vision")
HEARD = spec(heard_name, origin="audio")


def _persona(**layers: Any) -> dict[str, Any]:
    return {"persona_id": PERSONA, "system_prompt": "You help.", "layers": layers}


def test_a_persona_without_tools_gets_them_added_under_the_existing_objects() -> None:
    plan = plan_persona([LOOKUP, SHOWN], _persona(), PERSONA)

    assert plan.operations == (
        {"op": "add", "path": "/layers/llm", "value": {"tools": [to_legacy_tool(LOOKUP)]}},
        {
            "op": "add",
            "path": "/layers/perception",
            "value": {"visual_tools": [to_perception_tool(SHOWN)]},
        },
    )
    assert [d.path for d in plan.lists] == [
        "/layers/llm/tools",
        "/layers/perception/visual_tools",
        "/layers/perception/audio_tools",
    ]
    assert plan.lists[0].added == ("lookup_order",)


def test_both_perception_lists_share_one_add_of_the_missing_layer() -> None:
    plan = plan_persona([SHOWN, HEARD], {"persona_id": PERSONA, "layers": None}, PERSONA)

    assert plan.operations == (
        {
            "op": "add",
            "path": "/layers",
            "value": {
                "perception": {
                    "visual_tools": [to_perception_tool(SHOWN)],
                    "audio_tools": [to_perception_tool(HEARD)],
                }
            },
        },
    )


def test_the_same_tools_in_another_order_are_unchanged() -> None:
    tools = [to_legacy_tool(CART), to_legacy_tool(LOOKUP)]
    plan = plan_persona([LOOKUP, CART], _persona(llm={"tools": tools, "model": "x"}), PERSONA)

    assert plan.empty
    assert plan.lists[0].unchanged == ("lookup_order", "view_cart")


def test_only_the_list_that_differs_is_replaced() -> None:
    old_lookup = to_legacy_tool(LOOKUP)
    old_lookup["function"]["description"] = "Find an order."
    persona = _persona(
        llm={"tools": [to_legacy_tool(CART)], "model": "tavus-llama"},
        perception={"visual_tools": [old_lookup], "perception_model": "raven-1"},
    )
    plan = plan_persona([CART, SHOWN], persona, PERSONA)

    # llm.tools is as coded: only the visual tools are written.
    assert plan.operations == (
        {
            "op": "replace",
            "path": "/layers/perception/visual_tools",
            "value": [to_perception_tool(SHOWN)],
        },
    )
    visual = plan.lists[1]
    assert (visual.added, visual.removed) == (("product_shown",), ("lookup_order",))


def test_a_changed_definition_is_an_update_naming_its_fields() -> None:
    old = to_legacy_tool(LOOKUP)
    old["function"]["description"] = "Find an order."
    plan = plan_persona([LOOKUP], _persona(llm={"tools": [old]}), PERSONA)

    (change,) = plan.lists[0].updated
    assert change.name == "lookup_order"
    assert [(c.field, c.old, c.new) for c in change.changes] == [
        ("description", "Find an order.", "Look up an order.")
    ]
    assert plan.operations[0]["op"] == "replace"


def test_unnamed_and_repeated_entries_are_removed() -> None:
    tools = [to_legacy_tool(LOOKUP), {"type": "function"}, to_legacy_tool(LOOKUP)]
    plan = plan_persona([LOOKUP], _persona(llm={"tools": tools}), PERSONA)

    assert plan.lists[0].removed == ("<entry 1>", "lookup_order")
    assert plan.operations == (
        {"op": "replace", "path": "/layers/llm/tools", "value": [to_legacy_tool(LOOKUP)]},
    )


def test_perception_is_left_alone_when_the_bot_has_no_perception_tools() -> None:
    persona = _persona(llm={"tools": [to_legacy_tool(LOOKUP)]}, perception={"visual_tools": [1]})
    plan = plan_persona([LOOKUP], persona, PERSONA)

    assert plan.empty
    assert [d.path for d in plan.lists] == ["/layers/llm/tools"]


def test_a_stale_perception_list_is_emptied() -> None:
    persona = _persona(
        llm={"tools": []},
        perception={"visual_tools": [to_perception_tool(SHOWN)], "audio_tools": [{}]},
    )
    plan = plan_persona([SHOWN], persona, PERSONA)

    assert plan.operations == (
        {"op": "replace", "path": "/layers/perception/audio_tools", "value": []},
    )


async def test_applying_patches_only_differing_paths_and_keeps_the_rest(
    api: TavusClient, fake: FakeTavusAPI
) -> None:
    fake.add_persona(
        "p-legacy",
        system_prompt="You help.",
        layers={
            "llm": {"model": "tavus-llama", "tools": [to_legacy_tool(CART)]},
            "tts": {"voice": "v1"},
        },
    )
    plan = await read_plan(api, [LOOKUP, CART], target="persona", persona_id="p-legacy")
    applied = await apply_plan(api, plan)

    (patch,) = writes(fake)
    assert (patch.method, patch.path) == ("PATCH", "/personas/p-legacy")
    assert patch.json == [
        {
            "op": "replace",
            "path": "/layers/llm/tools",
            "value": [to_legacy_tool(LOOKUP), to_legacy_tool(CART)],
        }
    ]
    assert [(d.action, d.name, d.detail) for d in applied.done] == [
        ("patch", "/layers/llm/tools", "replace")
    ]
    layers = fake.personas["p-legacy"]["layers"]
    assert layers["tts"] == {"voice": "v1"}
    assert layers["llm"]["model"] == "tavus-llama"

    fake.clear_requests()
    again = await read_plan(api, [LOOKUP, CART], target="persona", persona_id="p-legacy")
    assert again.empty
    assert (await apply_plan(api, again)).done == ()
    assert calls(fake) == [("GET", "/personas/p-legacy")]


async def test_a_persona_with_perception_is_synced_in_one_patch(
    api: TavusClient, fake: FakeTavusAPI
) -> None:
    plan = await read_plan(api, [LOOKUP, SHOWN, HEARD], target="persona", persona_id=PERSONA)
    await apply_plan(api, plan)

    layers = fake.personas[PERSONA]["layers"]
    assert layers == {
        "llm": {"tools": [to_legacy_tool(LOOKUP)]},
        "perception": {
            "visual_tools": [to_perception_tool(SHOWN)],
            "audio_tools": [to_perception_tool(HEARD)],
        },
    }
    assert [r.method for r in writes(fake)] == ["PATCH"]
    assert (
        await read_plan(api, [LOOKUP, SHOWN, HEARD], target="persona", persona_id=PERSONA)
    ).empty
