"""``cvibot console CONFIG``: talk to a bot as the replica would, from a terminal.

The bot is the one ``cvibot run`` builds (config, plugins, tools); the conversation is
fake and in process (:mod:`cvibot._cli.console.engine`). A plain line is a user
utterance, ``/call`` sends a tool call, ``/help`` lists the rest
(:mod:`cvibot._cli.console.commands`); every message the bot sends is shown as the
replica would get it (:mod:`cvibot._cli.console.render`). Exit status 0 at the end of
the input or ``/quit``, 1 when the bot fails, 2 for a config error, 130 on Ctrl-C when
the input is not a terminal.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import click

from cvibot._cli.common_options import plugin_option

__all__ = ["console"]

_EXIT_RUNTIME = 1


@click.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--record",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the conversation to this JSONL file, for cvibot replay --check.",
)
@click.option(
    "--wait",
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds to wait for the answers to a line before reading the next one. "
    "Default: the tool's timeout plus 1 s (defaults.timeout plus 1 s for other lines).",
)
@click.option(
    "--conversation-id",
    metavar="ID",
    help="The conversation id the messages carry. Default: conversation.id, else 'console'.",
)
@click.option(
    "--history",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="CVIBOT_CONSOLE_HISTORY",
    help="Keep the line history in this file across sessions (on a terminal). "
    "Env: CVIBOT_CONSOLE_HISTORY.",
)
@plugin_option
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="error",
    show_default=True,
    help="Logs on stderr. The console shows every call and answer itself, so the "
    "per-call warnings are left out unless asked for.",
)
@click.option(
    "--log-format",
    type=click.Choice(["auto", "console", "json"]),
    help="Log lines on stderr: console (readable), json (one object per line) or auto.",
)
def console(
    config: Path,
    record: Path | None,
    wait: float | None,
    conversation_id: str | None,
    history: Path | None,
    plugin_args: tuple[str, ...],
    log_level: str,
    log_format: str | None,
) -> None:
    """Talk to the bot CONFIG describes, as the replica would, line by line.

    A line is what the user says; /call NAME key=value ... sends a tool call; /help
    lists the other commands. Every message the bot sends is shown. From a pipe, the
    lines are read to the end (so a session can be scripted); on a terminal, Ctrl-C
    clears the line and Ctrl-D quits. The config's transport is not used.
    """
    from cvibot._cli.console.engine import BotEnded, Engine
    from cvibot._cli.console.render import render_header
    from cvibot._cli.console.repl import Screen, read_eval_print
    from cvibot._cli.main import load_bot

    bot = load_bot(config, log_level, log_format, plugin_args)
    screen = Screen(sys.stdout)
    engine = Engine(
        bot,
        show=screen.show,
        conversation_id=conversation_id or bot.config.conversation.id or "console",
        record=record,
        wait=wait,
    )
    stdin = sys.stdin
    if isinstance(stdin, io.TextIOWrapper):
        # Bytes that are not UTF-8 become U+FFFD instead of ending the session.
        stdin.reconfigure(errors="replace")
    code = 0
    try:
        where = engine.start()
        screen.show(render_header(str(config), where, bot.pipeline_mode, bot.tools))
        read_eval_print(engine, screen, stdin, history=history)
    except BotEnded as exc:
        click.echo(f"error: {exc}", err=True)
        code = _EXIT_RUNTIME
    except KeyboardInterrupt:
        code = 130
    try:
        engine.close()
    except BotEnded as exc:
        click.echo(f"error: {exc}", err=True)
        code = code or _EXIT_RUNTIME
    sys.exit(code)
