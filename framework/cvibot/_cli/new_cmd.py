"""``cvibot new plugin NAME`` and ``cvibot new bot NAME``: start a project from a template.

Wired into the command line with ``cli.add_command(new)``. Exit status 0 when the
project was written, 2 for a bad NAME or a folder that exists, 1 when it cannot be
written.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import click

__all__ = ["new"]

_EXIT_USAGE = 2


class _Refused(click.ClickException):
    """A request that cannot be done as asked: printed as ``Error: ...``, exit status 2."""

    exit_code = _EXIT_USAGE


@click.group()
def new() -> None:
    """Create a new project from a template."""


@new.command("plugin")
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder to create the project cvibot-NAME/ in (created if missing).",
)
def plugin(name: str, directory: Path) -> None:
    """Create the plugin project cvibot-NAME/: one example tool and hook, their tests.

    NAME is the plugin's name in a bot's config (and its entry point): lowercase
    letters and digits in words joined by '-' or '_', such as 'order-lookup'. The
    package is cvibot_NAME, with '-' made '_'.
    """
    from cvibot._scaffold import PluginNameError, PluginNames, create_plugin

    try:
        names = PluginNames.of(name)
    except PluginNameError as exc:
        raise click.BadParameter(str(exc), param_hint="'NAME'") from None
    shown = _write("the plugin project", "project", lambda: create_plugin(names, directory))
    click.echo(
        "\nNext steps:\n"
        f"  cd {shown}\n"
        "  pip install -e '.[dev]'    # the plugin, cvibot and the test tools\n"
        "  pytest                     # the example tests, on a fake conversation\n"
        f"Then name it in a bot's config: plugins: [{names.distribution}]"
    )


@new.command("bot")
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder to create the bot's folder NAME/ in (created if missing).",
)
def bot(name: str, directory: Path) -> None:
    """Create the bot NAME/: a config, a tools module, a recorded conversation, tests.

    NAME is the bot's folder: lowercase letters and digits in words joined by '-' or
    '_', such as 'order-desk'. Its tools module is NAME_tools.py ('-' made '_'). The
    tests pass as generated, and cvibot run NAME/bot.yaml replays the recording offline.
    """
    from cvibot._scaffold import BotNameError, BotNames, create_bot

    try:
        names = BotNames.of(name)
    except BotNameError as exc:
        raise click.BadParameter(str(exc), param_hint="'NAME'") from None
    shown = _write("the bot", "bot", lambda: create_bot(names, directory))
    click.echo(
        "\nNext steps:\n"
        f"  cd {shown}\n"
        "  cvibot console bot.yaml     # talk to it: type a line, or /call lookup_order "
        "order_id=A1001\n"
        "  cvibot dev bot.yaml         # run it, restarted when a file changes\n"
        "  pytest                      # its tests (pytest and pytest-asyncio: cvibot[dev])"
    )


def _shown(path: Path) -> str:
    """``path`` relative to the current folder when it is inside it, else absolute."""
    try:
        return os.path.relpath(path) if path.is_relative_to(Path.cwd()) else str(path)
    except ValueError:  # another drive, on Windows
        return str(path)


def _write(what: str, noun: str, create: Callable[[], tuple[Path, list[Path]]]) -> str:
    """Run ``create`` (a scaffold's writer), list the files it wrote under "Created
    ``what`` FOLDER/:", and return the folder as shown. An existing folder is refused
    (exit 2, nothing written); a write error names ``noun``."""
    from cvibot._scaffold import ProjectExists

    try:
        root, written = create()
    except ProjectExists as exc:
        raise _Refused(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot write the {noun}: {exc}") from None
    shown = _shown(root)
    click.echo(f"Created {what} {shown}{os.sep}:")
    for path in written:
        click.echo(f"  {path.relative_to(root).as_posix()}")
    return shown
