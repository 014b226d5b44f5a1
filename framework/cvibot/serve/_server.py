"""Running ``cvibot serve``: the host, its backend and the HTTP server on one event loop.

:func:`serve` is the programmatic entry (the command line, a test, a fleet worker):
it builds what the caller did not pass (the Bot, the backend, the Tavus client, the
metrics), binds the listening socket itself (a clear error when the port is taken;
port 0 takes a free one), runs uvicorn as a task of this loop with its signal handling
turned off (:class:`_Server`), and takes jobs until :meth:`Serving.drain` (SIGTERM).
The server listens before the backend starts (``/readyz`` is 503 until the backend,
Redis for a fleet, is reachable and the host takes jobs). Then it drains the host, lets
the Tavus callbacks' background work end (bounded), stops the HTTP server (``/readyz``
answers 503 until then) and closes the backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
import uvicorn

from cvibot.serve._app import ServeState, create_app
from cvibot.serve._backend import Backend
from cvibot.serve._backends import host_id, make_backend
from cvibot.serve._host import SessionHost, TransportFactory
from cvibot.serve._metrics import HostMetrics
from cvibot.serve._options import ServeOptions

if TYPE_CHECKING:
    from cvibot._runtime import Bot
    from cvibot.config import LoadedConfig
    from cvibot.tavus import TavusClient

__all__ = ["Serving", "bind", "serve"]

_HTTP_STOP = 5  # seconds open HTTP connections get once the host is done
_WEBHOOKS_SETTLE = 10.0  # seconds the callbacks' background work gets at exit


class _Server(uvicorn.Server):
    """uvicorn without its signal handling: cvibot owns SIGINT/SIGTERM and the drain."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.listening.set()


@dataclass
class Serving:
    """A running :func:`serve`, handed to ``on_started``: the ``url`` it listens on,
    the ``host``, and :meth:`drain` (what SIGTERM does)."""

    url: str
    host: SessionHost
    state: ServeState

    def drain(self) -> None:
        self.host.drain()


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (IPv4 or IPv6; ``SO_REUSEADDR``).
    Raises ``OSError`` when the address cannot be bound."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(2048)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _tavus_client(bot: Bot) -> TavusClient | None:
    """The config's Tavus client when an API key is set (config or ``TAVUS_API_KEY``)."""
    cfg = bot.config.tavus
    key = cfg.api_key.get_secret_value() if cfg.api_key else os.environ.get("TAVUS_API_KEY", "")
    if not key.strip():
        return None
    from cvibot._cli.live import tavus_client

    return tavus_client(bot, "cvibot serve")


async def serve(
    loaded: LoadedConfig,
    *,
    bot: Bot | None = None,
    options: ServeOptions | None = None,
    transport_factory: TransportFactory | None = None,
    backend: Backend | None = None,
    tavus: TavusClient | None = None,
    sock: socket.socket | None = None,
    on_started: Callable[[Serving], Any] | None = None,
) -> None:
    """Serve conversations as ``loaded``'s config says until drained.

    ``bot`` (default ``Bot.from_config(loaded)``), ``options`` (default the config's
    ``serve:`` section), ``transport_factory`` (default: Daily rooms), ``backend``
    (default :func:`~cvibot.serve._backends.make_backend`), ``tavus`` (default: the
    config's client when an API key is set) and ``sock`` (default: bound to
    ``options.host:port``) replace what they name. ``on_started(serving)`` is called
    once the HTTP server listens and the host takes jobs; call ``serving.drain()`` (or
    send SIGTERM through :class:`cvibot.serve._signals.DrainOnSignal`) to end.

    Raises ``OSError`` when the address cannot be bound, :class:`BackendError` when the
    backend cannot start or fails while serving (after leaving every conversation).
    """
    from cvibot._runtime import Bot

    log = structlog.get_logger("cvibot.serve")
    options = options or loaded.config.serve or ServeOptions()
    bot = bot or Bot.from_config(loaded)
    own_tavus = tavus is None
    tavus = tavus if tavus is not None else _tavus_client(bot)
    backend = backend or make_backend(options, host=host_id())
    sock = sock or bind(options.host, options.port)
    metrics: HostMetrics | None = None
    try:
        watchdog = bot.watchdog
        metrics = HostMetrics(
            capacity=options.capacity,
            limit=options.limit,
            tools=bot.tools,
            active=lambda: host.active,
            loop_lag=lambda: watchdog.lag if watchdog is not None else 0.0,
        )
        host = SessionHost(
            bot,
            backend,
            options,
            transport_factory=transport_factory,
            tavus=tavus,
            listeners=[metrics],
            events=metrics,
        )
        state = ServeState(host, backend, options, metrics, bot, tavus)
        config = uvicorn.Config(
            create_app(state),
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=_HTTP_STOP,
        )
        server = _Server(config)
        # Listening first: /livez answers and /readyz says 503 while the backend connects
        # (Redis); the host takes jobs, and /readyz turns 200, once start() succeeded.
        http = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
        try:
            listening = asyncio.ensure_future(server.listening.wait())
            await asyncio.wait({http, listening}, return_when=asyncio.FIRST_COMPLETED)
            listening.cancel()
            if not server.listening.is_set():
                http.result()  # uvicorn failed to start: raise its error
                raise RuntimeError("the HTTP server stopped before it started")
            await backend.start()
            running = host.run()
            hosting = asyncio.ensure_future(running)
            await asyncio.sleep(0)  # the host takes jobs: ready
            address = sock.getsockname()
            url = f"http://{_url_host(address[0])}:{address[1]}"
            log.info(
                "serving",
                url=url,
                capacity=options.capacity,
                limit=options.limit,
                backend=backend.name,
                tools=sorted(bot.tools),
            )
            if on_started is not None:
                on_started(Serving(url, host, state))
            await hosting
        finally:
            if state.webhooks is not None and state.webhooks.pending:
                # What callbacks started (joins, stops, the cvibot_webhook hook) still
                # needs the backend: let it end, within bounds.
                try:
                    async with asyncio.timeout(_WEBHOOKS_SETTLE):
                        await state.webhooks.settled()
                except TimeoutError:
                    log.warning(
                        "webhook work still running at exit", pending=state.webhooks.pending
                    )
            server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(http), _HTTP_STOP + 1)
            if not http.done():
                http.cancel()
        log.info("stopped")
    finally:
        with contextlib.suppress(Exception):
            await backend.close()
        if own_tavus and tavus is not None:
            with contextlib.suppress(Exception):
                await tavus.aclose()
        sock.close()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
