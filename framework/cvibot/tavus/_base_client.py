"""The request path of :class:`~cvibot.tavus._client.TavusClient`: its connection and the
one private method every endpoint call goes through, :meth:`BaseClient._request`.

``_request`` sends JSON and decodes the JSON answer, with the ``x-api-key`` header, a
per-attempt timeout, the retry rule of :mod:`cvibot.tavus._retry` (tenacity), a debug log
line per attempt (``tavus.request``: method, path, status or error, ``latency_ms``,
attempt) and a warning per retry (``tavus.retry``: ``wait_s``). A failure raises the
:mod:`cvibot.tavus._api_errors` class chosen by :mod:`cvibot.tavus._failures`.

The API key is sent only as a header. It is not kept in a readable attribute, and never
appears in ``repr(client)``, a log line or an error message (server text that echoes it
is redacted).
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
import structlog
from pydantic import BaseModel, SecretStr, ValidationError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from cvibot.tavus._api_errors import UnexpectedResponse
from cvibot.tavus._failures import server_message, status_error, unreachable
from cvibot.tavus._retry import BackoffWait, RetryPolicy, should_retry

__all__ = ["DEFAULT_BASE_URL", "BaseClient"]

DEFAULT_BASE_URL = "https://tavusapi.com/v2"
"""The production API root (protocol reference §8)."""

_M = TypeVar("_M", bound=BaseModel)


def _check_key(api_key: str) -> str:
    key = api_key.strip() if isinstance(api_key, str) else ""
    if not key:
        raise ValueError("the Tavus API key is empty")
    if not all(33 <= ord(ch) < 127 for ch in key):
        raise ValueError("the Tavus API key must be printable ASCII without spaces")
    return key


def _check_base_url(base_url: str) -> httpx.URL:
    url = httpx.URL(base_url)
    host = url.host
    loopback = host == "localhost"
    if not loopback:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
    if url.scheme == "https" or (url.scheme == "http" and loopback):
        return url
    raise ValueError(
        f"base_url must be https:// (or http:// on a loopback address), not {base_url!r}"
    )


class BaseClient:
    """The connection, lifecycle and request path of a Tavus client; the arguments are
    documented on :class:`~cvibot.tavus._client.TavusClient`, which adds the endpoints.

    Raises ``ValueError`` for an empty or non-ASCII key, a bad ``base_url`` or timeout.
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not timeout > 0:
            raise ValueError("timeout must be a positive number of seconds")
        self._key = SecretStr(_check_key(api_key))
        self._base_url = _check_base_url(base_url)
        self._timeout = float(timeout)
        self._retry = retry if retry is not None else RetryPolicy()
        self._http = httpx.AsyncClient(
            base_url=self._base_url,
            headers={
                "x-api-key": self._key.get_secret_value(),
                "accept": "application/json",
                "user-agent": "cvibot",
            },
            timeout=httpx.Timeout(self._timeout),
            transport=transport,
            follow_redirects=False,
        )
        # Bound once: the lazy proxy would rebuild a logger on every call.
        self._log: structlog.typing.FilteringBoundLogger = structlog.get_logger(
            "cvibot.tavus"
        ).bind()

    @property
    def base_url(self) -> str:
        return str(self._base_url)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, timeout={self._timeout!r}, "
            f"retry={self._retry!r})"
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool. Calls after this raise ``RuntimeError``."""
        await self._http.aclose()

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        resource: str | None = None,
        idempotent: bool = True,
    ) -> Any:
        """Send one API call with retries; the decoded JSON answer (None when empty).

        ``path`` is relative to the base URL (``"/conversations"``), already encoded;
        ``json`` is the body (omitted when None); ``resource`` names the object for a
        404 message (``"conversation 'c1'"``); ``idempotent`` selects the retry rule.
        Raises the mapped :class:`~cvibot.tavus._api_errors.TavusAPIError` of the last attempt.
        """
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._retry.attempts),
            wait=BackoffWait(self._retry),
            retry=retry_if_exception(
                lambda exc: should_retry(exc, idempotent=idempotent, policy=self._retry)
            ),
            before_sleep=lambda state: self._log_retry(state, method, path),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                response = await self._attempt(
                    method, path, json, params, resource, attempt.retry_state.attempt_number
                )
                return self._decode(response, method, path)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    async def _attempt(
        self,
        method: str,
        path: str,
        body: Any,
        params: Mapping[str, str] | None,
        resource: str | None,
        attempt: int,
    ) -> httpx.Response:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._http.request(method, path, json=body, params=params)
        except (httpx.RequestError, TimeoutError) as exc:
            self._log_attempt(method, path, attempt, started, status=None, error=type(exc).__name__)
            raise unreachable(exc, method, path, self._base_url, self._timeout, self._key) from None
        self._log_attempt(method, path, attempt, started, status=response.status_code)
        if response.is_success or response.status_code == 304:
            return response
        raise status_error(response, method, path, resource, self._key)

    def _log_attempt(
        self, method: str, path: str, attempt: int, started: float, **outcome: Any
    ) -> None:
        """``tavus.request`` at debug; ``outcome`` is ``status`` and, without an answer,
        ``error`` (the exception's class name)."""
        self._log.debug(
            "tavus.request",
            method=method,
            path=path,
            **outcome,
            latency_ms=round((time.perf_counter() - started) * 1000, 1),
            attempt=attempt,
        )

    def _log_retry(self, state: RetryCallState, method: str, path: str) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else None
        self._log.warning(
            "tavus.retry",
            method=method,
            path=path,
            attempt=state.attempt_number,
            status=getattr(exc, "status", None),
            error=type(exc).__name__ if exc is not None else None,
            wait_s=round(wait, 3) if wait is not None else None,
        )

    def _decode(self, response: httpx.Response, method: str, path: str) -> Any:
        if response.status_code in (204, 304) or not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError:
            raise UnexpectedResponse(
                "the answer is not JSON",
                status=response.status_code,
                method=method,
                path=path,
                server_message=server_message(response, self._key),
            ) from None

    def _parse(self, model: type[_M], data: Any, method: str, path: str) -> _M:
        """``data`` as ``model``; ``UnexpectedResponse`` naming the first bad field."""
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": str(exc)}
            where = ".".join(str(p) for p in first["loc"]) or "body"
            raise UnexpectedResponse(
                f"the answer is not a {model.__name__}: {where}: {first['msg']}",
                status=None,
                method=method,
                path=path,
            ) from None
