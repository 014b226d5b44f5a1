"""ToolOptions is the one declaration of the tool options: the keyword arguments of
@tool / dynamic_tool, the config's tools.<name> section, the spec's attributes and the
Tavus registry fields all come from it, and they cannot drift apart."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from cvibot._errors import ToolDefinitionError
from cvibot._sync.tool_compare import REGISTRY_FIELDS
from cvibot.config import ToolOverride
from cvibot.tools import build_tool_spec, dynamic_tool, to_registry_tool, tool
from cvibot.tools._options import (
    Origin,
    ReplyMode,
    ToolBehaviourKwargs,
    ToolOptionKwargs,
    ToolOptions,
    tavus_fields,
)
from cvibot.tools._spec import ToolSpec

# A valid value of every option (name and description aside), as a caller would pass it.
SAMPLES: dict[str, Any] = {
    "reply": "echo",
    "say": str,
    "timeout": 3,
    "cancel_on_interrupt": True,
    "max_concurrent": 2,
    "origin": "llm",
    "delivery": "api",
    "on_call": "static_filler",
    "static_filler": "One moment.",
    "on_resolve": "add_to_context",
}


def noop(order_id: int) -> str:
    """Do nothing."""
    return str(order_id)


def test_the_keyword_types_name_exactly_the_options() -> None:
    names = set(ToolOptions.option_names())
    assert set(ToolOptionKwargs.__annotations__) | set(ToolBehaviourKwargs.__annotations__) == names
    assert ToolOptionKwargs.__optional_keys__ == names
    assert ToolBehaviourKwargs.__optional_keys__ == names - {"name", "description"}
    assert set(SAMPLES) == names - {"name", "description"}


def test_the_spec_is_its_options_plus_the_function() -> None:
    spec_fields = {f.name for f in dataclasses.fields(ToolSpec)}
    assert set(ToolOptions.option_names()) <= spec_fields
    spec = build_tool_spec(noop, **SAMPLES)
    assert spec.options == ToolOptions(name="noop", description="Do nothing.", **SAMPLES)
    assert isinstance(spec, ToolOptions)


@pytest.mark.parametrize("option", sorted(SAMPLES))
def test_every_option_reaches_the_spec_by_every_entry_point(option: str) -> None:
    # on_call="static_filler" needs its text: pass the pair together.
    given_ = {option: SAMPLES[option]}
    if option in ("on_call", "static_filler"):
        given_ = {"on_call": "static_filler", "static_filler": "One moment."}
    expected = ToolOptions(**given_)
    decorated = tool(**given_)(noop).__cvibot_tool__
    built = build_tool_spec(noop, **given_)
    dynamic = dynamic_tool("noop", "Do nothing.", {"order_id": int}, lambda a: a, **given_)
    changed = build_tool_spec(noop).with_options(**given_)
    for spec in (decorated, built, dynamic, changed):
        assert getattr(spec, option) == getattr(expected, option)


def test_the_config_section_is_made_from_the_options_marked_config() -> None:
    marked = [f.name for f in dataclasses.fields(ToolOptions) if "config" in f.metadata]
    assert list(ToolOverride.model_fields) == marked
    assert marked == ["reply", "timeout", "cancel_on_interrupt", "max_concurrent", "delivery"]
    with pytest.raises(ValidationError):
        ToolOverride.model_validate({"on_call": "silent"})


reply_values = st.one_of(st.none(), st.sampled_from([*ReplyMode, "shout", ""]))
numbers = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 5000), st.floats(allow_nan=True), st.text(max_size=3)
)


@given(
    reply=reply_values,
    timeout=numbers,
    cancel=st.one_of(st.none(), st.booleans(), st.sampled_from(["yes", "no", 1, 2])),
    limit=numbers,
)
def test_what_the_config_accepts_the_spec_accepts(
    reply: Any, timeout: Any, cancel: Any, limit: Any
) -> None:
    try:
        section = {"reply": reply, "timeout": timeout, "cancel_on_interrupt": cancel}
        override = ToolOverride.model_validate({**section, "max_concurrent": limit})
    except ValidationError:
        return
    spec = build_tool_spec(noop).with_options(**override.model_dump(exclude_none=True))
    assert spec.options == ToolOptions(
        name="noop", description="Do nothing.", **override.model_dump(exclude_none=True)
    )


def test_tavus_fields_are_exported_and_compared() -> None:
    fields = tavus_fields()
    assert list(fields) == ["on_call", "static_filler", "on_resolve"]
    assert set(fields) <= set(REGISTRY_FIELDS)
    llm = to_registry_tool(build_tool_spec(noop, on_call="silent"))
    assert (llm["on_call"], llm["on_resolve"]) == ("silent", "generate_response")
    assert "static_filler" not in llm
    perception = to_registry_tool(build_tool_spec(noop, origin=Origin.VISION))
    assert (perception["on_call"], perception["on_resolve"]) == (None, "fire_and_forget")


def test_options_alone_are_checked_frozen_and_hashable() -> None:
    options = ToolOptions(reply="echo", timeout=2)  # type: ignore[arg-type]
    assert options.reply is ReplyMode.ECHO and options.timeout == 2.0
    assert hash(options) == hash(ToolOptions(reply=ReplyMode.ECHO, timeout=2.0))
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.timeout = 3  # type: ignore[misc]
    with pytest.raises(ToolDefinitionError, match=r"^tool None: max_concurrent must be"):
        ToolOptions(max_concurrent=0)
    with pytest.raises(ToolDefinitionError, match=r"tool name 'a-b' may contain only"):
        ToolOptions(name="a-b")
    with pytest.raises(TypeError):
        tool(retries=3)  # type: ignore[call-arg]
