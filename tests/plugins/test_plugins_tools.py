"""PluginHost.collect_tools: namespace tools, cvibot_register_tools, attribution, duplicates."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from plugin_helpers import Entry, WriteModule
from structlog.testing import capture_logs

from cvibot._errors import DuplicateToolError, PluginLoadError
from cvibot.plugins import PluginHost, hookimpl
from cvibot.tools import ToolSpec, build_tool_spec, tool

TOOLS_ONLY = """
from cvibot.tools import tool

@tool
def lookup_order(order_id: int) -> str:
    \"\"\"Look up an order.\"\"\"
    return "shipped"

@tool(name="cancel_order", reply="echo")
async def cancel(order_id: int) -> str:
    \"\"\"Cancel an order.\"\"\"
    return "cancelled"

def helper() -> None:
    \"\"\"Not a tool.\"\"\"
"""

REGISTERING = """
from cvibot.plugins import hookimpl
from cvibot.tools import build_tool_spec, tool

@tool
def decorated(text: str) -> str:
    \"\"\"Already a tool, registered again through the hook: counted once.\"\"\"
    return text

def plain(city: str) -> str:
    \"\"\"Weather for a city.\"\"\"
    return "sunny in " + city

def from_spec() -> str:
    \"\"\"Built by hand.\"\"\"
    return "spec"

@hookimpl
def cvibot_register_tools(register, settings):
    register(decorated)
    register(plain, name=settings.get("weather_name", "weather"))
    register(build_tool_spec(from_spec, timeout=3))
"""


def load(tmp_path: Path, *entries: Entry) -> PluginHost:
    return PluginHost.load(list(entries), base_dir=tmp_path, autoload=False)


def by_name(specs: list[ToolSpec]) -> dict[str, ToolSpec]:
    return {spec.name: spec for spec in specs}


def test_tools_are_found_without_hook_code(tmp_path: Path, write_module: WriteModule) -> None:
    write_module("shop_tools.py", TOOLS_ONLY)

    host = load(tmp_path, Entry("shop_tools"))
    specs = by_name(host.collect_tools())

    assert sorted(specs) == ["cancel_order", "lookup_order"]
    assert {spec.plugin for spec in specs.values()} == {"shop_tools"}
    module = host.plugins[0].plugin
    assert specs["lookup_order"].function is module.lookup_order  # type: ignore[attr-defined]
    assert specs["cancel_order"].reply == "echo"


def test_tools_of_a_py_file_plugin(tmp_path: Path, write_module: WriteModule) -> None:
    write_module("bots/shop.py", TOOLS_ONLY)

    host = load(tmp_path, Entry("bots/shop.py"))

    assert {spec.plugin for spec in host.collect_tools()} == {"bots/shop.py"}


def test_register_tools_hook(tmp_path: Path, write_module: WriteModule) -> None:
    write_module("registering.py", REGISTERING)

    host = load(tmp_path, Entry("registering", settings={"weather_name": "get_weather"}))
    specs = by_name(host.collect_tools())

    assert sorted(specs) == ["decorated", "from_spec", "get_weather"]
    assert {spec.plugin for spec in specs.values()} == {"registering"}
    assert specs["from_spec"].timeout == 3.0
    assert specs["get_weather"].description == "Weather for a city."
    assert specs["get_weather"].parameters["properties"].keys() == {"city"}
    # A plain function is not marked by being registered.
    module = host.plugins[0].plugin
    assert not hasattr(module.plain, "__cvibot_tool__")  # type: ignore[attr-defined]


def test_each_plugin_registers_with_its_own_settings(
    tmp_path: Path, write_module: WriteModule
) -> None:
    source = """
        from cvibot.plugins import hookimpl
        from cvibot.tools import build_tool_spec

        def answer() -> str:
            \"\"\"Answer.\"\"\"
            return "42"

        @hookimpl
        def cvibot_register_tools(register, settings):
            register(build_tool_spec(answer, name=settings["tool"]))
        """
    write_module("first_plugin.py", source)
    write_module("second_plugin.py", source)

    host = load(
        tmp_path,
        Entry("first_plugin", settings={"tool": "first_answer"}),
        Entry("second_plugin", settings={"tool": "second_answer"}),
    )

    assert [(spec.name, spec.plugin) for spec in host.collect_tools()] == [
        ("first_answer", "first_plugin"),
        ("second_answer", "second_plugin"),
    ]


def test_builtin_and_object_plugins_register_through_the_hook() -> None:
    class Clock:
        """A plugin object whose tool is a bound method."""

        def __init__(self) -> None:
            self.now = "noon"

        def current_time(self) -> str:
            """What time it is."""
            return self.now

        @hookimpl
        def cvibot_register_tools(self, register: Callable[..., None]) -> None:
            register(self.current_time)

    host = PluginHost.load([], autoload=False, builtins=[("clock", Clock())])

    [spec] = host.collect_tools()
    assert (spec.name, spec.plugin, spec.function()) == ("current_time", "clock", "noon")


def test_same_function_from_two_plugins_is_collected_once(
    tmp_path: Path, write_module: WriteModule
) -> None:
    write_module("origin_tools.py", TOOLS_ONLY)
    write_module("reexporter.py", "from origin_tools import lookup_order\n")

    host = load(tmp_path, Entry("reexporter"), Entry("origin_tools"))
    specs = host.collect_tools()

    assert [(spec.name, spec.plugin) for spec in specs] == [
        ("lookup_order", "reexporter"),
        ("cancel_order", "origin_tools"),
    ]


def test_duplicate_tool_names_name_both_plugins(tmp_path: Path, write_module: WriteModule) -> None:
    write_module("shop_a.py", TOOLS_ONLY)
    write_module("shop_b.py", TOOLS_ONLY)

    host = load(tmp_path, Entry("shop_a"), Entry("shop_b"))

    with pytest.raises(DuplicateToolError) as info:
        host.collect_tools()
    err = info.value
    assert (err.tool, err.first_plugin, err.second_plugin) == ("cancel_order", "shop_a", "shop_b")
    assert "'shop_a'" in str(err) and "'shop_b'" in str(err)


def test_duplicate_between_namespace_and_hook(tmp_path: Path, write_module: WriteModule) -> None:
    write_module("shop_tools.py", TOOLS_ONLY)
    write_module(
        "hooked.py",
        """
        from cvibot.plugins import hookimpl

        def lookup_order(order_id: int) -> str:
            \"\"\"Another lookup.\"\"\"
            return "?"

        @hookimpl
        def cvibot_register_tools(register):
            register(lookup_order)
        """,
    )

    host = load(tmp_path, Entry("shop_tools"), Entry("hooked"))

    with pytest.raises(DuplicateToolError, match=r"plugin 'shop_tools' .* and plugin 'hooked' "):
        host.collect_tools()


@pytest.mark.parametrize(
    ("body", "cause"),
    [
        ("register(42)", TypeError),
        ("raise RuntimeError('catalogue unreachable')", RuntimeError),
        ("register(lambda **kw: None)", Exception),
    ],
    ids=["not-a-tool", "raises", "bad-tool"],
)
def test_named_plugin_failing_to_register_tools(
    tmp_path: Path, write_module: WriteModule, body: str, cause: type[BaseException]
) -> None:
    write_module(
        "failing.py",
        "from cvibot.plugins import hookimpl\n"
        "@hookimpl\ndef cvibot_register_tools(register):\n    " + body + "\n",
    )
    write_module("fine.py", TOOLS_ONLY)

    host = load(tmp_path, Entry("fine"), Entry("failing"))

    with pytest.raises(PluginLoadError) as info:
        host.collect_tools()
    err = info.value
    assert (err.plugin, err.key) == ("failing", "plugins[1]")
    assert isinstance(err.cause, cause)
    assert err.message.startswith("plugin 'failing' could not register its tools: ")


def test_autoloaded_plugin_failing_to_register_tools_is_skipped(
    tmp_path: Path, write_module: WriteModule, fake_entry_points: Callable[..., None]
) -> None:
    write_module(
        "failing_ep.py",
        """
        from cvibot.plugins import hookimpl
        from cvibot.tools import tool

        @tool
        def never_collected() -> str:
            \"\"\"Belongs to a plugin that fails.\"\"\"
            return ""

        @hookimpl
        def cvibot_register_tools(register):
            raise RuntimeError("catalogue unreachable")

        @hookimpl
        def cvibot_event(event):
            pass
        """,
    )
    write_module("shop_tools.py", TOOLS_ONLY)
    fake_entry_points(failing="failing_ep")

    host = PluginHost.load([Entry("shop_tools")], base_dir=tmp_path)
    with capture_logs() as logs:
        specs = host.collect_tools()

    assert sorted(spec.name for spec in specs) == ["cancel_order", "lookup_order"]
    assert [(log["event"], log["plugin"]) for log in logs] == [("plugin skipped", "failing")]
    assert "catalogue unreachable" in logs[0]["error"]
    assert [p.name for p in host.plugins] == ["shop_tools"]
    assert host.calls("cvibot_event", event=None, session=None) == []


def test_async_register_tools_registered_on_pm_directly(tmp_path: Path) -> None:
    class Plugin:
        @hookimpl
        async def cvibot_register_tools(self, register: Callable[..., None]) -> None:
            pass

    host = PluginHost()
    host.pm.register(Plugin(), name="direct")

    with pytest.raises(PluginLoadError, match="must be a plain function, not async"):
        host.collect_tools()


def test_register_after_the_hook_returned_is_refused() -> None:
    kept: list[Callable[..., None]] = []

    class Plugin:
        @hookimpl
        def cvibot_register_tools(self, register: Callable[..., None]) -> None:
            kept.append(register)

    host = PluginHost.load([], autoload=False, builtins=[("plugin", Plugin())])
    assert host.collect_tools() == []

    def late() -> str:
        """Too late."""
        return ""

    with pytest.raises(RuntimeError, match="after cvibot_register_tools returned"):
        kept[0](late)


def test_register_accepts_options_for_any_form() -> None:
    @tool
    def marked(text: str) -> str:
        """Marked."""
        return text

    def plain() -> str:
        """Plain."""
        return ""

    def spec_target() -> str:
        """Spec."""
        return ""

    class Plugin:
        @hookimpl
        def cvibot_register_tools(self, register: Callable[..., Any]) -> None:
            register(marked, name="marked_renamed")
            register(plain, timeout=2)
            register(build_tool_spec(spec_target), reply="append_context")

    host = PluginHost.load([], autoload=False, builtins=[("plugin", Plugin())])
    specs = by_name(host.collect_tools())

    assert sorted(specs) == ["marked_renamed", "plain", "spec_target"]
    assert specs["plain"].timeout == 2.0
    assert specs["spec_target"].reply == "append_context"
