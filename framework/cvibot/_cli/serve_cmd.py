"""``cvibot serve CONFIG``: host many conversations behind an HTTP control API.

Imported only when the command runs: Starlette, uvicorn and prometheus-client come with
the optional extra ``cvibot[serve]``, and ``cvibot --help`` must not import them.
Exit status: 0 after a drain, 1 a runtime failure (the address is taken, the backend
fails, the drain outlasted its time), 2 a config error or the extra is missing, 130 a
second SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cvibot._cli.main import EXIT_CONFIG, EXIT_RUNTIME, _fail, load_bot

if TYPE_CHECKING:
    from cvibot._runtime import Bot
    from cvibot.serve._options import ServeOptions

__all__ = ["run_serve"]

_EXTRA = ("starlette", "uvicorn", "prometheus_client", "redis")
_STOP_SLACK = 10.0  # seconds the drain watchdog adds for leaving rooms and closing


def missing_extra() -> str | None:
    """The first module of the ``serve`` extra that is not installed, else ``None``."""
    for name in _EXTRA:
        if importlib.util.find_spec(name) is None:
            return name
    return None


def options_for(bot: Bot, overrides: dict[str, Any]) -> ServeOptions:
    """The config's ``serve:`` section with the command line's ``overrides``; exits with
    status 2 when the result is not valid (``--host 0.0.0.0`` without ``api_token``)."""
    from pydantic import ValidationError

    from cvibot.serve._options import ServeOptions

    base = bot.config.serve or ServeOptions()
    given = {key: value for key, value in overrides.items() if value is not None}
    if not given:
        return base
    try:
        return ServeOptions.model_validate({**base.model_dump(), **given})
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        key = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        flags = ", ".join(f"--{name}" for name in given)
        _fail(f"{bot.loaded.path}: serve.{key}: {message} (with {flags})", EXIT_CONFIG)


def run_serve(
    config: Path,
    *,
    overrides: dict[str, Any],
    plugin_args: Sequence[str],
    log_level: str | None,
    verbose: int,
    log_format: str | None,
) -> int:
    """Load CONFIG, serve until drained; the exit status (see the module docstring)."""
    missing = missing_extra()
    if missing is not None:
        _fail(
            f"cvibot serve needs the 'serve' extra ({missing} is not installed): "
            "pip install 'cvibot[serve]'",
            EXIT_CONFIG,
        )
    import structlog

    from cvibot._event_loop import loop_factory
    from cvibot.serve._backend import BackendError
    from cvibot.serve._backends import host_id, make_backend
    from cvibot.serve._server import Serving, bind, serve
    from cvibot.serve._signals import DrainOnSignal

    log = structlog.get_logger("cvibot.cli")
    bot = load_bot(config, log_level, log_format, plugin_args, verbose=verbose)
    options = options_for(bot, overrides)
    try:
        backend = make_backend(options, host=host_id())
    except BackendError as exc:
        _fail(f"{config}: {exc}", EXIT_CONFIG)
    try:
        sock = bind(options.host, options.port)
    except OSError as exc:
        where = f"{options.host}:{options.port}"
        _fail(f"cannot listen on {where}: {exc.strerror or exc}", EXIT_RUNTIME)

    serving: list[Serving] = []

    def drain(signame: str) -> None:
        click.echo(f"{signame}: draining ({options.on_drain}; again to quit at once)", err=True)
        if serving:
            serving[0].drain()

    def started(handle: Serving) -> None:
        serving.append(handle)
        click.echo(f"cvibot serve: listening on {handle.url}", err=True)
        if signals.received:  # a signal came during start-up
            handle.drain()

    limit = options.drain_timeout + bot.config.dispatch.shutdown_grace + _STOP_SLACK
    signals = DrainOnSignal(drain, limit=limit)
    signals.install()

    async def main() -> None:
        signals.attach()
        await serve(
            bot.loaded, bot=bot, options=options, backend=backend, sock=sock, on_started=started
        )

    try:
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            runner.run(main())
    except BackendError as exc:
        _fail(str(exc), EXIT_RUNTIME)
    except Exception as exc:  # a bug: one line here, the traceback in the log
        log.exception("cvibot serve failed")
        _fail(f"{type(exc).__name__}: {exc}", EXIT_RUNTIME)
    finally:
        signals.close()
    return 0
