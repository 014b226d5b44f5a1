"""The ``cvibot`` command line.

Exit status: 0 ok, 1 runtime failure, 2 usage or config error. Heavy modules (pydantic,
the runtime, daily-python) are imported inside the commands so ``cvibot --help`` stays fast.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from cvibot.config import LoggingConfig
    from cvibot.runtime import Bot
    from cvibot.transports.base import Transport

__all__ = ["main"]

EXIT_RUNTIME = 1
EXIT_CONFIG = 2


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _load_bot(config: Path, level: str | None = None, fmt: str | None = None) -> Bot:
    """Load CONFIG and its plugins; logging is set up in between, so that what loading
    the plugins logs (a skipped plugin) goes to stderr in the configured format."""
    from cvibot.config import load_config
    from cvibot.errors import ConfigError
    from cvibot.runtime import Bot

    try:
        loaded = load_config(config)
        _configure_logging(loaded.config.logging, level, fmt)
        return Bot.from_config(loaded)
    except ConfigError as exc:
        _fail(str(exc), EXIT_CONFIG)


def _configure_logging(cfg: LoggingConfig, level: str | None, fmt: str | None) -> None:
    from cvibot.logging import configure_logging

    configure_logging(level or cfg.level, fmt or cfg.format)  # type: ignore[arg-type]


def _transport_from_config(bot: Bot) -> Transport:
    from cvibot.transports.replay import ReplayTransport

    t = bot.config.transport
    return ReplayTransport(t.path, pace=t.pace, speed=t.speed, out=t.out)


def _serve(bot: Bot, transport: Transport, *, transcript: bool) -> None:
    import structlog

    from cvibot.cli.transcript import Transcript, format_summary
    from cvibot.runtime import PluginStartupError
    from cvibot.transports.base import TransportError

    log = structlog.get_logger("cvibot.cli")
    listeners: list[Any] = []
    if transcript:
        printer = Transcript(sys.stdout)
        listeners.append(printer)
        printer.header(
            f"cvibot · {transport.describe()} · pipeline_mode {bot.pipeline_mode} · "
            f"{len(bot.tools)} tools: {', '.join(sorted(bot.tools)) or 'none'}"
        )
    try:
        session = asyncio.run(bot.run(transport, listeners=listeners))
    except TransportError as exc:
        _fail(str(exc), EXIT_RUNTIME)
    except PluginStartupError as exc:
        log.error("plugin failed to start", plugin=exc.plugin, exc_info=exc.cause)
        _fail(str(exc), EXIT_RUNTIME)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:  # a bug: one line here, the traceback in the log
        log.exception("bot failed")
        _fail(f"{type(exc).__name__}: {exc}", EXIT_RUNTIME)
    log.info("run summary", **session.stats.as_dict(), conversation_id=session.conversation_id)
    if transcript:
        click.echo(format_summary(session.stats))


_config_arg = click.argument(
    "config", type=click.Path(exists=False, dir_okay=False, path_type=Path)
)
_log_level = click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    help="Override logging.level from the config.",
)
_log_format = click.option(
    "--log-format",
    type=click.Choice(["auto", "console", "json"]),
    help="Log lines on stderr: console (readable), json (one object per line) or auto.",
)
_quiet = click.option(
    "--quiet", "-q", is_flag=True, help="No transcript or summary on stdout (logs only)."
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cvibot", prog_name="cvibot")
def cli() -> None:
    """Run bots that answer the tool calls of Tavus CVI conversations."""


@cli.command()
@_config_arg
@_log_level
@_log_format
@_quiet
def run(config: Path, log_level: str | None, log_format: str | None, quiet: bool) -> None:
    """Run the bot CONFIG describes on its configured transport."""
    bot = _load_bot(config, log_level, log_format)
    _serve(bot, _transport_from_config(bot), transcript=bot.config.logging.transcript and not quiet)


@cli.command()
@_config_arg
@click.argument("events", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every outbound message here, one JSON message per line.",
)
@click.option(
    "--pace",
    type=click.Choice(["fast", "recorded"]),
    default="fast",
    show_default=True,
    help="fast: deterministic, each message after the previous one's calls ended; "
    "recorded: at the recorded arrival times.",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Speed factor for --pace recorded.",
)
@_log_level
@_log_format
@_quiet
def replay(
    config: Path,
    events: Path,
    out: Path | None,
    pace: str,
    speed: float,
    log_level: str | None,
    log_format: str | None,
    quiet: bool,
) -> None:
    """Run the bot CONFIG describes on the recorded stream EVENTS (JSONL)."""
    from cvibot.transports.replay import ReplayTransport

    bot = _load_bot(config, log_level, log_format)
    transport = ReplayTransport(events, pace=pace, speed=speed, out=out)  # type: ignore[arg-type]
    _serve(bot, transport, transcript=bot.config.logging.transcript and not quiet)


@cli.command()
@_config_arg
def check(config: Path) -> None:
    """Validate CONFIG and its plugins, and list the tools."""
    from cvibot.tools import limit_problems

    bot = _load_bot(config)
    specs = sorted(bot.tools.values(), key=lambda s: s.name)
    policy = bot.policy
    click.echo(
        f"{config}: ok · pipeline_mode {bot.pipeline_mode} · "
        f"{_count(len(bot.host.plugins), 'plugin')} · {_count(len(specs), 'tool')}"
    )
    for plugin in bot.host.plugins:
        origin = plugin.distribution or plugin.module or plugin.kind
        version = f" {plugin.version}" if plugin.version else ""
        click.echo(f"  plugin {plugin.name} ({plugin.kind}: {origin}{version})")
    rows = [("tool", "origin", "reply", "timeout", "cancel", "plugin")]
    for s in specs:
        default = policy.perception_reply if s.is_perception else policy.default_reply
        rows.append(
            (
                s.name,
                s.origin.value,
                (s.reply or default).value,
                f"{s.timeout if s.timeout is not None else policy.default_timeout:g} s",
                "yes"
                if (
                    s.cancel_on_interrupt
                    if s.cancel_on_interrupt is not None
                    else policy.cancel_on_interrupt
                )
                else "no",
                s.plugin or "",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    problems = limit_problems(specs)
    for p in problems:
        click.echo(f"warning: {p}", err=True)


@cli.command()
@_config_arg
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["all", "legacy", "registry"]),
    default="all",
    show_default=True,
    help="legacy: the persona's layers (llm.tools, perception); registry: "
    "/v2/tools bodies; all: both.",
)
def tools(config: Path, fmt: str) -> None:
    """Print the tool definitions in Tavus's formats (JSON)."""
    from cvibot.tools import tool_definitions

    bot = _load_bot(config)
    defs = tool_definitions(sorted(bot.tools.values(), key=lambda s: s.name))
    if fmt == "legacy":
        payload: Any = defs["persona"]
    elif fmt == "registry":
        payload = defs["tools"]
    else:
        payload = defs
    click.echo(json.dumps(payload, indent=2, ensure_ascii=False))


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="cvibot")
