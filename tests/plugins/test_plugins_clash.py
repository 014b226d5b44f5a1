"""Two plugins, one tool name: the error names both, how each was loaded, and the fix,
at the key where the user can act."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from plugin_helpers import Entry, WriteModule

from cvibot._errors import DuplicateToolError
from cvibot._runtime import Bot
from cvibot.config import parse_config
from cvibot.plugins import PluginHost
from cvibot.plugins._selection import PluginSelection

SAME = """
from cvibot import tool

@tool
def same() -> str:
    \"\"\"The same name, another function.\"\"\"
    return "{name}"
"""


def _modules(write_module: WriteModule, *names: str) -> None:
    for name in names:
        write_module(f"{name}.py", SAME.format(name=name))


def _clash(host: PluginHost) -> DuplicateToolError:
    with pytest.raises(DuplicateToolError) as caught:
        host.collect_tools()
    return caught.value


def test_two_config_entries_sit_at_the_later_one(tmp_path: Path, write_module: WriteModule) -> None:
    _modules(write_module, "one", "two")

    error = _clash(PluginHost.load([Entry("one"), Entry("two")], base_dir=tmp_path))

    assert error.key == "plugins[1]"
    assert error.message == (
        "tool 'same' is provided by plugin 'one' (module one, plugins[0]) and plugin 'two' "
        "(module two, plugins[1]): remove one from plugins:, block one with -p no:one or "
        "-p no:two, or rename the tool in one plugin (@tool(name=...) or "
        "register(fn, name=...))"
    )
    assert (error.first_plugin, error.second_plugin) == ("one", "two")


def test_a_plugin_added_with_p_sits_at_its_option(
    tmp_path: Path, write_module: WriteModule
) -> None:
    _modules(write_module, "one", "extra")

    error = _clash(PluginHost.load([Entry("one")], base_dir=tmp_path, added=["extra"]))

    assert error.key == "-p extra"
    assert "plugin 'extra' (module extra, -p extra)" in error.message
    assert "remove 'one' from plugins:, drop -p extra, block one with -p no:one or -p no:extra" in (
        error.message
    )


def test_a_built_in_plugin_is_not_offered_for_blocking(
    tmp_path: Path, write_module: WriteModule
) -> None:
    _modules(write_module, "one", "inside")
    sys.path.insert(0, str(tmp_path))
    inside = importlib.import_module("inside")

    error = _clash(
        PluginHost.load([Entry("one")], base_dir=tmp_path, builtins=[("inside", inside)])
    )

    assert "plugin 'inside' (built-in)" in error.message
    assert "block one with -p no:one," in error.message
    assert "-p no:inside" not in error.message
    assert error.key == "plugins[0]"


def test_a_clash_with_an_autoloaded_plugin_sits_at_plugins_autoload_or_at_no_line(
    fake_entry_points: Callable[..., None],
    tmp_path: Path,
    write_module: WriteModule,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _modules(write_module, "mine", "theirs")
    fake_entry_points(theirs="theirs")
    monkeypatch.delenv("CVIBOT_PLUGINS_AUTOLOAD")
    path = tmp_path / "bot.yaml"
    in_config = parse_config(
        "transport: {type: replay, path: r.jsonl}\nplugins: [mine]\nplugins_autoload: true\n",
        path=path,
    )
    by_environment = parse_config(
        "transport: {type: replay, path: r.jsonl}\nplugins: [mine]\n", path=path
    )

    with pytest.raises(DuplicateToolError) as configured:
        Bot.from_config(in_config)
    with pytest.raises(DuplicateToolError) as environment:
        Bot.from_config(
            by_environment,
            selection=PluginSelection.parse([], environ={"CVIBOT_PLUGINS_AUTOLOAD": "1"}),
        )

    assert (configured.value.line, configured.value.key) == (3, "plugins_autoload")
    assert (environment.value.line, environment.value.key) == (None, None)
    for error in (configured.value, environment.value):
        assert "plugin 'theirs' (module theirs, installed, not named, autoloaded)" in str(error)
        assert "turn autoloading off (plugins_autoload, CVIBOT_PLUGINS_AUTOLOAD)" in str(error)
        assert error.file == str(path)
    # Unchanged, the bot does not see the installed plugin at all.
    assert list(Bot.from_config(by_environment).tools) == ["same"]
