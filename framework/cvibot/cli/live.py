"""Running a bot on a conversation: which room, which transport, signals, clean-up.

The command line's ``run`` and ``replay`` build a :class:`Plan` (where the messages come
from) and hand it to :func:`serve`, which owns the event loop: it creates the Tavus
conversation when the config asks for one (and ends it afterwards), installs the
SIGINT/SIGTERM handlers (the first drains, a second exits at once) and runs the bot.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import structlog

if TYPE_CHECKING:
    from cvibot.config import DailyTransportConfig
    from cvibot.runtime import Bot
    from cvibot.session import Session, SessionListener
    from cvibot.tavus import Conversation, RetryPolicy, TavusClient
    from cvibot.transports.base import Transport

__all__ = ["Plan", "StopRequested", "exit_now", "serve"]

_END_TIMEOUT = 10.0  # seconds for ending a created conversation at exit


class StopRequested(Exception):
    """A signal arrived before any conversation was being served (while joining)."""

    def __init__(self, signame: str) -> None:
        super().__init__(f"stopped by {signame} before the conversation started")
        self.signame = signame


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


def exit_now(code: int) -> None:
    """Exit with ``code``; at once (``os._exit``) if a Daily call client is still being
    released, since the interpreter would otherwise wait for the SDK (up to ~19 s)."""
    from cvibot.transports.daily import pending_releases

    sys.stdout.flush()
    sys.stderr.flush()
    if pending_releases():
        os._exit(code)
    sys.exit(code)


def _daily_transport(bot: Bot, plan: Plan, url: str, token: str | None) -> Transport:
    from cvibot.config import DailyTransportConfig
    from cvibot.transports.daily import DailyTransport, ReconnectPolicy

    cfg = plan.daily or DailyTransportConfig(type="daily")
    configured = cfg.meeting_token.get_secret_value() if cfg.meeting_token else None
    return DailyTransport(
        url,
        meeting_token=configured or token,
        user_name=cfg.user_name,
        join_timeout=cfg.join_timeout,
        leave_timeout=cfg.leave_timeout,
        send_timeout=cfg.send_timeout,
        message_limit=bot.config.dispatch.message_limit,
        reconnect=ReconnectPolicy(
            enabled=cfg.reconnect.enabled,
            max_attempts=cfg.reconnect.max_attempts,
            initial_backoff=cfg.reconnect.initial_backoff,
            max_backoff=cfg.reconnect.max_backoff,
        ),
    )


def tavus_client(
    bot: Bot, needed_for: str = "creating a conversation", retry: RetryPolicy | None = None
) -> TavusClient:
    """The REST client of the config's ``tavus`` section (key: ``tavus.api_key``, else
    ``TAVUS_API_KEY``; ``retry`` ``None`` for the client's default policy). Raises
    :class:`cvibot.errors.ConfigError` at ``tavus.api_key`` without a key, saying it is
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


def _install_signals(bot: Bot, main: asyncio.Task[Any]) -> tuple[Callable[[], None], list[str]]:
    """First SIGINT/SIGTERM: drain (or, before any conversation, cancel the start-up);
    a second one: exit at once with status 130."""
    loop = asyncio.get_running_loop()
    received: list[str] = []

    def handle(signame: str) -> None:
        if received:
            click.echo(f"error: {signame} again: exiting now", err=True)
            sys.stdout.flush()
            os._exit(130)
        received.append(signame)
        click.echo(f"{signame}: finishing running tool calls (again to quit at once)", err=True)
        if bot.stop(f"signal {signame}") == 0:
            main.cancel(signame)

    names = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}
    for signum, signame in names.items():
        loop.add_signal_handler(signum, handle, signame)

    def remove() -> None:
        for signum in names:
            loop.remove_signal_handler(signum)

    return remove, received


async def _run(
    bot: Bot, plan: Plan, listeners: Sequence[SessionListener], header: Callable[[str], None]
) -> Session:
    main = asyncio.current_task()
    assert main is not None
    remove, signals = _install_signals(bot, main)
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
            transport = _daily_transport(bot, plan, str(url), token)
        if plan.record is not None:
            from cvibot.transports.recording import RecordingTransport

            transport = RecordingTransport(transport, plan.record)
        header(transport.describe())
        session = await bot.run(transport, listeners=listeners, conversation_id=conversation_id)
        return session
    except asyncio.CancelledError:
        if signals:
            raise StopRequested(signals[0]) from None
        raise
    finally:
        remove()
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
    before the conversation started.
    """
    return asyncio.run(_run(bot, plan, listeners, header))
