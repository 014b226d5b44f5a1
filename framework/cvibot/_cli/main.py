"""The ``cvibot`` command line.

Exit status: 0 ok, 1 runtime failure, 2 usage or config error, 130 a second SIGINT/SIGTERM
(or one before the conversation started), 141 standard output closed early (``| head``:
the command stops quietly, as a filter that SIGPIPE ends). Heavy modules (pydantic, the
runtime, daily-python) are imported inside the commands so ``cvibot --help`` stays fast.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from cvibot._cli.common_options import plugin_option
from cvibot._cli.console import console
from cvibot._cli.dev import dev
from cvibot._cli.new_cmd import new
from cvibot._cli.plugins_cmd import plugins
from cvibot._cli.tools_cmd import tools

if TYPE_CHECKING:
    from cvibot._cli.live import Plan
    from cvibot._listening import SessionListener
    from cvibot._runtime import Bot
    from cvibot._session import Session
    from cvibot.config import LoggingConfig

__all__ = ["main"]

EXIT_RUNTIME = 1
EXIT_CONFIG = 2


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    _exit(code)


def _exit(code: int) -> NoReturn:
    from cvibot._cli.process import exit_now

    exit_now(code)
    raise SystemExit(code)


def load_bot(
    config: Path,
    level: str | None = None,
    fmt: str | None = None,
    plugin_args: Sequence[str] = (),
    *,
    verbose: int = 0,
    view: bool = False,
) -> Bot:
    """Load CONFIG and its plugins (with the ``-p`` values ``plugin_args``; installed
    plugins nobody names only as :meth:`PluginSelection.autoloads` decides, the same for
    every command); logging is set up in between, so that what loading the plugins logs
    (a skipped plugin) goes to stderr in the configured format. ``level`` (``--log-level``)
    wins over ``verbose`` (the count of ``-v``), which wins over the config; ``view``: the
    command prints the transcript if the config lets it (see :func:`log_settings`).
    Exits with status 2 on a config error."""
    from cvibot._errors import ConfigError
    from cvibot._runtime import Bot
    from cvibot.config import load_config
    from cvibot.plugins._selection import PluginSelection, SelectionError

    try:
        selection = PluginSelection.parse(plugin_args)
    except SelectionError as exc:
        _fail(str(exc), EXIT_CONFIG)
    try:
        loaded = load_config(config)
        _configure_logging(loaded.config.logging, level, fmt, verbose, view)
        return Bot.from_config(loaded, selection=selection)
    except ConfigError as exc:
        _fail(str(exc), EXIT_CONFIG)


def log_settings(
    cfg: LoggingConfig,
    level: str | None,
    verbose: int,
    transcript: bool,
    console: bool,
) -> tuple[str, bool]:
    """The log level and whether to leave out what the transcript shows
    (:data:`cvibot._cli.transcript.SHOWN_EVENTS`).

    ``--log-level`` (``level``) wins, then ``-v`` (``verbose``: 1 info, 2 or more
    debug): asked for on the command line, every log line is shown. Otherwise, when the
    ``transcript`` is printed and logs are ``console`` lines for a person, the transcript
    is the view: logs at ``logging.level`` (unset: warning) without the lines that repeat
    it. Otherwise (JSON logs, no transcript) ``logging.level`` (unset: info).
    """
    if level is not None:
        return level, False
    if verbose > 0:
        return ("info" if verbose == 1 else "debug"), False
    if transcript and console:
        return cfg.level or "warning", True
    return cfg.level or "info", False


def _configure_logging(
    cfg: LoggingConfig, level: str | None, fmt: str | None, verbose: int = 0, view: bool = False
) -> None:
    from cvibot._cli.transcript import SHOWN_EVENTS
    from cvibot._logging import configure_logging

    chosen = fmt or cfg.format
    console = chosen == "console" or (chosen == "auto" and sys.stderr.isatty())
    resolved, omit = log_settings(cfg, level, verbose, view and cfg.transcript, console)
    configure_logging(
        resolved,
        chosen,  # type: ignore[arg-type]
        omit=SHOWN_EVENTS if omit else (),
    )


def _plan_from_config(
    bot: Bot, conversation_url: str | None, conversation_id: str | None, record: Path | None
) -> Plan:
    """Where ``run`` gets its messages: the configured transport, or the Daily room of
    ``--conversation-url`` (with the config's Daily settings when it has them)."""
    from cvibot._cli.live import Plan
    from cvibot.config import DailyTransportConfig
    from cvibot.transports._replay import ReplayTransport

    cfg = bot.config
    t = cfg.transport
    daily = t if isinstance(t, DailyTransportConfig) else None
    if conversation_url is not None:
        return Plan(
            url=conversation_url, daily=daily, conversation_id=conversation_id, record=record
        )
    if t is None:
        raise bot.loaded.error(
            "required by cvibot run: add a 'transport:' section (type: replay with a "
            "recorded conversation, or type: daily), or pass --conversation-url",
            "transport",
        )
    if not isinstance(t, DailyTransportConfig):
        transport = ReplayTransport(t.path, pace=t.pace, speed=t.speed, out=t.out)
        return Plan(
            transport=transport,
            conversation_id=conversation_id or cfg.conversation.id,
            record=record,
        )
    conv = cfg.conversation
    if conv.url is None and conv.create is None:
        raise bot.loaded.error(
            "the daily transport needs a room: set conversation.url or conversation.create, "
            "or pass --conversation-url",
            "conversation",
        )
    return Plan(
        url=str(conv.url) if conv.url is not None else None,
        daily=daily,
        conversation_id=conversation_id or conv.id,
        record=record,
    )


def _serve(
    bot: Bot, plan: Plan, *, transcript: bool, listeners: Sequence[SessionListener] = ()
) -> Session:
    """Run ``plan`` with the transcript (when asked) and the summary; exits on failure."""
    import structlog

    from cvibot._cli.live import StopRequested, serve
    from cvibot._cli.transcript import Transcript
    from cvibot._errors import ConfigError, CvibotError
    from cvibot._runtime import PluginStartupError
    from cvibot.transports._base import TransportError
    from cvibot.transports._replay import ReplayTransport

    log = structlog.get_logger("cvibot.cli")
    printer = Transcript(sys.stdout) if transcript else None
    if printer is not None:
        listeners = [printer, *listeners]
        if isinstance(plan.transport, ReplayTransport):
            plan.transport.on_note = printer.note

    def header(where: str) -> None:
        if printer is not None:
            printer.header(
                f"cvibot · {where} · pipeline_mode {bot.pipeline_mode}",
                f"{_count(len(bot.tools), 'tool')}: {', '.join(sorted(bot.tools)) or 'none'}",
            )

    try:
        session = serve(bot, plan, listeners, header)
    except ConfigError as exc:
        _fail(str(exc), EXIT_CONFIG)
    except TransportError as exc:
        _fail(str(exc), EXIT_RUNTIME)
    except PluginStartupError as exc:
        log.error("plugin failed to start", plugin=exc.plugin, exc_info=exc.cause)
        _fail(str(exc), EXIT_RUNTIME)
    except StopRequested as exc:
        if exc.exit_code != 130:  # stdout closed: nobody reads a message
            _exit(exc.exit_code)
        _fail(str(exc), exc.exit_code)
    except CvibotError as exc:  # the Tavus API refused or could not be reached
        _fail(str(exc), EXIT_RUNTIME)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:  # a bug: one line here, the traceback in the log
        log.exception("bot failed")
        _fail(f"{type(exc).__name__}: {exc}", EXIT_RUNTIME)
    log.info("run summary", **session.stats.as_dict(), conversation_id=session.conversation_id)
    if printer is not None:
        printer.summary(session.stats)
    return session


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
_verbose = click.option(
    "-v",
    "--verbose",
    count=True,
    help="Show logs on stderr: -v info, -vv debug (--log-level wins). By default only "
    "warnings and errors the transcript does not already show.",
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
@click.option(
    "--conversation-url",
    metavar="URL",
    help="Join the Daily room of this existing Tavus conversation (its conversation_url) "
    "instead of the configured transport.",
)
@click.option(
    "--conversation-id",
    metavar="ID",
    help="The conversation's id; events of other conversations are dropped. "
    "Default: conversation.id, else taken from the first event.",
)
@click.option(
    "--record",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every inbound message (sender, arrival time), participant change and "
    "outbound message to this JSONL file, for cvibot replay --check.",
)
@plugin_option
@_log_level
@_verbose
@_log_format
@_quiet
def run(
    config: Path,
    conversation_url: str | None,
    conversation_id: str | None,
    record: Path | None,
    plugin_args: tuple[str, ...],
    log_level: str | None,
    verbose: int,
    log_format: str | None,
    quiet: bool,
) -> None:
    """Run the bot CONFIG describes on its configured transport.

    SIGINT or SIGTERM stops it gracefully: no new tool calls (they are answered with an
    error), running ones finish within dispatch.shutdown_grace or are answered with a
    shutdown error, then it exits (status 0) without waiting for stuck handler threads;
    a second signal exits at once (status 130). A closed stdout stops it the same way
    (status 141).
    """
    from cvibot._errors import ConfigError

    bot = load_bot(config, log_level, log_format, plugin_args, verbose=verbose, view=not quiet)
    try:
        plan = _plan_from_config(bot, conversation_url, conversation_id, record)
    except ConfigError as exc:
        _fail(str(exc), EXIT_CONFIG)
    _serve(bot, plan, transcript=bot.config.logging.transcript and not quiet)
    _exit(0)


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
@click.option(
    "--check",
    is_flag=True,
    help="Compare what the bot sends with what it sent in the recording (a file written "
    "by cvibot run --record); exit 1 on a difference.",
)
@plugin_option
@_log_level
@_verbose
@_log_format
@_quiet
def replay(
    config: Path,
    events: Path,
    out: Path | None,
    pace: str,
    speed: float,
    check: bool,
    plugin_args: tuple[str, ...],
    log_level: str | None,
    verbose: int,
    log_format: str | None,
    quiet: bool,
) -> None:
    """Run the bot CONFIG describes on the recorded stream EVENTS (JSONL).

    Participant lines of a recording rebuild the room, so the trust rules apply as they
    did live.
    """
    from cvibot._cli.live import Plan
    from cvibot._listening import SessionListener
    from cvibot.transports._base import TransportError
    from cvibot.transports._replay import ReplayTransport, read_outbound

    class Sent(SessionListener):
        """Keeps what the bot sends, for --check only: a replay streams it otherwise."""

        def __init__(self) -> None:
            self.messages: list[Mapping[str, Any]] = []

        def on_sent(self, message: Mapping[str, Any]) -> None:
            self.messages.append(message)

    bot = load_bot(config, log_level, log_format, plugin_args, verbose=verbose, view=not quiet)
    expected: list[Mapping[str, Any]] = []
    if check:
        try:
            expected = [entry.message for entry in read_outbound(events)]
        except TransportError as exc:
            _fail(str(exc), EXIT_CONFIG)
    sent = Sent()
    transport = ReplayTransport(events, pace=pace, speed=speed, out=out)  # type: ignore[arg-type]
    _serve(
        bot,
        Plan(transport=transport, conversation_id=bot.config.conversation.id),
        transcript=bot.config.logging.transcript and not quiet,
        listeners=[sent] if check else [],
    )
    if check:
        from cvibot._recording import compare_outbound

        diff = compare_outbound(expected, sent.messages)
        if not diff.ok:
            click.echo(diff.format())
            _fail("what the bot sends differs from the recording", EXIT_RUNTIME)
        click.echo(f"check: ok, the {_count(len(expected), 'outbound message')} match")
    _exit(0)


@cli.command()
@_config_arg
@plugin_option
@click.option("--strict", is_flag=True, help="Make the warnings errors: exit 2 if there is any.")
def check(config: Path, plugin_args: tuple[str, ...], strict: bool) -> None:
    """Validate CONFIG and its plugins, list the tools, and warn about what loads but
    does nothing: a cvibot_* function without @hookimpl, a tool without a description,
    pipeline_mode: echo without a responder, a structured result spoken without say=.

    Exit status: 0 (warnings are listed on stderr), 2 a config error, or a warning
    under --strict.
    """
    from cvibot._cli.check_cmd import report

    code = report(load_bot(config, plugin_args=plugin_args), config, strict=strict)
    if code:
        _exit(code)


@cli.command(name="serve")
@_config_arg
@click.option("--host", metavar="HOST", help="Bind this address (overrides serve.host).")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    help="Listen on this port; 0 takes a free one (overrides serve.port).",
)
@click.option(
    "--capacity",
    type=click.IntRange(min=1),
    help="Conversations served at once (overrides serve.capacity).",
)
@plugin_option
@_log_level
@_verbose
@_log_format
def serve_command(
    config: Path,
    host: str | None,
    port: int | None,
    capacity: int | None,
    plugin_args: tuple[str, ...],
    log_level: str | None,
    verbose: int,
    log_format: str | None,
) -> None:
    """Serve many conversations: join each one the control API (or a webhook) asks for,
    as the serve: section of CONFIG says. Needs the extra: pip install 'cvibot[serve]'.

    POST /v1/conversations {conversation_url} joins a conversation; GET /readyz,
    /capacity and /metrics are for probes and scrapers. SIGINT or SIGTERM drains:
    no new conversations, then serve.on_drain (finish: wait up to serve.drain_timeout;
    handoff: give them back at once); a second signal exits at once (status 130).
    """
    from cvibot._cli.serve_cmd import run_serve

    _exit(
        run_serve(
            config,
            overrides={"host": host, "port": port, "capacity": capacity},
            plugin_args=plugin_args,
            log_level=log_level,
            verbose=verbose,
            log_format=log_format,
        )
    )


cli.add_command(console)
cli.add_command(dev)
cli.add_command(plugins)
cli.add_command(new)
cli.add_command(tools)


def main() -> None:
    """Console-script entry point.

    Standard output is guarded first (:func:`cvibot._cli.process.guard_stdout`), so that a
    reader that goes away (``cvibot … | head -1``) ends any command quietly: no
    ``BrokenPipeError`` traceback, exit status 141 instead of 0.
    """
    from cvibot._cli.process import guard_stdout, own_process

    own_process()
    guard_stdout()
    try:
        cli(prog_name="cvibot")
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            _exit(exc.code or 0)
        raise
