"""``cvibot plugins``: the installed plugins, their tools and hooks, as a table or JSON."""

from __future__ import annotations

import contextlib
import json
import sys

import click

from cvibot.cli.options import table_lines

__all__ = ["plugins"]


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON array, an object per plugin.")
def plugins(as_json: bool) -> None:
    """List the installed plugins (entry points of group cvibot).

    Each is loaded on its own with empty settings; one that fails to load is listed with
    status error and its cause, and a bot that does not name it skips it. Exit status 0
    either way.
    """
    from cvibot.logging import configure_logging
    from cvibot.plugins.inventory import installed_plugins

    configure_logging("warning", "auto")
    # What a plugin prints while it is imported must not end up in the JSON.
    with contextlib.redirect_stdout(sys.stderr):
        found = installed_plugins()
    if as_json:
        click.echo(json.dumps([info.as_dict() for info in found], indent=2))
        return
    if not found:
        click.echo("no plugins installed (entry point group 'cvibot')")
        return
    rows = [("plugin", "distribution", "status", "tools", "hooks")]
    for info in found:
        dist = " ".join(part for part in (info.distribution, info.version) if part) or "?"
        rows.append(
            (
                info.name,
                dist,
                info.status,
                ", ".join(info.tools) or "-",
                ", ".join(h.removeprefix("cvibot_") for h in info.hooks) or "-",
            )
        )
    for line in table_lines(rows):
        click.echo(line)
    for info in found:
        if info.error is not None:
            click.echo(f"{info.name}: {info.status}: {info.error}", err=True)
