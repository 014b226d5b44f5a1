"""``cvibot plugins``: the installed plugins, their tools and hooks, as a table or JSON;
given a config, also whether that bot loads each one."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import click

from cvibot._cli.common_options import plugin_option, table_lines

__all__ = ["plugins"]


@click.command()
@click.argument(
    "config", required=False, type=click.Path(dir_okay=False, path_type=Path), metavar="[CONFIG]"
)
@click.option("--json", "as_json", is_flag=True, help="One JSON array, an object per plugin.")
@plugin_option
def plugins(config: Path | None, as_json: bool, plugin_args: tuple[str, ...]) -> None:
    """List the installed plugins (entry points of group cvibot).

    Each is loaded on its own with empty settings; one that fails to load is listed with
    status error and its cause, and a bot that does not name it skips it. An installed
    plugin joins a bot only when the bot's config names it (or -p NAME, or
    plugins_autoload: true). Given CONFIG (and -p values), the column "bot" says
    whether that bot loads each one: loaded (named), autoloaded, blocked (-p no:NAME)
    or "not named".
    Exit status 0, or 2 for a CONFIG that does not load.
    """
    from cvibot._logging import configure_logging
    from cvibot.plugins._inventory import installed_plugins

    in_bot = _bot_plugins(config, plugin_args) if config is not None else None
    configure_logging("warning", "auto")
    # What a plugin prints while it is imported must not end up in the JSON.
    with contextlib.redirect_stdout(sys.stderr):
        found = installed_plugins()
    if as_json:
        listed: list[dict[str, Any]] = [info.as_dict() for info in found]
        if in_bot is not None:
            for entry in listed:
                entry["bot"] = _in_bot(entry["name"], in_bot, plugin_args)
        click.echo(json.dumps(listed, indent=2))
        return
    if not found:
        click.echo("no plugins installed (entry point group 'cvibot')")
        return
    header = ("plugin", "distribution", "status", "tools", "hooks")
    rows: list[tuple[str, ...]] = [header if in_bot is None else (*header, "bot")]
    for info in found:
        dist = " ".join(part for part in (info.distribution, info.version) if part) or "?"
        row: tuple[str, ...] = (
            info.name,
            dist,
            info.status,
            ", ".join(info.tools) or "-",
            ", ".join(h.removeprefix("cvibot_") for h in info.hooks) or "-",
        )
        if in_bot is not None:
            row = (*row, _in_bot(info.name, in_bot, plugin_args))
        rows.append(row)
    for line in table_lines(rows):
        click.echo(line)
    for info in found:
        if info.error is not None:
            click.echo(f"{info.name}: {info.status}: {info.error}", err=True)


def _bot_plugins(config: Path, plugin_args: tuple[str, ...]) -> dict[str, str]:
    """What the bot of ``config`` does with each plugin it loads: ``loaded`` (named) or
    ``autoloaded`` (under plugins_autoload). Exits 2 if the bot does not load."""
    from cvibot._cli.main import load_bot
    from cvibot.plugins._selection import PluginSelection

    with contextlib.redirect_stdout(sys.stderr):
        bot = load_bot(config, "warning", plugin_args=plugin_args)
    named = {entry.ref for entry in bot.config.plugins}
    named.update(PluginSelection.parse(plugin_args).add)
    return {
        plugin.name: "loaded" if plugin.name in named else "autoloaded"
        for plugin in bot.host.plugins
    }


def _in_bot(name: str, loaded: dict[str, str], plugin_args: tuple[str, ...]) -> str:
    if name in loaded:
        return loaded[name]
    if f"no:{name}" in plugin_args:
        return "blocked"
    return "not named"
