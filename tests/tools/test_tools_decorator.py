"""@tool, get_tool_spec, collect_tools, and string annotations (this module uses
``from __future__ import annotations``, so every hint here is a string to resolve)."""

from __future__ import annotations

import functools
import types
from typing import Any
from unittest import mock

import pytest
from pydantic import BaseModel

from cvibot._context import ToolContext
from cvibot._errors import ToolDefinitionError
from cvibot.tools import (
    Origin,
    ReplyMode,
    ToolSpec,
    build_tool_spec,
    collect_tools,
    get_tool_spec,
    tool,
)


class ModuleLevelModel(BaseModel):
    """Defined at module level: found through the function's globals."""

    sku: str


def spec(fn: Any) -> ToolSpec:
    found = get_tool_spec(fn)
    assert found is not None
    return found


# -- the three forms ------------------------------------------------------------------------


def test_bare_decorator_returns_the_function_unchanged() -> None:
    def lookup(order_id: int) -> str:
        return f"order {order_id}"

    decorated = tool(lookup)
    assert decorated is lookup
    assert lookup(7) == "order 7"
    assert lookup.__cvibot_tool__ is spec(lookup)  # type: ignore[attr-defined]
    assert spec(lookup).name == "lookup"
    assert spec(lookup).function is lookup


def test_empty_call_form() -> None:
    @tool()
    def lookup(order_id: int) -> None: ...

    assert spec(lookup).name == "lookup"
    assert spec(lookup).reply is None


def test_options_form_sets_every_option() -> None:
    @tool(
        name="find_order",
        description="Find it.",
        reply="echo",
        timeout=5,
        cancel_on_interrupt=True,
        origin="llm",
        on_call="static_filler",
        static_filler="Let me check.",
        on_resolve="response_in_result",
    )
    def lookup(order_id: int) -> None:
        """Ignored summary."""

    s = spec(lookup)
    assert (s.name, s.description, s.reply, s.timeout, s.cancel_on_interrupt) == (
        "find_order",
        "Find it.",
        ReplyMode.ECHO,
        5.0,
        True,
    )
    assert (s.origin, s.on_call, s.static_filler, s.on_resolve) == (
        Origin.LLM,
        "static_filler",
        "Let me check.",
        "response_in_result",
    )


def test_perception_tool() -> None:
    @tool(origin=Origin.VISION)
    def person_waved(hand: str) -> None: ...

    assert spec(person_waved).is_perception
    assert spec(person_waved).origin is Origin.VISION


def test_bad_option_fails_at_decoration() -> None:
    with pytest.raises(ToolDefinitionError, match=r"tool 'lookup': timeout must be > 0"):

        @tool(timeout=0)
        def lookup(order_id: int) -> None: ...


def test_decorating_again_replaces_the_spec() -> None:
    def lookup(order_id: int) -> None: ...

    tool(lookup)
    tool(name="lookup_v2")(lookup)
    assert spec(lookup).name == "lookup_v2"


# -- sync / async ---------------------------------------------------------------------------


class AsyncHandler:
    async def __call__(self, a: int) -> None: ...


class SyncHandler:
    def __call__(self, a: int) -> None: ...


async def async_fn(a: int, key: str) -> None: ...


def sync_fn(a: int, key: str) -> None: ...


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (sync_fn, False),
        (async_fn, True),
        (functools.partial(async_fn, key="k"), True),
        (functools.partial(sync_fn, key="k"), False),
        (AsyncHandler(), True),
        (SyncHandler(), False),
        (functools.partial(AsyncHandler()), True),
    ],
    ids=["sync", "async", "partial-async", "partial-sync", "async-call", "sync-call", "p-call"],
)
def test_sync_and_async_detection(fn: Any, expected: bool) -> None:
    assert build_tool_spec(fn, name="t").is_async is expected


def test_partials_and_callable_objects_carry_the_marker() -> None:
    for fn in (functools.partial(async_fn, key="k"), AsyncHandler()):
        assert tool(name="t")(fn) is fn
        assert spec(fn).function is fn


def test_bound_methods_cannot_carry_the_marker_but_build_tool_spec_works() -> None:
    class Shop:
        async def lookup(self, order_id: int) -> None: ...

    shop = Shop()
    with pytest.raises(ToolDefinitionError, match=r"cannot carry the tool marker.*build_tool_spec"):
        tool(shop.lookup)
    s = build_tool_spec(shop.lookup, reply="echo")
    assert (s.name, s.is_async, s.reply) == ("lookup", True, ReplyMode.ECHO)
    assert s.function == shop.lookup


# -- string annotations ---------------------------------------------------------------------


@tool
def module_tool(item: ModuleLevelModel, ctx: ToolContext) -> None: ...


def test_module_level_types_resolve_through_globals() -> None:
    s = spec(module_tool)
    assert s.context_param == "ctx"
    assert s.parameters["properties"]["item"]["properties"] == {"sku": {"type": "string"}}
    assert s.validate({"item": {"sku": "A"}}) == {"item": ModuleLevelModel(sku="A")}


def test_types_local_to_the_defining_function_resolve_through_its_locals() -> None:
    class LocalModel(BaseModel):
        qty: int

    @tool
    def bare(item: LocalModel) -> None: ...

    @tool(reply="echo")
    def called(item: LocalModel) -> None: ...

    def unmarked(item: LocalModel) -> None: ...

    for s in (spec(bare), spec(called), build_tool_spec(unmarked)):
        assert s.validate({"item": {"qty": "3"}}) == {"item": LocalModel(qty=3)}


def register_like_a_plugin_loader(fn: Any) -> ToolSpec:
    ModuleLevelModel = int  # a local that must not shadow the tool's global
    assert ModuleLevelModel is int
    return build_tool_spec(fn)


def test_an_unrelated_callers_locals_do_not_shadow_the_tools_globals() -> None:
    def handler(item: ModuleLevelModel) -> None: ...

    s = register_like_a_plugin_loader(handler)
    assert s.parameters["properties"]["item"]["properties"] == {"sku": {"type": "string"}}


def test_undefined_annotation_names_the_tool_and_the_name() -> None:
    with pytest.raises(ToolDefinitionError, match=r"tool 'f': .*name 'Missing' is not defined"):

        @tool
        def f(a: Missing) -> None: ...  # type: ignore[name-defined]  # noqa: F821


# -- get_tool_spec and collect_tools --------------------------------------------------------


def test_get_tool_spec_ignores_undecorated_and_impostor_objects() -> None:
    def plain(a: int) -> None: ...

    assert get_tool_spec(plain) is None
    assert get_tool_spec(42) is None
    assert get_tool_spec(mock.MagicMock()) is None  # answers every attribute lookup


def make_module() -> types.ModuleType:
    module = types.ModuleType("fake_tools")

    @tool
    def zeta(a: int) -> None: ...

    @tool(name="alpha")
    def renamed(a: int) -> None: ...

    def helper(a: int) -> None: ...

    module.zeta = zeta  # type: ignore[attr-defined]
    module.alias_of_zeta = zeta  # type: ignore[attr-defined]
    module.renamed = renamed  # type: ignore[attr-defined]
    module.helper = helper  # type: ignore[attr-defined]
    module.constant = 3  # type: ignore[attr-defined]
    return module


def test_collect_tools_from_a_module_dedupes_and_sorts_by_name() -> None:
    specs = collect_tools(make_module())
    assert [s.name for s in specs] == ["alpha", "zeta"]


def test_collect_tools_from_a_mapping() -> None:
    module = make_module()
    assert [s.name for s in collect_tools(vars(module))] == ["alpha", "zeta"]
    assert collect_tools({}) == []


def test_collect_tools_from_this_module() -> None:
    import sys

    names = [s.name for s in collect_tools(sys.modules[__name__])]
    assert names == ["module_tool"]


def test_tool_context_imported_only_for_type_checking_still_resolves() -> None:
    namespace: dict[str, Any] = {}
    source = (
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "from cvibot.tools import tool\n"
        "if TYPE_CHECKING:\n"
        "    from cvibot._context import ToolContext\n"
        "@tool\n"
        "async def handler(a: int, ctx: ToolContext) -> None: ...\n"
    )
    exec(source, namespace)
    assert spec(namespace["handler"]).context_param == "ctx"


def test_a_modules_own_tool_context_name_is_not_replaced() -> None:
    namespace: dict[str, Any] = {}
    exec(
        "from __future__ import annotations\n"
        "from cvibot.tools import tool\n"
        "ToolContext = str\n"
        "@tool\n"
        "def handler(ctx: ToolContext) -> None: ...\n",
        namespace,
    )
    s = spec(namespace["handler"])
    assert s.context_param is None
    assert s.parameters["properties"] == {"ctx": {"type": "string"}}
