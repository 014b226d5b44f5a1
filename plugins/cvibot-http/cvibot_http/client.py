"""The one :class:`httpx.AsyncClient` the tools of one plugin instance share.

A :class:`Connection` is made when the tools are built, opened by ``cvibot_startup`` and
closed by ``cvibot_shutdown``; it may be opened again after it was closed (a bot that
runs again). The client has a bounded pool, does not follow redirects, and carries the
plugin-level headers; its repr shows none of them. While it is open, a
:class:`~cvibot_http.secrets.RedactingFilter` sits on the standard logger ``httpx``, whose
request lines show query strings.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Final

import httpx

from cvibot_http.secrets import RedactingFilter, Redactor

__all__ = ["Connection", "NotStartedError"]

_HTTPX_LOGGER: Final = "httpx"


class NotStartedError(RuntimeError):
    """A tool ran while its client was not open (``cvibot_startup`` did not run)."""


class Connection:
    """Holder of the shared client: ``headers`` go with every request (values are
    secret), ``max_connections`` bounds the pool (idle ones are kept alive too),
    ``redact`` hides the secrets in httpx's log records."""

    __slots__ = ("_client", "_filter", "_headers", "_max_connections")

    def __init__(
        self, *, headers: Mapping[str, str], max_connections: int, redact: Redactor
    ) -> None:
        self._headers = dict(headers)
        self._max_connections = max_connections
        self._filter = RedactingFilter(redact)
        self._client: httpx.AsyncClient | None = None

    @property
    def is_open(self) -> bool:
        return self._client is not None

    @property
    def client(self) -> httpx.AsyncClient:
        """The open client; raises :class:`NotStartedError` before :meth:`open`."""
        if self._client is None:
            raise NotStartedError(
                "the cvibot-http client is not open: cvibot_startup has not run (or "
                "cvibot_shutdown has)"
            )
        return self._client

    def open(self) -> None:
        """Create the client, unless it is open already. Call on the event loop."""
        if self._client is None:
            limits = httpx.Limits(
                max_connections=self._max_connections,
                max_keepalive_connections=self._max_connections,
            )
            self._client = httpx.AsyncClient(
                headers=self._headers, limits=limits, follow_redirects=False
            )
            logging.getLogger(_HTTPX_LOGGER).addFilter(self._filter)

    async def aclose(self) -> None:
        """Close the client and its connections; a closed connection may be reopened."""
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.aclose()
            finally:
                logging.getLogger(_HTTPX_LOGGER).removeFilter(self._filter)

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return (
            f"<Connection {state}, {len(self._headers)} header(s), "
            f"max_connections={self._max_connections}>"
        )
