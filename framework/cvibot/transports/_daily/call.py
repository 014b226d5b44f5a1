"""One daily-python ``CallClient`` and its requests: set-up, join, leave, release.

Joins, leaves and releases are bounded by timeouts of ours: the SDK gives up on a join
only after ~19 s offline (§4), and runs one client's requests one after another (§0.4).
So a join still pending in the SDK is waited for again rather than joined over, and a
release behind it is left to finish in the background. Runs on the loop thread;
completions come back through :func:`.bridge.to_loop`.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from cvibot.transports._daily.bridge import (
    AppMessageHandoff,
    Handoff,
    handler_class,
    settle,
    to_loop,
)
from cvibot.transports._daily.release import release_client
from cvibot.transports._daily.room import RoomAddress
from cvibot.transports._daily.sdk import CallClientLike
from cvibot.transports._daily.sdk_errors import JoinFailed, JoinTimeout, join_error, short

__all__ = ["CLIENT_SETTINGS", "SUBSCRIPTION_PROFILES", "Accept", "Call"]

# Subscribe to nothing (§6: pipecat unsubscribes camera and screen video; the bot needs
# no audio either) and publish nothing: the bot lives on the app-message channel.
SUBSCRIPTION_PROFILES: dict[str, Any] = {
    "base": {
        "camera": "unsubscribed",
        "microphone": "unsubscribed",
        "screenVideo": "unsubscribed",
        "screenAudio": "unsubscribed",
    }
}
# Keys as daily-python documents them (ClientSettings, InputSettings, PublishingSettings);
# checked against the real SDK, which rejects bad settings within ~10 ms.
CLIENT_SETTINGS: dict[str, Any] = {
    "inputs": {"camera": {"isEnabled": False}, "microphone": {"isEnabled": False}},
    "publishing": {"camera": {"isPublishing": False}, "microphone": {"isPublishing": False}},
}

Accept = Callable[[Mapping[str, Any], float], JoinFailed | None]
"""``accept(join_data, received_at)``: takes a successful join's data on the loop, before
any event the SDK emitted after the completion; returns ``None``, or the error to fail
the join with instead."""


class Call:
    """One call client in one room, joined as ``user_name``.

    Times are seconds: ``join_timeout`` bounds each :meth:`join`, ``leave_timeout`` the
    leave and ``release_timeout`` the release at :meth:`close`. ``call_state`` is the
    SDK's last reported call state (``"joined"``, ``"left"``, ...), kept by the owner
    from the call-state events.
    """

    def __init__(
        self,
        address: RoomAddress,
        *,
        user_name: str,
        join_timeout: float,
        leave_timeout: float,
        release_timeout: float,
        log: structlog.typing.FilteringBoundLogger,
    ) -> None:
        self.call_state: str | None = None
        self._address = address
        self._user_name = user_name
        self._join_timeout = join_timeout
        self._leave_timeout = leave_timeout
        self._release_timeout = release_timeout
        self._log = log
        self._client: CallClientLike | None = None
        self._accept: Accept | None = None
        self._join: asyncio.Future[JoinFailed | None] | None = None  # pending in the SDK

    @property
    def client(self) -> CallClientLike:
        """The SDK client (after :meth:`start`)."""
        assert self._client is not None
        return self._client

    @property
    def join_pending(self) -> bool:
        """True while a join is still running in the SDK (even one we stopped waiting for)."""
        return self._join is not None

    @property
    def in_call(self) -> bool:
        """True if the SDK considers itself in the call, no join pending."""
        return self._join is None and self.call_state == "joined"

    def start(
        self, sdk: Any, target: Handoff, app_message: AppMessageHandoff, accept: Accept
    ) -> None:
        """Create the client with ``sdk`` (the ``daily`` module or a stand-in), its events
        handed to ``target`` (its app-messages to ``app_message``) on the running loop and
        each successful join's data to
        ``accept``; name it and unsubscribe it from all media. Raises
        :class:`.errors.JoinFailed`; a client created before the failure is still
        released by :meth:`close`."""
        self._accept = accept
        loop = asyncio.get_running_loop()
        handler = handler_class(sdk.EventHandler)(loop=loop, target=target, app_message=app_message)
        try:
            client: CallClientLike = sdk.CallClient(event_handler=handler)
            self._client = client
            client.set_user_name(self._user_name)
            client.update_subscription_profiles(
                SUBSCRIPTION_PROFILES, completion=to_loop(loop, self._on_profiles)
            )
        except Exception as exc:
            raise JoinFailed(
                f"daily-python could not set up a call client for {self._address.display}: {exc}",
                self._address.redact(str(exc)),
                self._address.display,
            ) from exc

    def _on_profiles(self, received_at: float, error: str | None) -> None:
        if error is not None:
            self._log.warning(
                "could not unsubscribe from media", error=short(self._address.redact(str(error)))
            )

    async def join(self, *, attempt: int) -> float:
        """Join (or keep waiting for a join still pending in the SDK) for at most
        ``join_timeout`` s; ``attempt`` numbers it in the log. Returns the time waited
        in ms.

        Raises :class:`.errors.JoinTimeout`, the :class:`.errors.JoinFailed` subclass
        for the SDK's error string (:func:`.errors.join_error`), or the error the
        ``accept`` of :meth:`start` returned.
        """
        loop = asyncio.get_running_loop()
        room = self._address.display
        started = time.perf_counter()
        future = self._join
        if future is None:
            future = loop.create_future()
            self._join = future
            self._log.info("joining the room", attempt=attempt, user_name=self._user_name)
            try:
                self.client.join(
                    self._address.url,
                    self._address.token,
                    CLIENT_SETTINGS,
                    completion=to_loop(loop, functools.partial(self._on_join_done, future)),
                )
            except Exception as exc:
                self._join = None
                raise JoinFailed(
                    f"daily-python refused to join {room}: {exc}",
                    self._address.redact(str(exc)),
                    room,
                ) from exc
        else:
            # A second join would only start once this one ends (§0.4): wait for this one.
            self._log.info("still waiting for the previous join", attempt=attempt)
        finished, _ = await asyncio.wait({future}, timeout=self._join_timeout)
        latency_ms = round((time.perf_counter() - started) * 1000, 1)
        error: JoinFailed | None = (
            future.result() if finished else JoinTimeout(room, self._join_timeout)
        )
        if error is not None:
            self._log.warning(
                "join failed",
                attempt=attempt,
                latency_ms=latency_ms,
                error_type=type(error).__name__,
                error=str(error),
            )
            raise error
        return latency_ms

    def _on_join_done(
        self,
        future: asyncio.Future[JoinFailed | None],
        received_at: float,
        data: Any,
        error: str | None,
    ) -> None:
        if self._join is future:
            self._join = None
        if error is not None or not isinstance(data, Mapping):
            raw = self._address.redact(
                str(error) if error is not None else f"no join data: {data!r}"
            )
            settle(future, join_error(raw, self._address.display))
            return
        assert self._accept is not None
        settle(future, self._accept(data, received_at))

    async def leave(self) -> None:
        """Leave the room, waiting at most ``leave_timeout`` s; logs, never raises."""
        await self._leave(self.client)

    async def _leave(self, client: CallClientLike) -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[str | None] = loop.create_future()

        def left(received_at: float, error: str | None) -> None:
            settle(done, error)

        started = time.perf_counter()
        try:
            client.leave(completion=to_loop(loop, left))
        except Exception as exc:
            self._log.warning("daily-python refused to leave", error=f"{type(exc).__name__}: {exc}")
            return
        finished, _ = await asyncio.wait({done}, timeout=self._leave_timeout)
        leave_ms = round((time.perf_counter() - started) * 1000, 1)
        if not finished:
            self._log.warning("leave not confirmed in time", leave_timeout_s=self._leave_timeout)
        elif (error := done.result()) is not None:
            self._log.warning(
                "leave failed", error=short(self._address.redact(str(error))), leave_ms=leave_ms
            )
        else:
            self._log.info("left the room", leave_ms=leave_ms)

    async def close(self, *, leave: bool) -> None:
        """Leave (if ``leave``, or if the SDK says it is in the call) and release the
        client, waiting for the release at most ``release_timeout`` s; logs, never raises.

        While a join is pending in the SDK there is no leave and no wait: the release
        waits for that join (~19 s offline, §4), which would only delay the caller.
        :func:`.release.pending_releases` counts the release until it is done.
        """
        client, self._client = self._client, None
        if client is None:
            return
        if self._join is not None:
            self._log.info("releasing the daily client in the background; a join is pending")
            await release_client(client, wait=0, log=self._log)
            return
        if leave or self.call_state == "joined":
            await self._leave(client)
        await release_client(client, wait=self._release_timeout, log=self._log)
