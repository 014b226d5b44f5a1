"""Running a bot on a conversation: which room, which transport, signals, clean-up.

The command line's ``run`` and ``replay`` build a :class:`Plan` (where the messages come
from) and hand it to :func:`serve`, which owns the event loop: it creates the Tavus
conversation when the config asks for one (and ends it afterwards), installs the
SIGINT/SIGTERM handlers and runs the bot.

Stopping (:class:`_Stopper`): the first SIGINT/SIGTERM, or standard output closing
(:mod:`cvibot._cli.process`), drains: calls get ``dispatch.shutdown_grace`` seconds and each
is answered, a Daily join or rejoin in progress is cancelled. A second signal exits at
once with status 130, whenever it comes until :func:`serve` returns (while the loop is
blocked, while a created conversation is being ended). A daemon watchdog bounds the
whole stop: if the process still runs the grace plus the time the
transport's clean-up may take plus :data:`_STOP_SLACK` seconds after the first signal
(an ``async`` handler that blocks the loop, a hook that hangs), it exits with status 1.
:func:`cvibot._cli.process.exit_now` leaves with ``os._exit`` when a thread that the
interpreter would join is still running (a sync handler past its grace), so no stuck
thread outlives the stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
import structlog

from cvibot._cli.signal_watch import SignalWatcher

if TYPE_CHECKING:
    from cvibot._listening import SessionListener
    from cvibot._runtime import Bot
    from cvibot._session import Session
    from cvibot.config import DailyTransportConfig
    from cvibot.tavus import Conversation, RetryPolicy, TavusClient
    from cvibot.transports._base import Transport
    from cvibot.transports._daily import DailyTransport

__all__ = ["Plan", "StopRequested", "serve"]

_END_TIMEOUT = 10.0  # seconds for ending a created conversation at exit
_STOP_SLACK = 2.0  # seconds the watchdog adds for the loop's own teardown
EXIT_SIGNAL = 130  # a second signal, or one before the conversation started
EXIT_STUCK = 1  # the watchdog: the stop did not finish in time
_STDOUT_CLOSED = "closed stdout"


class StopRequested(Exception):
    """A signal arrived (or stdout closed) before any conversation was being served
    (while creating it or joining its room). ``exit_code``: 130 for a signal, 141 for
    a closed standard output."""

    def __init__(self, signame: str) -> None:
        from cvibot._cli.process import EXIT_STDOUT_CLOSED

        super().__init__(f"stopped by {signame} before the conversation started")
        self.signame = signame
        self.exit_code = EXIT_STDOUT_CLOSED if signame == _STDOUT_CLOSED else EXIT_SIGNAL


@dataclass
class Plan:
    """What :func:`serve` runs.

    - ``transport``: a ready transport, or ``None`` to join a Daily room: ``url``, or
      the conversation created from ``conversation.create`` when ``url`` is ``None``;
    - ``daily``: the Daily transport's settings;
    - ``conversation_id``: the conversation served (``None``: from the first event);
    - ``record``: a JSONL file that receives everything in and out.
    """

    transport: Transport | None = None
    url: str | None = None
    daily: DailyTransportConfig | None = None
    conversation_id: str | None = None
    record: Path | None = None


def _exit_quietly(code: int, line: str) -> NoReturn:
    """Write ``line`` to stderr and exit with ``code`` at once, from any thread (an
    unbuffered write; stdout flushed in a thread of its own and given half a second,
    since a writer blocked on a full pipe may hold its lock)."""
    _write_stderr(line)
    from cvibot._cli.process import flush_streams

    flusher = threading.Thread(target=flush_streams, name="cvibot-exit-flush", daemon=True)
    flusher.start()
    flusher.join(0.5)
    os._exit(code)


def _daily_transport(bot: Bot, plan: Plan, url: str, token: str | None) -> DailyTransport:
    from cvibot.transports._daily import DailyOptions, DailyTransport

    return DailyTransport.from_options(
        url,
        plan.daily or DailyOptions(),
        meeting_token=token,
        message_limit=bot.config.dispatch.message_limit,
    )


def tavus_client(
    bot: Bot, needed_for: str = "creating a conversation", retry: RetryPolicy | None = None
) -> TavusClient:
    """The REST client of the config's ``tavus`` section (key: ``tavus.api_key``, else
    ``TAVUS_API_KEY``; ``retry`` ``None`` for the client's default policy). Raises
    :class:`cvibot._errors.ConfigError` at ``tavus.api_key`` without a key, saying it is
    needed for ``needed_for``, and at ``tavus`` for settings the client refuses (the
    messages never hold the key)."""
    from cvibot.tavus import TavusClient

    cfg = bot.config.tavus
    key = cfg.api_key.get_secret_value() if cfg.api_key else os.environ.get("TAVUS_API_KEY", "")
    if not key.strip():
        raise bot.loaded.error(
            f"{needed_for} needs a Tavus API key: set TAVUS_API_KEY "
            "or tavus.api_key (as ${TAVUS_API_KEY})",
            "tavus",
            "api_key",
        )
    try:
        return TavusClient(
            key, base_url=str(cfg.base_url).rstrip("/"), timeout=cfg.timeout, retry=retry
        )
    except ValueError as exc:
        raise bot.loaded.error(str(exc), "tavus") from None


async def _create(api: TavusClient, bot: Bot) -> Conversation:
    spec = bot.config.conversation.create
    assert spec is not None
    return await api.create_conversation(
        persona_id=spec.persona_id,
        replica_id=spec.replica_id,
        conversation_name=spec.name,
        conversational_context=spec.context,
        custom_greeting=spec.greeting,
        callback_url=str(spec.callback_url) if spec.callback_url else None,
        audio_only=spec.audio_only,
        require_auth=spec.require_auth,
        test_mode=spec.test_mode or None,
        properties=spec.properties or None,
    )


async def _end(api: TavusClient, conversation_id: str) -> None:
    log = structlog.get_logger("cvibot.cli")
    try:
        await asyncio.wait_for(api.end_conversation(conversation_id), _END_TIMEOUT)
    except Exception as exc:  # the run's own outcome matters more; say what was left
        log.warning(
            "could not end the conversation", conversation_id=conversation_id, error=str(exc)
        )
        click.echo(f"warning: conversation {conversation_id} was not ended: {exc}", err=True)
    else:
        log.info("conversation ended", conversation_id=conversation_id)


class _Stopper:
    """The stop of one :func:`serve`: signals, a closed stdout, the watchdog.

    Signals are handled by a daemon thread of ours, woken through
    ``signal.set_wakeup_fd``, not by the event loop nor by a Python-level handler: the
    kernel may deliver a signal to any thread, and the main thread may be stuck (an
    ``async`` handler that blocks the loop) or asleep in ``select`` where a signal
    another thread took does not wake it. So the watchdog is armed and a second signal
    exits in every case. What touches the bot runs on the loop
    (``call_soon_threadsafe``). The watchdog allows the grace, the clean-up after the
    drain (the Daily transport's ``leave_timeout`` and ``release_timeout``, plus
    ``budget`` seconds: ending a created conversation) and :data:`_STOP_SLACK`.
    """

    def __init__(self, bot: Bot, budget: float) -> None:
        self.bot = bot
        self.received: list[str] = []
        self.daily: DailyTransport | None = None
        self._budget = budget
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._main: asyncio.Task[Any] | None = None
        self._serving = True
        self._signals = SignalWatcher(self._on_signal)
        self._forget_stdout: Callable[[], None] | None = None

    def install(self) -> None:
        """Take SIGINT and SIGTERM (main thread only); see :meth:`close`."""
        from cvibot._cli.process import on_stdout_closed

        self._signals.install()
        self._forget_stdout = on_stdout_closed(self._stdout_closed)

    def attach(self, main: asyncio.Task[Any]) -> None:
        """The loop's main task is running: stop it (now, if a signal came already)."""
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._main = main
            pending = self.received[0] if self.received else None
        if pending is not None:
            self._stop(pending)

    def detach(self) -> None:
        """Back from serving: a signal from now on (while a created conversation ends,
        the loop winds down) exits at once with 130."""
        with self._lock:
            self._serving = False
        if self._forget_stdout is not None:
            self._forget_stdout()

    def close(self) -> None:
        """Give SIGINT, SIGTERM and the wakeup fd back as they were; end the thread."""
        self._signals.close()

    def _on_signal(self, signame: str) -> None:
        with self._lock:
            again, serving = bool(self.received), self._serving
            self.received.append(signame)
            loop = self._loop
        if again:
            _exit_quietly(EXIT_SIGNAL, f"error: {signame} again: exiting now")
        if not serving:
            _exit_quietly(EXIT_SIGNAL, f"error: {signame}: exiting now")
        self._arm(signame)
        if loop is not None:
            try:
                loop.call_soon_threadsafe(self._stop, signame)
            except RuntimeError:  # the loop is closed: nothing left to drain
                _exit_quietly(EXIT_SIGNAL, f"error: {signame}: exiting now")

    def _stdout_closed(self) -> None:
        # On the writing thread (the loop's, when the transcript writes).
        with self._lock:
            if self.received or not self._serving:
                return
            self.received.append(_STDOUT_CLOSED)
            loop = self._loop
        self._arm(_STDOUT_CLOSED)
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nothing to stop
                loop.call_soon_threadsafe(self._stop, _STDOUT_CLOSED)

    def _arm(self, why: str) -> None:
        budget = self._budget
        if self.daily is not None:  # joining, or in the room: leave and release it after
            budget += self.daily.leave_timeout + self.daily.release_timeout
        limit = self.bot.config.dispatch.shutdown_grace + budget + _STOP_SLACK
        line = (
            f"error: {why}: the bot did not stop within {limit:g} s "
            "(shutdown_grace and clean-up); exiting now"
        )
        watchdog = threading.Timer(limit, _exit_quietly, (EXIT_STUCK, line))
        watchdog.daemon = True
        watchdog.name = "cvibot-stop-watchdog"
        watchdog.start()

    def _stop(self, why: str) -> None:
        # On the loop, which writes the log lines too: this line never splits one.
        if why != _STDOUT_CLOSED:
            click.echo(f"{why}: finishing running tool calls (again to quit at once)", err=True)
        if self.daily is not None:
            self.daily.stop_rejoining()
        if self.bot.stop(why if why == _STDOUT_CLOSED else f"signal {why}") == 0:
            assert self._main is not None
            self._main.cancel(why)


def _write_stderr(line: str) -> None:
    """Write ``line`` to stderr unbuffered, from any thread, between two log lines:
    structlog's ``PrintLogger`` writes a line in two calls under a lock of its own, so
    the line is written under that lock when this structlog has one (waiting at most
    half a second: its holder may be the stuck thread)."""
    lock = _stderr_lock()
    held = lock is not None and lock.acquire(timeout=0.5)
    try:
        with contextlib.suppress(OSError):
            os.write(2, (line + "\n").encode("utf-8", "replace"))
    finally:
        if held and lock is not None:
            lock.release()


def _stderr_lock() -> threading.Lock | None:
    """The lock structlog writes log lines under: that of the stream logging was
    configured with (not ``sys.stderr`` itself, which the log writer wraps)."""
    from cvibot._logging import log_writer

    try:  # a private helper of structlog (24.1+): absent elsewhere, and then no lock
        from structlog._output import _get_lock_for_file

        return _get_lock_for_file(log_writer() or sys.stderr)  # type: ignore[arg-type]
    except Exception:
        return None


def _cleanup_budget(plan: Plan) -> float:
    """Seconds the clean-up after the drain may take besides the Daily transport's own
    leave and release (which :class:`_Stopper` reads from the transport): ending a
    created conversation."""
    return _END_TIMEOUT if plan.transport is None and plan.url is None else 0.0


async def _run(
    bot: Bot,
    plan: Plan,
    listeners: Sequence[SessionListener],
    header: Callable[[str], None],
    stopper: _Stopper,
) -> Session:
    main = asyncio.current_task()
    assert main is not None
    stopper.attach(main)
    api: TavusClient | None = None
    created: Conversation | None = None
    session: Session | None = None
    try:
        transport = plan.transport
        conversation_id = plan.conversation_id
        if transport is None:
            url, token = plan.url, None
            if url is None:
                api = tavus_client(bot)
                created = await _create(api, bot)
                url, token = created.conversation_url, created.meeting_token
                conversation_id = created.conversation_id
                click.echo(
                    f"conversation {created.conversation_id}: open {url} to talk to the replica"
                )
            transport = stopper.daily = _daily_transport(bot, plan, str(url), token)
        if plan.record is not None:
            from cvibot.transports._recording import RecordingTransport

            transport = RecordingTransport(transport, plan.record)
        header(transport.describe())
        session = await bot.run(transport, listeners=listeners, conversation_id=conversation_id)
        return session
    except asyncio.CancelledError:
        if stopper.received:
            raise StopRequested(stopper.received[0]) from None
        raise
    finally:
        stopper.detach()
        if api is not None:
            spec = bot.config.conversation.create
            # After system.shutdown the conversation is over already: nothing to end.
            over = session is not None and session.stats.events["system.shutdown"] > 0
            if created is not None and spec is not None and spec.end_on_exit and not over:
                await _end(api, created.conversation_id)
            await api.aclose()


def serve(
    bot: Bot,
    plan: Plan,
    listeners: Sequence[SessionListener],
    header: Callable[[str], None],
) -> Session:
    """Run ``plan`` to its end on a new event loop; returns the session.

    Raises what :meth:`Bot.run` raises, :class:`cvibot.tavus.TavusAPIError` when the
    conversation could not be created, and :class:`StopRequested` when a signal arrived
    before the conversation started. The SIGINT/SIGTERM handlers of before are back
    when it returns.
    """
    stopper = _Stopper(bot, _cleanup_budget(plan))
    stopper.install()
    try:
        from cvibot._event_loop import loop_factory

        with asyncio.Runner(loop_factory=loop_factory()) as runner:  # CVIBOT_LOOP
            return runner.run(_run(bot, plan, listeners, header, stopper))
    finally:
        stopper.close()
