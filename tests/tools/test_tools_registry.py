"""ToolRegistry: duplicates, overrides, LLM vs perception tools."""

from __future__ import annotations

from typing import Any

import pytest

from cvibot._errors import DuplicateToolError, ToolDefinitionError
from cvibot.tools import Origin, ReplyMode, ToolRegistry, ToolSpec, build_tool_spec


def lookup_order(order_id: int) -> None: ...


def cancel_order(order_id: int) -> None: ...


def person_waved(hand: str) -> None: ...


def make(fn: Any, plugin: str | None = None, **options: Any) -> ToolSpec:
    return build_tool_spec(fn, **options).with_options(plugin=plugin)


LOOKUP = make(lookup_order, "shop")
CANCEL = make(cancel_order, "shop")
WAVED = make(person_waved, "vision", origin="vision")


def test_build_gives_a_read_only_mapping_in_registration_order() -> None:
    registry = ToolRegistry.build([LOOKUP, WAVED, CANCEL])
    assert list(registry) == ["lookup_order", "person_waved", "cancel_order"]
    assert len(registry) == 3
    assert registry["lookup_order"] is LOOKUP
    assert "cancel_order" in registry
    assert registry.get("nope") is None
    with pytest.raises(TypeError):
        registry["x"] = LOOKUP  # type: ignore[index]
    assert repr(registry) == "ToolRegistry(['lookup_order', 'person_waved', 'cancel_order'])"


def test_empty_registry() -> None:
    assert len(ToolRegistry.build([])) == 0
    assert len(ToolRegistry()) == 0


def test_llm_and_perception_tools() -> None:
    registry = ToolRegistry.build([LOOKUP, WAVED, CANCEL])
    assert registry.llm_tools() == [LOOKUP, CANCEL]
    assert registry.perception_tools() == [WAVED]


def test_same_name_from_two_functions_names_both_plugins() -> None:
    other = make(cancel_order, "billing", name="lookup_order")
    with pytest.raises(DuplicateToolError) as info:
        ToolRegistry.build([LOOKUP, other])
    err = info.value
    assert (err.tool, err.first_plugin, err.second_plugin) == ("lookup_order", "shop", "billing")
    assert "'lookup_order' is registered by both 'shop' and 'billing'" in str(err)


def test_duplicate_without_plugin_names_says_unknown() -> None:
    with pytest.raises(DuplicateToolError) as info:
        ToolRegistry.build([make(lookup_order), make(cancel_order, name="lookup_order")])
    assert (info.value.first_plugin, info.value.second_plugin) == ("<unknown>", "<unknown>")


def test_the_same_function_twice_is_registered_once() -> None:
    again = make(lookup_order, "another_plugin")
    registry = ToolRegistry.build([LOOKUP, again, LOOKUP])
    assert list(registry) == ["lookup_order"]
    assert registry["lookup_order"] is LOOKUP


def test_overrides_return_a_new_registry() -> None:
    registry = ToolRegistry.build([LOOKUP, CANCEL])
    changed = registry.apply_overrides({"lookup_order": {"reply": "echo", "timeout": 5}})
    assert changed is not registry
    assert changed["lookup_order"].reply is ReplyMode.ECHO
    assert changed["lookup_order"].timeout == 5.0
    assert changed["lookup_order"].plugin == "shop"
    assert changed["cancel_order"] is CANCEL
    assert registry["lookup_order"] is LOOKUP  # the original is untouched
    assert list(changed) == list(registry)


def test_override_of_an_unknown_tool_lists_the_known_ones() -> None:
    registry = ToolRegistry.build([LOOKUP, CANCEL])
    with pytest.raises(KeyError) as info:
        registry.apply_overrides({"lookup": {"timeout": 5}, "refund": {}})
    message = info.value.args[0]
    assert "'lookup', 'refund'" in message
    assert "known tools: lookup_order, cancel_order" in message


def test_bad_override_values_are_definition_errors() -> None:
    registry = ToolRegistry.build([LOOKUP])
    with pytest.raises(ToolDefinitionError, match=r"tool 'lookup_order': timeout must be > 0"):
        registry.apply_overrides({"lookup_order": {"timeout": 0}})
    with pytest.raises(ToolDefinitionError, match=r"unknown option\(s\) 'retries'"):
        registry.apply_overrides({"lookup_order": {"retries": 2}})


def test_renaming_override_rekeys_and_still_checks_duplicates() -> None:
    registry = ToolRegistry.build([LOOKUP, CANCEL])
    renamed = registry.apply_overrides({"lookup_order": {"name": "find_order"}})
    assert list(renamed) == ["find_order", "cancel_order"]
    with pytest.raises(DuplicateToolError):
        registry.apply_overrides({"lookup_order": {"name": "cancel_order"}})


def test_override_can_make_a_tool_perceptive() -> None:
    registry = ToolRegistry.build([LOOKUP]).apply_overrides({"lookup_order": {"origin": "audio"}})
    assert registry["lookup_order"].origin is Origin.AUDIO
    assert registry.perception_tools() == [registry["lookup_order"]]
