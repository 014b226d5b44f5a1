"""PluginSettingsError: a plugin's bad settings reported at their own key and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from plugin_helpers import WriteModule

from cvibot._errors import ConfigError, PluginSettingsError
from cvibot._runtime import Bot
from cvibot.config import load_config

CHECKS_SETTINGS = """
from cvibot import PluginSettingsError, hookimpl

@hookimpl
def cvibot_register_tools(register, settings):
    problems = []
    if not isinstance(settings.get("top_k"), int):
        problems.append(("top_k", "expected an integer"))
    for n, header in enumerate(settings.get("headers", {})):
        if " " in header:
            problems.append((f'headers["{header}"]', "not a header name"))
    if settings.get("missing") is None:
        problems.append(("missing.deep", "required"))
    if problems:
        raise PluginSettingsError(problems)
"""


@pytest.mark.parametrize(
    ("key", "path"),
    [
        ("top_k", ("top_k",)),
        ("tools[0].request.url", ("tools", 0, "request", "url")),
        ('headers["Bad Name"].x', ("headers", "Bad Name", "x")),
        ("", ()),
    ],
)
def test_keys_parse_into_paths(key: str, path: tuple[str | int, ...]) -> None:
    assert PluginSettingsError.parse_key(key) == path
    assert PluginSettingsError.at(key, "bad").key_path() == path


def test_at_takes_a_path_and_writes_it_as_config_errors_do() -> None:
    error = PluginSettingsError.at(("headers", "Bad Name"), "not a header name")

    assert error.problems == [('headers["Bad Name"]', "not a header name")]
    assert str(error) == 'headers["Bad Name"]: not a header name'


def test_it_needs_a_problem() -> None:
    with pytest.raises(ValueError, match="at least one problem"):
        PluginSettingsError([])


def test_the_bot_reports_every_problem_from_the_first_ones_line(
    tmp_path: Path, write_module: WriteModule
) -> None:
    write_module("strict_plugin.py", CHECKS_SETTINGS)
    config = tmp_path / "bot.yaml"
    config.write_text(
        "transport: {type: replay, path: rec.jsonl}\n"
        "plugins:\n"
        "  - module: strict_plugin\n"
        "    settings:\n"
        "      headers:\n"
        '        "Bad Name": x\n'
        "      top_k: many\n",
        encoding="utf-8",
    )

    with pytest.raises(ConfigError) as caught:
        Bot.from_config(load_config(config), autoload=False)

    assert str(caught.value) == (
        f"{config}:7: plugins[0].settings.top_k: expected an integer (plugin 'strict_plugin'); "
        'plugins[0].settings.headers["Bad Name"]: not a header name; '
        "plugins[0].settings.missing.deep: required"
    )
    assert caught.value.line == 7


def test_a_missing_key_is_placed_at_its_nearest_written_parent(
    tmp_path: Path, write_module: WriteModule
) -> None:
    write_module("strict_plugin.py", CHECKS_SETTINGS)
    config = tmp_path / "bot.yaml"
    config.write_text(
        "transport: {type: replay, path: rec.jsonl}\n"
        "plugins:\n"
        "  - module: strict_plugin\n"
        "    settings: {top_k: 3}\n",
        encoding="utf-8",
    )

    with pytest.raises(ConfigError) as caught:
        Bot.from_config(load_config(config), autoload=False)

    assert caught.value.key == "plugins[0].settings.missing.deep"
    assert caught.value.line == 4  # the settings mapping's line
