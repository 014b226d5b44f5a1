"""installed_plugins: each installed plugin loaded on its own, failures reported, never raised."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
from plugin_helpers import WriteModule

from cvibot.plugins._inventory import PluginInfo, installed_plugins

GOOD = """
from cvibot import hookimpl, tool

@tool
def greet(name: str) -> str:
    \"\"\"Greet someone.\"\"\"
    return f"hi {name}"

@hookimpl
def cvibot_startup(bot):
    pass

@hookimpl
async def cvibot_session_ended(session):
    pass
"""

REGISTERS_FROM_SETTINGS = """
from cvibot import hookimpl

@hookimpl
def cvibot_register_tools(register, settings):
    for name in settings.get("tools", []):
        register(lambda: name, name=name)
"""


@pytest.fixture
def install(
    tmp_path: Path, write_module: WriteModule, fake_entry_points: Callable[..., None]
) -> Callable[..., None]:
    import sys

    sys.path.insert(0, str(tmp_path))

    def install_modules(**sources: str) -> None:
        points = {}
        for name, source in sources.items():
            module = f"inv_{name}"
            write_module(f"{module}.py", source)
            points[name] = module
        fake_entry_points(**points)

    return install_modules


def by_name(infos: list[PluginInfo]) -> dict[str, dict[str, Any]]:
    return {info.name: info.as_dict() for info in infos}


def test_lists_tools_and_hooks_of_each_plugin(install: Callable[..., None]) -> None:
    install(good=GOOD, settings_only=REGISTERS_FROM_SETTINGS)

    found = by_name(installed_plugins())

    assert found == {
        "good": {
            "name": "good",
            "value": "inv_good",
            "distribution": None,
            "version": None,
            "status": "ok",
            "error": None,
            "tools": ["greet"],
            "hooks": ["cvibot_session_ended", "cvibot_startup"],
        },
        "settings_only": {
            "name": "settings_only",
            "value": "inv_settings_only",
            "distribution": None,
            "version": None,
            "status": "ok",
            "error": None,
            "tools": [],  # built from settings, and there are none here
            "hooks": ["cvibot_register_tools"],
        },
    }


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("raise ImportError('needs libfoo')", "ImportError: needs libfoo"),
        ("import sys\nsys.exit(3)", "SystemExit: 3"),
        (
            "from cvibot import hookimpl\n@hookimpl\ndef cvibot_startup(bot, nope): pass\n",
            "cvibot_startup() declares 'nope'",
        ),
        (
            "from cvibot import hookimpl\n@hookimpl\n"
            "def cvibot_register_tools(register):\n    raise RuntimeError('no database')\n",
            "could not register its tools: RuntimeError: no database",
        ),
    ],
    ids=["import-error", "sys-exit", "bad-hook", "register-tools-raises"],
)
def test_a_broken_plugin_is_reported_and_the_others_still_listed(
    install: Callable[..., None], source: str, error: str
) -> None:
    install(broken=source, good=GOOD)

    found = by_name(installed_plugins())

    assert found["good"]["status"] == "ok"
    assert found["broken"]["status"] == "error"
    assert error in found["broken"]["error"]
    assert found["broken"]["tools"] == []


def test_a_name_provided_twice_is_shadowed(
    tmp_path: Path, write_module: WriteModule, fake_entry_points: Callable[..., None]
) -> None:
    import sys

    sys.path.insert(0, str(tmp_path))
    write_module("inv_first.py", GOOD)
    fake_entry_points(
        EntryPoint(name="dup", value="inv_first", group="cvibot"),
        EntryPoint(name="dup", value="inv_second", group="cvibot"),
    )

    first, second = installed_plugins()

    assert (first.value, first.status, first.tools) == ("inv_first", "ok", ("greet",))
    assert (second.value, second.status) == ("inv_second", "shadowed")
    assert second.error == "inv_first provides 'dup' too"


def test_nothing_installed(fake_entry_points: Callable[..., None]) -> None:
    fake_entry_points()

    assert installed_plugins() == []
