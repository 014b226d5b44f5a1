"""FakeConversation's bot: config in every form, plugin entries and objects, load errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path
from typing import Any

import pytest

from cvibot import ConfigError, ToolContext, hookimpl, tool
from cvibot._errors import PluginLoadError
from cvibot.plugins._selection import DISABLE_AUTOLOAD_ENV
from cvibot.testing import FakeConversation
from cvibot.tools import build_tool_spec

PLUGIN = '''
from cvibot import ToolContext, tool

@tool
def greet(name: str, ctx: ToolContext) -> str:
    """Greet someone."""
    return f"{ctx.settings.get('greeting', 'Hello')}, {name}"
'''


def write_plugin(folder: Path, stem: str = "greeter_plugin") -> Path:
    path = folder / f"{stem}.py"
    path.write_text(PLUGIN)
    return path


def plugin_module(name: str) -> types.ModuleType:
    """A module that is not on sys.path, with one tool and one hook."""
    module = types.ModuleType(name)
    exec(
        textwrap.dedent(
            '''
            from cvibot import Echo, hookimpl, tool

            @tool
            def shout(text: str) -> str:
                """Shout it."""
                return text.upper()

            @hookimpl
            async def cvibot_session_started(session):
                await session.send(Echo(text="module plugin here"))
            '''
        ),
        module.__dict__,
    )
    return module


async def test_a_dict_config_with_a_module_plugin_and_its_settings(tmp_path: Path) -> None:
    write_plugin(tmp_path)
    config = {
        "plugins": [{"module": "greeter_plugin.py", "settings": {"greeting": "Hi"}}],
        "tools": {"greet": {"reply": "echo"}},
    }
    async with FakeConversation(config=config, base_dir=tmp_path) as conv:
        reply = await conv.tool_call("greet", {"name": "Ada"})

    assert reply.event_type == "conversation.echo"  # the config's override applies
    assert reply.text == "Hi, Ada"


async def test_yaml_text_and_plugin_entries_after_the_configs(tmp_path: Path) -> None:
    write_plugin(tmp_path)
    write_plugin(tmp_path, "other_plugin")
    (tmp_path / "other_plugin.py").write_text(
        "from cvibot import tool\n\n@tool\ndef ping() -> str:\n    '''Ping.'''\n    return 'pong'\n"
    )
    text = "plugins:\n  - module: greeter_plugin.py\n    settings: {greeting: Hey}\n"
    async with FakeConversation(
        config=text, plugins=[{"module": "other_plugin.py"}], base_dir=tmp_path
    ) as conv:
        greeted = await conv.tool_call("greet", {"name": "Bo"})
        pinged = await conv.tool_call("ping")

    assert greeted.text == "Hey, Bo"
    assert pinged.text == "pong"
    assert [p.name for p in conv.bot.host.plugins][-2:] == ["greeter_plugin.py", "other_plugin.py"]


async def test_a_config_file_without_transport_resolves_from_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "bot"
    folder.mkdir()
    write_plugin(folder)
    config = folder / "bot.yaml"
    config.write_text("plugins: [greeter_plugin.py]\npipeline_mode: echo\n")
    async with FakeConversation(config=config) as conv:
        reply = await conv.tool_call("greet", {"name": "Cy"})

    assert conv.bot.pipeline_mode == "echo"
    assert reply.text == "Hello, Cy"


async def test_a_flow_mapping_without_transport_is_accepted() -> None:
    async with FakeConversation(config="{pipeline_mode: echo}") as conv:
        assert conv.bot.pipeline_mode == "echo"


async def test_plugin_objects_bring_their_tools_and_hooks() -> None:
    module = plugin_module("shouting_plugin")

    class Counter:
        def __init__(self) -> None:
            self.outcomes: list[Any] = []

        @hookimpl
        def cvibot_tool_outcome(self, outcome: Any) -> None:
            self.outcomes.append(outcome)

    counter = Counter()
    async with FakeConversation(plugins=[module, counter]) as conv:
        hello = await conv.wait_for("conversation.echo")
        reply = await conv.tool_call("shout", {"text": "hi"})

    assert hello["properties"]["text"] == "module plugin here"
    assert reply.text == "HI"
    assert [o.tool for o in counter.outcomes] == ["shout"]
    names = [p.name for p in conv.bot.host.plugins]
    assert {"shouting_plugin", "Counter", "cvibot.testing"} <= set(names)


async def test_tools_may_be_plain_functions_and_specs() -> None:
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    @tool
    def who(ctx: ToolContext) -> str:
        """Which conversation."""
        return ctx.conversation_id or "?"

    spec = build_tool_spec(add, name="plus")
    async with FakeConversation(tools=[spec, who], conversation_id="c-7") as conv:
        summed = await conv.tool_call("plus", {"a": 2, "b": 3})
        named = await conv.tool_call("who")

    assert summed.json() == 5
    assert named.text == "c-7"


async def test_paths_and_enums_in_a_dict_config_become_plain_values(tmp_path: Path) -> None:
    from cvibot.tools import ReplyMode

    write_plugin(tmp_path)
    config = {
        "plugins": [{"module": tmp_path / "greeter_plugin.py", "settings": {"greeting": tmp_path}}],
        "defaults": {"reply": ReplyMode.APPEND_CONTEXT},
    }
    async with FakeConversation(config=config) as conv:
        reply = await conv.tool_call("greet", {"name": "Di"})

    assert reply.event_type == "conversation.append_llm_context"
    assert reply.text == f"{tmp_path}, Di"


@pytest.mark.parametrize(
    ("kwargs", "key", "fragment"),
    [
        ({"config": {"bogus": 1}}, "bogus", "unknown key"),
        ({"plugins": [{"modul": "x"}]}, "plugins[0]", "invalid"),
        ({"pipeline_mode": "fast"}, "pipeline_mode", "full"),
        (
            {"config": {"defaults": {"reply": "respond"}}, "pipeline_mode": "echo"},
            "defaults.reply",
            "respond",
        ),
        ({"config": {"tools": {"ghost": {"timeout": 1}}}}, "tools.ghost", "no tool named 'ghost'"),
    ],
)
def test_config_problems_are_config_errors_at_their_key(
    kwargs: dict[str, Any], key: str, fragment: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        FakeConversation(**kwargs)

    assert caught.value.key == key
    assert fragment in caught.value.message
    assert caught.value.line is None  # a mapping has no lines to point at


def test_yaml_text_errors_keep_their_line() -> None:
    with pytest.raises(ConfigError) as caught:
        FakeConversation(config="pipeline_mode: full\n\ndispatch:\n  workers: 3\n")

    assert (caught.value.line, caught.value.key) == (4, "dispatch.workers")


def test_a_plugin_that_cannot_be_imported_is_a_plugin_load_error(tmp_path: Path) -> None:
    with pytest.raises(PluginLoadError) as caught:
        FakeConversation(
            config={"plugins": ["json"]}, plugins=["no_such_plugin_module"], base_dir=tmp_path
        )

    assert caught.value.key == "plugins[1]"
    assert "no_such_plugin_module" in caught.value.message


def test_other_config_types_and_base_dir_with_a_file_are_type_errors(tmp_path: Path) -> None:
    config = tmp_path / "bot.yaml"
    config.write_text("{}\n")
    with pytest.raises(TypeError, match="base_dir"):
        FakeConversation(config=config, base_dir=tmp_path)
    with pytest.raises(TypeError, match="mapping, YAML text or a path"):
        FakeConversation(config=42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="sequence of plugins"):
        FakeConversation(plugins="my_plugin")


def test_a_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        FakeConversation(config=tmp_path / "missing.yaml")


def test_installed_plugins_load_only_when_asked(installed_plugins: Path) -> None:
    script = textwrap.dedent(
        """
        import json
        from cvibot.testing import FakeConversation

        print(json.dumps([
            sorted(FakeConversation().bot.tools),
            sorted(FakeConversation(plugins=["example"]).bot.tools),
            "example" in {p.name for p in FakeConversation(autoload=True).bot.host.plugins},
        ]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        # The test session turns autoloading off; the child must see it on.
        env={**os.environ, "PYTHONPATH": str(installed_plugins), DISABLE_AUTOLOAD_ENV: ""},
    )
    assert done.returncode == 0, done.stderr
    hermetic, named, autoloaded = json.loads(done.stdout.splitlines()[-1])
    assert hermetic == []
    assert named == ["shout"]
    assert autoloaded is True
