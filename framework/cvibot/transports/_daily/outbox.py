"""The send path: pre-checks, a queue while not in the room, one future per send.

The SDK does not check app-messages (§0.7: no size limit, ChannelNotOpen only in the
completion) and completes them in any order (§0.8), so each send is checked here first,
held in a queue until the bot is in the room, and settled by its own completion. A send
the SDK reports as ChannelNotOpen was not sent, so it is queued again, once: the channel
closed under it in a drop and the rejoin will reopen it. Everything here runs on the
loop thread, but a send's completion (``_Outgoing.__call__``), which only stamps it and
hands it to the loop (:mod:`.bridge`). All sends share one ``send_timeout``, so their
confirmation deadlines fall due in the order they were issued: one timer watches the
oldest (no per-send timer, unlike the tool calls' own deadlines in
:mod:`cvibot._deadlines`).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from cvibot._protocol.interactions import EncodedMessage, encode_message
from cvibot.transports._base import TransportError
from cvibot.transports._daily.bridge import poster
from cvibot.transports._daily.sdk import CallClientLike
from cvibot.transports._daily.sdk_errors import (
    InvalidAppMessage,
    NotJoined,
    SendFailed,
    send_error,
)

__all__ = ["Outbox"]


class _Outgoing:
    """One send and its one future: it settles with ``None`` (delivered) or the error.

    It is also the send's completion callable, which the SDK calls on its emitter thread
    (:meth:`__call__`): one object per send rather than a closure and its cells.
    ``deadline`` (loop time) is when the SDK must have confirmed it, set while the SDK
    holds it (``send_timeout`` after it was issued). ``retried`` is set once it was
    queued again after a ChannelNotOpen.
    """

    __slots__ = ("deadline", "done", "outbox", "payload", "retried", "seq", "to")

    def __init__(
        self, outbox: Outbox, seq: int, payload: Any, to: str | None, done: asyncio.Future[None]
    ) -> None:
        self.outbox = outbox
        self.seq = seq
        self.payload = payload
        self.to = to
        self.done = done
        self.deadline = 0.0
        self.retried = False

    def __call__(self, *args: Any) -> None:
        """The SDK's completion, on its emitter thread: stamp and hand off to the loop."""
        outbox = self.outbox
        post = outbox._post
        if post is not None:
            post(outbox._on_send_done, self, time.time(), *args)


class Outbox:
    """The bot's app-messages on their way into the room.

    It starts holding sends (the bot is joining); :meth:`open` issues them on a client,
    :meth:`hold` queues them again (a drop), :meth:`stop` fails the queue for good.
    ``message_limit`` is in bytes of compact UTF-8 JSON, ``send_timeout`` in seconds;
    ``redact`` cleans the SDK's error strings.
    """

    def __init__(
        self,
        *,
        message_limit: int,
        send_timeout: float,
        redact: Callable[[str], str],
        log: structlog.typing.FilteringBoundLogger,
    ) -> None:
        self._message_limit = message_limit
        self._send_timeout = send_timeout
        self._redact = redact
        self._log = log
        self._queue: list[_Outgoing] = []
        self._seq = 0
        self._client: CallClientLike | None = None  # set while open
        self._holding = "joining"  # why sends are queued (for the log)
        self._stopped = False
        self._valid_to: set[str] = set()  # participant ids checked already
        # The mailbox of the loop the sends are issued on (see .bridge.poster).
        self._post: Callable[..., None] | None = None
        self._post_loop: asyncio.AbstractEventLoop | None = None
        # Issued and not yet confirmed, by seq. One send_timeout for all, so insertion
        # order is deadline order: one timer, armed for the oldest, watches them all, and
        # a confirmation costs a dict pop (no heap entry or handle per send).
        self._unconfirmed: dict[int, _Outgoing] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None

    def open(self, client: CallClientLike) -> None:
        """Issue sends on ``client`` from now on, the queued ones first, in order."""
        self._client = client
        items = sorted(self._queue, key=lambda it: it.seq)
        self._queue.clear()
        if items:
            self._log.debug("sending queued app-messages", count=len(items))
        loop = asyncio.get_running_loop()
        for item in items:
            self._issue(item, loop)

    def hold(self, reason: str) -> None:
        """Queue sends from now on; ``reason`` (for the log) says why."""
        self._client, self._holding = None, reason

    def stop(self, make_error: Callable[[], TransportError]) -> None:
        """Fail every queued send with ``make_error()``; issue and re-queue nothing more."""
        self._client, self._stopped = None, True
        items, self._queue = self._queue, []
        for item in items:
            if not item.done.done():
                item.done.set_exception(make_error())

    def send(self, message: Mapping[str, Any], to: str | None) -> asyncio.Future[None]:
        """Check ``message`` and issue or queue it; return the future of its completion.

        Raises :class:`.errors.InvalidAppMessage` at once for a failed pre-check (not a
        mapping, not strict JSON, over ``message_limit`` bytes, ``to`` not a UUID). The
        future (awaited by the caller; a plain future, not a coroutine, so a send costs
        no frame of its own) settles with ``None`` once the SDK confirms delivery, or
        with :class:`.errors.InvalidAppMessage` (the SDK refused it synchronously),
        :class:`.errors.NotJoined`, :class:`.errors.SendFailed` (an SDK error, or no
        completion within ``send_timeout`` s of issuing it), :class:`TransportError` for
        a client already released, or what :meth:`stop` failed it with. Cancelling it
        withdraws a send still queued.
        """
        if to is not None and (type(to) is not str or to not in self._valid_to):
            self._check_to(to)
        if type(message) is EncodedMessage and message.bound <= self._message_limit:
            # Checked and encoded once already (encode_interaction): handed over as is,
            # a dict the SDK serialises itself; re-encoding would only repeat.
            payload: Any = message
        else:
            payload = self._encode(message)
        self._seq += 1
        loop = asyncio.get_running_loop()
        item = _Outgoing(self, self._seq, payload, to, loop.create_future())
        if self._client is not None:
            self._issue(item, loop)
        else:
            self._queue.append(item)
            self._log.debug("app-message queued until joined", seq=item.seq, state=self._holding)
        return item.done

    def _encode(self, message: Mapping[str, Any]) -> Any:
        """``message`` checked and as the SDK gets it (not yet encoded by the caller)."""
        if not isinstance(message, Mapping):
            raise InvalidAppMessage(
                f"an app-message must be a JSON object (a mapping), not {type(message).__name__}"
            )
        try:
            encoded = encode_message(message)
        except ValueError as exc:
            raise InvalidAppMessage(f"the app-message is not strict JSON: {exc}") from exc
        if len(encoded) > self._message_limit:
            raise InvalidAppMessage(
                f"the app-message is {len(encoded)} bytes, over the limit of "
                f"{self._message_limit} bytes (Daily documents 4 KB per app-message)"
            )
        # What the SDK gets is exactly the JSON that was measured (tuples become lists).
        return json.loads(encoded)

    def _check_to(self, to: Any) -> None:
        try:
            valid = isinstance(to, str) and str(uuid.UUID(to)) == to.lower()
        except ValueError:
            valid = False
        if not valid:
            raise InvalidAppMessage(f"'to' must be a participant id (a UUID), not {to!r}")
        if len(self._valid_to) >= 64:  # participants come and go: keep it small
            self._valid_to.clear()
        self._valid_to.add(to)

    def _expire_due(self) -> None:
        """The timer: fail the sends past their deadline, then watch the oldest left."""
        self._timer = None
        unconfirmed = self._unconfirmed
        if not unconfirmed:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        while unconfirmed:
            item = next(iter(unconfirmed.values()))
            if item.deadline > now:
                self._watch(loop)
                return
            del unconfirmed[item.seq]
            if not item.done.done():  # a completion arriving later finds it gone
                item.done.set_exception(
                    SendFailed(
                        "daily-python did not confirm the app-message within "
                        f"{self._send_timeout:g} s"
                    )
                )

    def _issue(self, item: _Outgoing, loop: asyncio.AbstractEventLoop) -> None:
        if item.done.done():  # the caller stopped waiting before it went out
            return
        assert self._client is not None
        if self._post is None or self._post_loop is not loop:
            self._post, self._post_loop = poster(loop), loop
        try:
            self._client.send_app_message(item.payload, item.to, completion=item)
        except RuntimeError as exc:  # "this object has already been released"
            item.done.set_exception(TransportError(f"the daily call client is gone: {exc}"))
        except Exception as exc:  # ValueError, TypeError, bare Exception (§4 table)
            item.done.set_exception(
                InvalidAppMessage(
                    f"daily-python refused the app-message: {type(exc).__name__}: {exc}", str(exc)
                )
            )
        else:
            item.deadline = loop.time() + self._send_timeout
            self._unconfirmed[item.seq] = item
            if self._timer is None or self._timer_loop is not loop:
                self._watch(loop)

    def _watch(self, loop: asyncio.AbstractEventLoop) -> None:
        """(Re)arm the timer on ``loop`` for the oldest unconfirmed send: there was none,
        or it was armed on a loop gone since."""
        if self._timer is not None:
            self._timer.cancel()
        oldest = next(iter(self._unconfirmed.values()))
        self._timer, self._timer_loop = loop.call_at(oldest.deadline, self._expire_due), loop

    def _on_send_done(self, item: _Outgoing, received_at: float, error: str | None) -> None:
        self._unconfirmed.pop(item.seq, None)
        if item.done.done():  # timed out already, or the caller stopped waiting
            return
        if error is None:
            item.done.set_result(None)
            return
        exc = send_error(self._redact(str(error)))
        if isinstance(exc, NotJoined) and not item.retried and not self._stopped:
            # Not sent (ChannelNotOpen), so sending it again cannot duplicate it.
            item.retried = True
            self._log.info("app-message queued again after a drop", seq=item.seq)
            if self._client is not None:
                self._issue(item, asyncio.get_running_loop())
            else:
                self._queue.append(item)
            return
        item.done.set_exception(exc)
