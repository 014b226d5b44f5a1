"""Plugin selection beyond the config: ``-p NAME``, ``-p no:NAME`` and the autoload switch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from plugin_helpers import Entry, WriteModule
from structlog.testing import capture_logs

from cvibot._errors import PluginLoadError
from cvibot._runtime import Bot
from cvibot.config import parse_config
from cvibot.plugins import PluginHost
from cvibot.plugins._selection import (
    AUTOLOAD_ENV,
    DISABLE_AUTOLOAD_ENV,
    PluginSelection,
    SelectionError,
)

TOOL_MODULE = """
from cvibot import tool

@tool
def {name}() -> str:
    \"\"\"A tool of {name}.\"\"\"
    return "{name}"
"""


def test_parse_splits_added_and_blocked_names_in_order() -> None:
    selection = PluginSelection.parse(["b", "no:x", "a", "b", "no: y "], environ={})

    assert selection.add == ("b", "a")
    assert selection.block == {"x", "y"}
    assert selection.autoload is None  # the environment says nothing: the config decides


@pytest.mark.parametrize(("value", "autoload"), [("1", False), ("yes", False), ("", None)])
def test_environment_variable_turns_autoload_off(value: str, autoload: bool | None) -> None:
    assert PluginSelection.parse([], environ={DISABLE_AUTOLOAD_ENV: value}).autoload is autoload


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["no:"], "-p 'no:': expected NAME or no:NAME"),
        ([" "], "-p ' ': expected NAME or no:NAME"),
        (["x", "no:x"], "plugin 'x' is both added (-p x) and blocked (-p no:x)"),
    ],
)
def test_unusable_values_are_refused(values: list[str], message: str) -> None:
    with pytest.raises(SelectionError) as caught:
        PluginSelection.parse(values, environ={})
    assert str(caught.value) == message


def test_added_plugin_loads_after_the_config_entries(
    tmp_path: Path, write_module: WriteModule
) -> None:
    for name in ("first_tools", "extra_tools"):
        write_module(f"{name}.py", TOOL_MODULE.format(name=name))

    host = PluginHost.load(
        [Entry("first_tools")],
        base_dir=tmp_path,
        autoload=False,
        added=["extra_tools", "first_tools"],  # one the config names already is kept once
    )

    assert [p.name for p in host.plugins] == ["first_tools", "extra_tools"]
    assert [s.name for s in host.collect_tools()] == ["first_tools", "extra_tools"]


def test_blocked_config_entry_is_skipped_and_logged(
    tmp_path: Path, write_module: WriteModule
) -> None:
    write_module("kept_tools.py", TOOL_MODULE.format(name="kept_tools"))

    with capture_logs() as logs:
        host = PluginHost.load(
            # The blocked one does not exist: it must not even be imported.
            [Entry("missing_tools"), Entry("kept_tools")],
            base_dir=tmp_path,
            autoload=False,
            blocked={"missing_tools"},
        )

    assert [p.name for p in host.plugins] == ["kept_tools"]
    assert [(log["event"], log["plugin"]) for log in logs] == [("plugin blocked", "missing_tools")]


def test_blocked_entry_point_is_not_autoloaded(
    fake_entry_points: Callable[..., None], tmp_path: Path, write_module: WriteModule
) -> None:
    write_module("ep_one.py", TOOL_MODULE.format(name="ep_one"))
    write_module("ep_two.py", TOOL_MODULE.format(name="ep_two"))
    fake_entry_points(one="ep_one", two="ep_two")

    host = PluginHost.load([], base_dir=tmp_path, blocked={"two"})

    assert [(p.name, p.kind) for p in host.plugins] == [("one", "entry_point")]


def test_added_plugin_that_fails_is_an_error_at_its_option(tmp_path: Path) -> None:
    with pytest.raises(PluginLoadError) as caught:
        PluginHost.load([], base_dir=tmp_path, autoload=False, added=["nowhere_tools"])

    assert caught.value.key == "-p nowhere_tools"
    assert caught.value.plugin == "nowhere_tools"


def test_bot_reads_the_environment_when_given_no_selection(
    fake_entry_points: Callable[..., None],
    tmp_path: Path,
    write_module: WriteModule,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_module("ep_one.py", TOOL_MODULE.format(name="ep_one"))
    fake_entry_points(one="ep_one")
    loaded = parse_config(
        "transport: {type: replay, path: rec.jsonl}\n", path=tmp_path / "bot.yaml"
    )

    monkeypatch.setenv(DISABLE_AUTOLOAD_ENV, "1")
    off = Bot.from_config(loaded)
    monkeypatch.setenv(DISABLE_AUTOLOAD_ENV, "")
    on = Bot.from_config(loaded)
    added = Bot.from_config(
        loaded, selection=PluginSelection.parse(["one"], environ={DISABLE_AUTOLOAD_ENV: "1"})
    )

    assert list(off.tools) == []
    assert list(on.tools) == ["ep_one"]
    assert [(p.name, p.kind) for p in added.host.plugins] == [("one", "entry_point")]
    assert list(added.tools) == ["ep_one"]


def test_builtin_module_brings_its_tool_functions(
    tmp_path: Path, write_module: WriteModule
) -> None:
    import importlib
    import sys

    write_module("builtin_tools.py", TOOL_MODULE.format(name="builtin_tools"))
    sys.path.insert(0, str(tmp_path))
    module = importlib.import_module("builtin_tools")

    host = PluginHost.load([], autoload=False, builtins=[("mine", module)])

    [spec] = host.collect_tools()
    assert (spec.name, spec.plugin) == ("builtin_tools", "mine")


RESPONDER = """
from cvibot import hookimpl

@hookimpl
def cvibot_respond_to_utterance(utterance):
    return "{name}"
"""


async def test_named_plugins_answer_before_installed_ones_nobody_named(
    fake_entry_points: Callable[..., None], tmp_path: Path, write_module: WriteModule
) -> None:
    from types import SimpleNamespace

    write_module("named_responder.py", RESPONDER.format(name="named"))
    write_module("installed_responder.py", RESPONDER.format(name="installed"))
    fake_entry_points(installed="installed_responder")

    host = PluginHost.load([Entry("named_responder")], base_dir=tmp_path)
    answer = await host.call_first(
        "cvibot_respond_to_utterance", utterance=SimpleNamespace(speech="hi"), session=None
    )

    # Registered last, pluggy would ask the autoloaded one first.
    assert [p.name for p in host.plugins] == ["named_responder", "installed"]
    assert answer == "named"
    assert [
        c.plugin_name
        for c in host.calls("cvibot_respond_to_utterance", utterance=None, session=None)
    ] == [
        "named_responder",
        "installed",
    ]


@pytest.mark.parametrize(
    ("environ", "autoload"),
    [
        ({}, None),
        ({AUTOLOAD_ENV: ""}, None),
        ({AUTOLOAD_ENV: "1"}, True),
        ({AUTOLOAD_ENV: " Yes "}, True),
        ({AUTOLOAD_ENV: "on"}, True),
        ({AUTOLOAD_ENV: "0"}, False),
        ({AUTOLOAD_ENV: "off"}, False),
        ({AUTOLOAD_ENV: "1", DISABLE_AUTOLOAD_ENV: "1"}, False),  # the disable switch wins
    ],
)
def test_the_environment_asks_for_autoloading(
    environ: dict[str, str], autoload: bool | None
) -> None:
    selection = PluginSelection.parse([], environ=environ)

    assert selection.autoload is autoload
    # The environment, when it says something, wins over the config.
    assert selection.autoloads(True) is (True if autoload is None else autoload)
    assert selection.autoloads(False) is (False if autoload is None else autoload)


@pytest.mark.parametrize("value", ["2", "maybe", "\udcff"])
def test_an_autoload_variable_that_is_no_boolean_is_refused(value: str) -> None:
    with pytest.raises(SelectionError, match=f"^{AUTOLOAD_ENV}="):
        PluginSelection.parse([], environ={AUTOLOAD_ENV: value})


@pytest.mark.parametrize(
    ("configured", "expected"), [("", []), ("plugins_autoload: true\n", ["ep_one"])]
)
def test_installed_plugins_nobody_names_join_only_with_plugins_autoload(
    fake_entry_points: Callable[..., None],
    tmp_path: Path,
    write_module: WriteModule,
    monkeypatch: pytest.MonkeyPatch,
    configured: str,
    expected: list[str],
) -> None:
    write_module("ep_one.py", TOOL_MODULE.format(name="ep_one"))
    fake_entry_points(one="ep_one")
    monkeypatch.delenv(AUTOLOAD_ENV)  # as in a user's shell: the config decides
    loaded = parse_config(
        "transport: {type: replay, path: rec.jsonl}\n" + configured, path=tmp_path / "bot.yaml"
    )

    bot = Bot.from_config(loaded)

    assert list(bot.tools) == expected
    assert Bot.from_config(loaded, autoload=False).tools.keys() == set()


@pytest.mark.parametrize(
    ("environ", "given", "expected"),
    [
        ({AUTOLOAD_ENV: "1"}, False, False),  # a test harness's own decision stands
        ({AUTOLOAD_ENV: "0"}, True, True),
        ({}, True, True),
        ({DISABLE_AUTOLOAD_ENV: "1"}, True, False),  # except against the disable switch
    ],
)
def test_a_callers_decision_beats_the_environment_but_not_the_disable_switch(
    environ: dict[str, str], given: bool, expected: bool
) -> None:
    selection = PluginSelection.parse([], environ=environ)

    assert selection.autoloads(not given, given=given) is expected
