"""Options and output shared by several commands."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import click

__all__ = ["plugin_option", "table_lines"]

plugin_option = click.option(
    "-p",
    "plugin_args",
    multiple=True,
    metavar="NAME",
    help="Load the plugin NAME too (no settings), or with no:NAME do not load it even "
    "if the config names it. Repeatable. Installed plugins nobody names load only "
    "with plugins_autoload: true or CVIBOT_PLUGINS_AUTOLOAD=1.",
)


def table_lines(rows: Sequence[Sequence[str]], indent: str = "") -> Iterator[str]:
    """``rows`` (the first one the header) as aligned columns, two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        yield (indent + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))).rstrip()
