"""Options shared by several commands."""

from __future__ import annotations

import click

__all__ = ["plugin_option"]

plugin_option = click.option(
    "-p",
    "plugin_args",
    multiple=True,
    metavar="NAME",
    help="Load the plugin NAME too (no settings), or with no:NAME do not load it even "
    "if the config names it or it is installed. Repeatable. "
    "CVIBOT_DISABLE_PLUGIN_AUTOLOAD=1 loads only the plugins named.",
)
