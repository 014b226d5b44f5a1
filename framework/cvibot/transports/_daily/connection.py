"""The transport's stay in the room: joined, dropped and rejoined, ended, closed.

- The room is over when the call state becomes ``left`` without a leave of ours after
  an ``on_error`` that :func:`.errors.is_room_end` recognises (ejected, meeting ended,
  room deleted, expired: the exact strings are unverified offline), or when a rejoin is
  refused for such a reason.
- Any other unexpected ``left``, or a network status of ``disconnected``/``failed``, is
  a drop: :class:`Connection` rejoins with exponential backoff (tenacity) as its
  :class:`ReconnectPolicy` allows, holding sends meanwhile, and gives up with
  :class:`.errors.ConnectionLost`. The receiver (the session, which dedupes tool calls
  by ``tool_call_id``) survives the rejoin, and nothing delivered before is delivered
  again (the :class:`.inbox.Inbox` remembers the participants it reported).
- Once the bot is leaving (:meth:`Connection.stop_rejoining`, on SIGINT/SIGTERM) a
  rejoin in progress is cancelled and a later drop is not rejoined: the stay ends as if
  the room had ended, and the sends held for the rejoin fail at once instead of keeping
  the process alive for the rejoin's attempts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any, Literal

import structlog
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from cvibot.transports._base import TransportError
from cvibot.transports._daily.bridge import AppMessageHandoff, Handoff
from cvibot.transports._daily.call import Call
from cvibot.transports._daily.inbox import Inbox
from cvibot.transports._daily.options import ReconnectPolicy
from cvibot.transports._daily.outbox import Outbox
from cvibot.transports._daily.room import RoomAddress
from cvibot.transports._daily.sdk_errors import (
    ConnectionLost,
    InvalidClientSettings,
    InvalidRoomUrl,
    JoinFailed,
    RoomEnded,
    is_room_end,
    short,
    strip_context,
)

__all__ = ["Connection", "State"]

State = Literal["new", "joining", "joined", "reconnecting", "ended", "closed"]

_DROPPED = frozenset({"disconnected", "failed"})


def _status_word(status: Any) -> str:
    # The docstring says a mapping ("NetworkConnectionStatus", undocumented), the brief
    # and older docs a string: accept both, looking at the usual keys.
    if isinstance(status, str):
        return status.lower()
    if isinstance(status, Mapping):
        for key in ("event", "status", "state"):
            value = status.get(key)
            if isinstance(value, str):
                return value.lower()
    return ""


def _worth_retrying(exc: BaseException) -> bool:
    return isinstance(exc, JoinFailed) and not isinstance(
        exc, InvalidRoomUrl | InvalidClientSettings | RoomEnded
    )


class Connection:
    """One room, from the first join to :meth:`close`; owns :attr:`state`.

    ``state`` goes ``new`` → ``joining`` → ``joined``, then ``reconnecting`` and back on
    a drop, and ends ``ended`` (the room is over, or rejoining gave up: then
    :attr:`failure` is set) or ``closed``. Each change drives the parts: the outbox
    issues sends only while ``joined``, the inbox stops at the end.
    """

    def __init__(
        self,
        call: Call,
        address: RoomAddress,
        *,
        reconnect: ReconnectPolicy,
        inbox: Inbox,
        outbox: Outbox,
        log: structlog.typing.FilteringBoundLogger,
    ) -> None:
        self.state: State = "new"
        self.failure: ConnectionLost | None = None
        self.left_while_down = False  # ended by stop_rejoining, not by the room
        self._call = call
        self._address = address
        self._reconnect = reconnect
        self._inbox = inbox
        self._outbox = outbox
        self._log = log
        self._end_error: str | None = None  # an on_error that said the room is over
        self._rejoin_task: asyncio.Task[None] | None = None
        self._leaving = False

    async def open(self, sdk: Any, target: Handoff, app_message: AppMessageHandoff) -> None:
        """Create the call client (its events to ``target``, its app-messages to
        ``app_message``) and join; see
        :meth:`cvibot.transports._daily.DailyTransport.open`. A failure closes first."""
        self.state = "joining"
        try:
            self._call.start(sdk, target, app_message, self._accept_join)
            await self._join(attempt=1)
        except BaseException:
            await self.close()
            raise

    async def _join(self, *, attempt: int) -> None:
        latency_ms = await self._call.join(attempt=attempt)
        self._log.info(
            "joined the room",
            attempt=attempt,
            latency_ms=latency_ms,
            participants=self._inbox.present,
        )

    def _accept_join(self, data: Mapping[str, Any], received_at: float) -> JoinFailed | None:
        if self.state not in ("joining", "reconnecting"):
            # A join we gave up on (close() releases the client); if open() still waits
            # for it, it must not report success on a closed transport.
            return JoinFailed(f"the transport closed while joining {self._address.display}")
        self.state = "joined"
        self._inbox.joined(data.get("participants"), received_at)
        self._outbox.open(self._call.client)
        return None

    # -- what the SDK reports ---------------------------------------------------------------

    def on_call_state(self, state: str) -> None:
        self._call.call_state = state
        self._log.debug("call state", state=state)
        if state == "left" and self.state == "joined":
            self._lost("the call state became 'left' without a leave")

    def on_network(self, status: Any) -> None:
        word = _status_word(status)
        self._log.debug("network connection status", status=word or repr(status))
        if word in _DROPPED and self.state == "joined":
            self._lost(f"network connection {word}")

    def on_error(self, message: str) -> None:
        text = self._address.redact(message)
        inner = strip_context(text)
        if text.startswith(("Error handling sendAppMessage", "Error handling join")):
            self._log.debug("daily-python error", error=short(text))  # raised/logged already
        elif is_room_end(inner):
            self._end_error = inner
            self._log.warning("daily-python reports the room is over", error=short(inner))
            if self.state == "reconnecting":
                self._room_over(inner)
        else:
            self._log.warning("daily-python error", error=short(text))

    # -- drops, rejoins, the end ------------------------------------------------------------

    def stop_rejoining(self) -> None:
        """The bot is leaving: cancel a rejoin in progress and rejoin no more.

        While joined nothing changes (sends go out, :meth:`close` leaves); a rejoin in
        progress, or a later drop, ends the stay at once: the inbox ends (so the
        transport's ``run`` returns) and held sends fail with :class:`TransportError`.
        Idempotent; does nothing once ended or closed.
        """
        self._leaving = True
        if self.state == "reconnecting":
            self._left_while_down("the bot is leaving")

    def _lost(self, reason: str) -> None:
        if self._end_error is not None:
            self._room_over(self._end_error)
            return
        self._log.warning(
            "lost the connection to the room",
            reason=reason,
            reconnect=self._reconnect.enabled and not self._leaving,
        )
        if self._leaving:
            self._left_while_down(reason)
            return
        if not self._reconnect.enabled:
            self._fail(ConnectionLost(0))
            return
        self.state = "reconnecting"
        self._outbox.hold("reconnecting")
        self._rejoin_task = asyncio.get_running_loop().create_task(self._rejoin())

    async def _rejoin(self) -> None:
        policy = self._reconnect
        started = time.perf_counter()
        attempts = 0
        try:
            retrying = AsyncRetrying(
                stop=stop_after_attempt(policy.max_attempts),
                wait=wait_exponential_jitter(
                    multiplier=2 * policy.initial_backoff,
                    max=policy.max_backoff,
                    jitter=policy.initial_backoff / 2,
                ),
                retry=retry_if_exception(_worth_retrying),
                before_sleep=lambda state: self._log.info(
                    "rejoin attempt failed; retrying",
                    attempt=state.attempt_number,
                    wait_s=round(state.next_action.sleep, 3) if state.next_action else None,
                ),
                reraise=True,
            )
            await asyncio.sleep(policy.initial_backoff)
            async for attempt in retrying:
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    if self._end_error is not None:
                        raise RoomEnded(self._end_error, self._end_error, self._address.display)
                    self._log.info("rejoining the room", attempt=attempts)
                    # A drop seen only in the network status leaves the SDK in the call,
                    # where a join fails with "already in a call".
                    if self._call.in_call:
                        await self._call.leave()
                    await self._join(attempt=attempts)
        except RoomEnded as exc:
            self._room_over(exc.raw or str(exc))
        except Exception as exc:  # the last attempt's error, one not worth retrying, a bug
            self._fail(ConnectionLost(attempts, exc))
        else:
            self._log.info(
                "rejoined the room",
                attempts=attempts,
                downtime_ms=round((time.perf_counter() - started) * 1000, 1),
            )

    def _left_while_down(self, reason: str) -> None:
        if self.state in ("ended", "closed"):
            return
        self.state = "ended"
        self.left_while_down = True
        self._cancel_rejoin()
        self._log.info("not rejoining the room: the bot is leaving", reason=reason)
        self._outbox.stop(lambda: TransportError(self.left_message()))
        self._inbox.end()

    def left_message(self) -> str:
        """Why a send fails after :meth:`stop_rejoining` ended the stay."""
        return (
            f"the bot left {self._address.display} while disconnected; the app-message was not sent"
        )

    def _room_over(self, text: str) -> None:
        if self.state in ("ended", "closed"):
            return
        self.state = "ended"
        self._cancel_rejoin()
        self._log.info("the room ended", error=short(text))
        room = self._address.display
        self._outbox.stop(
            lambda: TransportError(f"the room {room} has ended; the app-message was not sent")
        )
        self._inbox.end()

    def _fail(self, error: ConnectionLost) -> None:
        if self.state in ("ended", "closed"):
            return
        self.state = "ended"
        self.failure = error
        self._cancel_rejoin()
        self._log.error("giving up on the room", error=str(error))
        self._outbox.stop(lambda: ConnectionLost(error.attempts, error.last))
        self._inbox.end()

    def _cancel_rejoin(self) -> None:
        task = self._rejoin_task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()

    # -- close ------------------------------------------------------------------------------

    async def close(self) -> None:
        """Stop delivering and sending, stop a rejoin, leave and release the client (see
        :meth:`cvibot.transports._daily.DailyTransport.close`); idempotent."""
        if self.state == "closed":
            return
        previous = self.state
        self.state = "closed"
        self._inbox.close()
        room = self._address.display
        self._outbox.stop(
            lambda: TransportError(
                f"the daily transport for {room} closed before the app-message was sent"
            )
        )
        task = self._rejoin_task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task})
        await self._call.close(leave=previous == "joined")
