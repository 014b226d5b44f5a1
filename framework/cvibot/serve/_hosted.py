"""The transport of a hosted conversation: the job's own transport, watched by the host.

:class:`HostedTransport` wraps the transport the host's factory made for a job and tells
the host what :meth:`cvibot._runtime.Bot.run` does not: when the room is joined (the
state becomes ``active``), which session receives the conversation (so that the host can
stop that one conversation), and each send that failed (a metric).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from cvibot.transports._base import Receiver, Transport

__all__ = ["HostedTransport"]


class HostedTransport(Transport):
    """``inner`` with three callbacks: ``on_open()`` (awaited once ``inner.open()``
    returned), ``on_receiver(receiver)`` (when delivery starts: the session) and
    ``on_send_failed(exc)`` (a send raised; the exception still propagates)."""

    def __init__(
        self,
        inner: Transport,
        *,
        on_open: Callable[[], Awaitable[None]],
        on_receiver: Callable[[Receiver], None],
        on_send_failed: Callable[[BaseException], None],
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.identifies_senders = inner.identifies_senders
        self._on_open = on_open
        self._on_receiver = on_receiver
        self._on_send_failed = on_send_failed

    async def open(self) -> None:
        await self.inner.open()
        await self._on_open()

    async def run(self, receiver: Receiver) -> None:
        self._on_receiver(receiver)
        await self.inner.run(receiver)

    async def send(self, message: Mapping[str, Any], to: str | None = None) -> None:
        try:
            await self.inner.send(message, to)
        except Exception as exc:
            self._on_send_failed(exc)
            raise

    def send_nowait(
        self, message: Mapping[str, Any], to: str | None = None
    ) -> asyncio.Future[None]:
        try:
            sent = self.inner.send_nowait(message, to)
        except Exception as exc:
            self._on_send_failed(exc)
            raise
        sent.add_done_callback(self._settled)
        return sent

    def _settled(self, sent: asyncio.Future[None]) -> None:
        if not sent.cancelled() and (exc := sent.exception()) is not None:
            self._on_send_failed(exc)

    async def close(self) -> None:
        await self.inner.close()

    def leaving(self) -> None:
        self.inner.leaving()

    def describe(self) -> str:
        return self.inner.describe()
