"""The live transport: one Daily room, joined with daily-python, on the app-message channel.

Tavus broadcasts its events as Daily app-messages and reads the bot's interactions from
the same channel (protocol reference §1). This transport joins the conversation's room
(``conversation_url``) as a participant that subscribes to no media and publishes none,
delivers every inbound app-message and participant change to the session, and sends the
session's messages. How the SDK behaves, and therefore why the code is shaped like this,
is in the project's notes on daily-python, ``daily-python.md`` (cited as §N below).

:class:`DailyTransport` composes the parts: :class:`.call.Call` (the SDK client's
requests), :class:`.connection.Connection` (joined, dropped and rejoined, ended, closed),
:class:`.inbox.Inbox` (inbound delivery) and :class:`.outbox.Outbox` (the send path).

Threads: SDK callbacks only hand off to the loop (:mod:`.bridge`); every receiver call
and every state change happens on the loop thread. ``participants()`` is never called
(§0.2: it holds the GIL for up to 19 s during a join); participants come from the join
completion's data and from the participant events.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import structlog

from cvibot._participants import Participant, ParticipantChange
from cvibot._protocol.interactions import DEFAULT_MESSAGE_LIMIT
from cvibot.transports._base import Receiver, Transport, TransportError
from cvibot.transports._daily.call import Call
from cvibot.transports._daily.connection import Connection
from cvibot.transports._daily.inbox import Inbox
from cvibot.transports._daily.options import DailyOptions, ReconnectPolicy
from cvibot.transports._daily.outbox import Outbox
from cvibot.transports._daily.room import RoomAddress
from cvibot.transports._daily.sdk import ensure_initialised, load_sdk
from cvibot.transports._daily.sdk_errors import ConnectionLost

__all__ = ["DailyTransport", "ReconnectPolicy"]

_CHANGES: dict[str, ParticipantChange] = {
    "participant_joined": "joined",
    "participant_updated": "updated",
    "participant_left": "left",
}


class DailyTransport(Transport):
    """One Daily room (one Tavus conversation) through one daily-python ``CallClient``.

    ``conversation_url`` is the room (``https://tavus.daily.co/<conversation_id>``);
    ``meeting_token`` the Daily token of a private room (never logged, and redacted
    from error strings); ``user_name`` the bot's participant name. Times are seconds:
    ``join_timeout`` bounds each join (ours: the SDK only gives up after ~19 s, §4),
    ``leave_timeout`` the leave at :meth:`close`, ``release_timeout`` how long
    :meth:`close` waits for the client's release, ``send_timeout`` one app-message's
    confirmation. ``message_limit`` is the largest app-message in bytes of compact
    UTF-8 JSON (Daily documents 4 KB, §4). ``reconnect`` governs rejoins after a drop.
    ``sdk`` is the ``daily`` module (imported when :meth:`open` runs) or a stand-in
    such as :class:`doubles.fake_daily.FakeDaily`.

    Many instances may share one process and one loop; ``Daily.init()`` runs once.
    Raises ``ValueError`` for a non-positive timeout or limit, or an empty ``user_name``.
    """

    name = "daily"
    identifies_senders = True

    def __init__(
        self,
        conversation_url: str,
        *,
        meeting_token: str | None = None,
        user_name: str = "cvibot",
        join_timeout: float = 15.0,
        leave_timeout: float = 5.0,
        release_timeout: float = 5.0,
        send_timeout: float = 5.0,
        message_limit: int = DEFAULT_MESSAGE_LIMIT,
        reconnect: ReconnectPolicy | None = None,
        sdk: Any = None,
    ) -> None:
        for label, value in (
            ("join_timeout", join_timeout),
            ("leave_timeout", leave_timeout),
            ("release_timeout", release_timeout),
            ("send_timeout", send_timeout),
            ("message_limit", message_limit),
        ):
            if not value > 0:
                raise ValueError(f"{label} must be greater than 0, not {value!r}")
        if not isinstance(user_name, str) or not user_name:
            raise ValueError("user_name must be a non-empty string")
        address = RoomAddress(conversation_url, meeting_token)
        self.url = conversation_url
        self.room = address.display
        self.user_name = user_name
        self.join_timeout = join_timeout
        self.leave_timeout = leave_timeout
        self.release_timeout = release_timeout
        self.send_timeout = send_timeout
        self.message_limit = message_limit
        self.reconnect = reconnect or ReconnectPolicy()
        self._address = address
        self._sdk = sdk
        log: structlog.typing.FilteringBoundLogger = structlog.get_logger("cvibot.daily").bind(
            room=self.room
        )
        self._inbox = Inbox(log)
        self._outbox = Outbox(
            message_limit=message_limit, send_timeout=send_timeout, redact=address.redact, log=log
        )
        call = Call(
            address,
            user_name=user_name,
            join_timeout=join_timeout,
            leave_timeout=leave_timeout,
            release_timeout=release_timeout,
            log=log,
        )
        self._connection = Connection(
            call, address, reconnect=self.reconnect, inbox=self._inbox, outbox=self._outbox, log=log
        )

    @classmethod
    def from_options(
        cls,
        conversation_url: str,
        options: DailyOptions,
        *,
        meeting_token: str | None = None,
        message_limit: int = DEFAULT_MESSAGE_LIMIT,
        sdk: Any = None,
    ) -> DailyTransport:
        """The transport that ``options`` (the config's Daily section) describe.

        ``meeting_token`` is used when the options set none (a created private
        conversation's token); every other field of :class:`DailyOptions` is passed as the
        keyword argument of the same name.
        """
        settings = {name: getattr(options, name) for name in DailyOptions.model_fields}
        configured = settings.pop("meeting_token")
        token = configured.get_secret_value() if configured is not None else None
        return cls(
            conversation_url,
            meeting_token=token or meeting_token,
            message_limit=message_limit,
            sdk=sdk,
            **settings,
        )

    def describe(self) -> str:
        return f"daily {self.room} as {self.user_name}"

    async def open(self) -> None:
        """Join the room; return once joined (the participants of the join data are
        then queued for :meth:`run`, before any message).

        Raises, all :class:`TransportError`: :class:`.sdk_errors.InvalidRoomUrl` at once for
        a URL that is not http(s) with a host (no SDK call); :class:`.sdk_errors.JoinTimeout`
        after ``join_timeout`` s; :class:`.sdk_errors.RoomUnreachable`,
        :class:`.sdk_errors.InvalidClientSettings`, :class:`.sdk_errors.RoomEnded` or
        :class:`.sdk_errors.JoinFailed` with the SDK's string as ``.raw``. A failed open has
        already released the client (in the background, see :meth:`close`).
        """
        if self._connection.state != "new":
            raise TransportError("this daily transport was opened before; use one per conversation")
        self._address.check()
        sdk = self._sdk if self._sdk is not None else load_sdk()
        ensure_initialised(sdk)
        await self._connection.open(sdk, self._on_event, self._inbox.message)

    async def run(self, receiver: Receiver) -> None:
        """Deliver inbound app-messages and participant changes to ``receiver``.

        Every call happens on the loop thread, in the order the SDK emitted the events:
        ``receiver.on_message(message, sender, received_at)`` (``received_at`` is
        ``time.time()`` in s when the SDK handed the message over) and
        ``receiver.on_participant(change, participant, reason, received_at)``; the
        participants present at the join first. Events from before ``run`` were kept
        and come first. Returns when :meth:`close` is called, the room ends or the
        receiver closes; raises :class:`.sdk_errors.ConnectionLost` when a rejoin gave up.
        """
        if self._inbox.started:
            raise TransportError("run() was already called on this daily transport")
        if self._connection.state == "new":
            raise TransportError("open() the daily transport before run()")
        await self._inbox.run(receiver)
        failure = self._connection.failure
        if failure is not None and self._connection.state != "closed":
            raise failure

    async def send(self, message: Mapping[str, Any], to: str | None = None) -> None:
        """Send one app-message: to the participant ``to`` (a UUID), or to everyone.

        Checked first (:class:`.sdk_errors.InvalidAppMessage`, also a ``ValueError``: not a
        mapping, not strict JSON, over ``message_limit`` bytes, ``to`` not a UUID).
        Before the join completes, or during a rejoin, the message waits in a queue and
        goes out in order once joined; then ``send_timeout`` s bound the SDK's
        confirmation. Raises :class:`.sdk_errors.NotJoined` (channel not open),
        :class:`.sdk_errors.SendFailed` (an SDK error or no confirmation in time),
        :class:`.sdk_errors.ConnectionLost` when the rejoin it waited for failed, and
        :class:`TransportError` once the room ended, the bot left it while disconnected
        (:meth:`stop_rejoining`) or the transport is closed.
        """
        self._check_sendable()
        await self._outbox.send(message, to)

    def send_nowait(
        self, message: Mapping[str, Any], to: str | None = None
    ) -> asyncio.Future[None]:
        """:meth:`send` without a coroutine: the outbox's own future of the send (the
        same checks and errors; those of the checks and of the transport's state are
        raised at once)."""
        self._check_sendable()
        return self._outbox.send(message, to)

    def _check_sendable(self) -> None:
        """Raise what a send raises at once when the transport cannot send at all."""
        state = self._connection.state
        if state == "closed":
            raise TransportError(
                f"the daily transport for {self.room} is closed; the app-message was not sent"
            )
        if state == "ended":
            failure = self._connection.failure
            if failure is not None:
                raise ConnectionLost(failure.attempts, failure.last)
            if self._connection.left_while_down:
                raise TransportError(self._connection.left_message())
            raise TransportError(f"the room {self.room} has ended; the app-message was not sent")
        if state == "new":
            raise TransportError("open() the daily transport before sending")

    def stop_rejoining(self) -> None:
        """Say the bot is leaving (it got SIGINT/SIGTERM and drains): a rejoin in
        progress is cancelled now, and a drop from now on is not rejoined.

        Either ends the stay at once: :meth:`run` returns and the sends held for the
        rejoin fail with :class:`TransportError`, so the drain is not kept waiting for
        rejoin attempts (up to ``max_attempts`` × ``join_timeout`` s) that would only
        deliver answers to a conversation the bot is leaving. While joined nothing
        changes: answers still go out, and :meth:`close` leaves. Idempotent.
        """
        self._connection.stop_rejoining()

    def leaving(self) -> None:
        """The bot is leaving: :meth:`stop_rejoining`."""
        self.stop_rejoining()

    async def close(self) -> None:
        """Stop delivering, leave the room if in it, release the client; idempotent.

        The leave is bounded by ``leave_timeout`` s and the release (in a daemon
        thread, §4 "Process exit") by ``release_timeout`` s, or not waited for at all
        while a join is still pending in the SDK (the release waits for that join); a
        slow SDK is logged, never raised (see :func:`.release.pending_releases`).
        Queued sends fail with :class:`TransportError`.
        """
        await self._connection.close()

    def _on_event(self, kind: str, args: tuple[Any, ...], received_at: float) -> None:
        # On the loop (see .bridge for the kinds and their arguments).
        # App-messages go straight to the inbox (bridge.AppMessageHandoff).
        if (change := _CHANGES.get(kind)) is not None:
            participant = Participant.from_daily(args[0])
            if participant is not None:
                reason = args[1] if len(args) > 1 and isinstance(args[1], str) else None
                self._inbox.participant(change, participant, reason, received_at)
        elif kind == "call_state":
            self._connection.on_call_state(str(args[0]))
        elif kind == "network":
            self._connection.on_network(args[0])
        elif kind == "error":
            self._connection.on_error(str(args[0]))
