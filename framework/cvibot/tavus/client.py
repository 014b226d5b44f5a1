"""An async client of the Tavus REST API (protocol reference §8).

::

    async with TavusClient.from_env() as api:           # reads TAVUS_API_KEY
        conv = await api.create_conversation(persona_id="p123", test_mode=True)
        await api.end_conversation(conv.conversation_id)

Every call goes through one private path, :meth:`TavusClient._request`: JSON in and out,
the ``x-api-key`` header, a per-request timeout, the retry rule of
:mod:`cvibot.tavus.retry` (tenacity), a debug log line per attempt and the mapping of a
failure to one :mod:`cvibot.tavus.errors` class. A new endpoint is one short method.

The API key is sent only as a header. It is not kept in a readable attribute, and never
appears in ``repr(client)``, a log line or an error message (server text that echoes it
is redacted).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx
import structlog
from pydantic import BaseModel, SecretStr, ValidationError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from cvibot.tavus.errors import (
    BadRequest,
    MissingAPIKey,
    NotFound,
    RateLimited,
    ServerError,
    TavusAPIError,
    TavusUnreachable,
    Unauthorized,
    UnexpectedResponse,
    is_concurrency_refusal,
)
from cvibot.tavus.models import (
    Conversation,
    ConversationProperties,
    CreateConversationRequest,
    CreatePersonaRequest,
    PatchOperation,
    Persona,
    request_body,
)
from cvibot.tavus.retry import BackoffWait, RetryPolicy, parse_retry_after, should_retry

__all__ = ["API_KEY_ENV", "DEFAULT_BASE_URL", "TavusClient"]

DEFAULT_BASE_URL = "https://tavusapi.com/v2"
"""The production API root (protocol reference §8)."""

API_KEY_ENV = "TAVUS_API_KEY"
"""The environment variable :meth:`TavusClient.from_env` reads the key from."""

_MAX_SERVER_TEXT = 300  # characters of a non-JSON error body kept in a message
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError)

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


def _segment(value: str, what: str) -> str:
    """One path segment, percent-encoded so an id can never change the path."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string")
    return quote(value, safe="")


class TavusClient:
    """Async client of the documented Tavus REST endpoints (protocol reference §8.1).

    Args:
        api_key: the Tavus API key, sent as the ``x-api-key`` header.
        base_url: the API root; ``https://`` only, except ``http://`` on a loopback host
            (the local fake, :mod:`cvibot.testing.fake_tavus`).
        timeout: seconds one attempt may take in all (connect, send, wait, read).
        retry: the retry policy (:class:`~cvibot.tavus.retry.RetryPolicy`: attempts,
            backoffs in seconds). Which failures are retried depends on whether the
            request creates something; see :mod:`cvibot.tavus.retry`.
        transport: an httpx transport, e.g. ``httpx.MockTransport(handler)`` in tests.

    Raises ``ValueError`` for an empty or non-ASCII key, a bad ``base_url`` or timeout.
    Use as ``async with TavusClient(key) as api: ...`` or call :meth:`aclose`.
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

    @classmethod
    def from_env(cls, env_var: str = API_KEY_ENV, **kwargs: Any) -> Self:
        """A client whose key is the environment variable ``env_var`` (``TAVUS_API_KEY``).

        ``kwargs`` go to the constructor. Raises :class:`~cvibot.tavus.errors.MissingAPIKey`
        (a :class:`~cvibot.errors.ConfigError`) when the variable is unset or empty.
        """
        key = os.environ.get(env_var, "").strip()
        if not key:
            raise MissingAPIKey(
                f"the environment variable {env_var} is not set: "
                "set it to your Tavus API key to call the Tavus API"
            )
        return cls(key, **kwargs)

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

    # -- conversations (protocol reference §8.2, §8.3) ---------------------------------

    async def create_conversation(
        self,
        *,
        persona_id: str | None = None,
        replica_id: str | None = None,
        conversation_name: str | None = None,
        conversational_context: str | None = None,
        custom_greeting: str | None = None,
        callback_url: str | None = None,
        audio_only: bool | None = None,
        test_mode: bool | None = None,
        require_auth: bool | None = None,
        max_participants: int | None = None,
        memory_stores: Sequence[str] | None = None,
        document_ids: Sequence[str] | None = None,
        document_tags: Sequence[str] | None = None,
        document_retrieval_strategy: str | None = None,
        chat: bool | None = None,
        meeting_url: str | None = None,
        properties: ConversationProperties | Mapping[str, Any] | None = None,
    ) -> Conversation:
        """Start a conversation: ``POST /conversations`` (protocol reference §8.2).

        Only the arguments given (not None) are sent. ``properties`` holds the room
        settings (``max_call_duration`` in seconds, ``participant_left_timeout``,
        ``participant_absent_timeout``, ``enable_recording``, ``enable_closed_captions``,
        ``apply_greenscreen``, ``language``, …; unknown keys are sent as given).
        ``test_mode=True`` creates a conversation the replica never joins (status
        ``ended``, not billed).

        Returns the :class:`Conversation` (§8.3): ``conversation_id``,
        ``conversation_url`` (the Daily room), ``status``, ``meeting_token`` when
        ``require_auth``… Billing starts on creation, so a failed create is retried only
        when the failure shows Tavus did not act on it: a 429, a 503, or a connection
        that was never made (see :mod:`cvibot.tavus.retry`).

        Raises ``pydantic.ValidationError`` (a ``ValueError``) for a bad argument, and
        the :mod:`cvibot.tavus.errors` classes: ``BadRequest`` (also the "maximum
        concurrent conversations" refusal, ``err.concurrency_limit``), ``Unauthorized``,
        ``RateLimited``, ``ServerError``, ``TavusUnreachable``.
        """
        given: dict[str, Any] = {
            "persona_id": persona_id,
            "replica_id": replica_id,
            "conversation_name": conversation_name,
            "conversational_context": conversational_context,
            "custom_greeting": custom_greeting,
            "callback_url": callback_url,
            "audio_only": audio_only,
            "test_mode": test_mode,
            "require_auth": require_auth,
            "max_participants": max_participants,
            "memory_stores": memory_stores,
            "document_ids": document_ids,
            "document_tags": document_tags,
            "document_retrieval_strategy": document_retrieval_strategy,
            "chat": chat,
            "meeting_url": meeting_url,
            "properties": properties,
        }
        body = CreateConversationRequest.model_validate(
            {
                k: (list(v) if isinstance(v, Sequence) and not isinstance(v, str) else v)
                for k, v in given.items()
                if v is not None
            }
        )
        data = await self._request(
            "POST", "/conversations", json=request_body(body), idempotent=False
        )
        return self._parse(Conversation, data, "POST", "/conversations")

    async def get_conversation(
        self, conversation_id: str, *, verbose: bool = False
    ) -> Conversation:
        """One conversation: ``GET /conversations/{id}`` (protocol reference §8.3).

        ``verbose=True`` adds ``?verbose=true``: ``shutdown_reason`` and the ``events``
        (``system.replica_joined``, ``system.shutdown``, transcripts, …; §8.3, §9).
        Raises ``NotFound`` for an unknown id, and the other mapped errors.
        """
        path = f"/conversations/{_segment(conversation_id, 'conversation_id')}"
        data = await self._request(
            "GET",
            path,
            params={"verbose": "true"} if verbose else None,
            resource=f"conversation {conversation_id!r}",
        )
        return self._parse(Conversation, data, "GET", path)

    async def end_conversation(self, conversation_id: str) -> None:
        """End a conversation: ``POST /conversations/{id}/end`` (protocol reference §8.1).

        A 200 with a body and a 204 without one both succeed. Ending is safe to retry
        (it creates nothing). Raises ``NotFound`` for an unknown id.
        """
        path = f"/conversations/{_segment(conversation_id, 'conversation_id')}/end"
        await self._request(
            "POST", path, resource=f"conversation {conversation_id!r}", idempotent=True
        )

    # -- personas (protocol reference §8.1, §7) ----------------------------------------

    async def create_persona(
        self,
        *,
        persona_name: str | None = None,
        system_prompt: str | None = None,
        pipeline_mode: str | None = None,
        default_replica_id: str | None = None,
        context: str | None = None,
        layers: Mapping[str, Any] | None = None,
        document_ids: Sequence[str] | None = None,
        document_tags: Sequence[str] | None = None,
    ) -> Persona:
        """Create a persona: ``POST /personas`` (protocol reference §8.1, §7.4).

        ``pipeline_mode``: ``"full"`` (Tavus's default, needs ``system_prompt``) or
        ``"echo"``; other strings are sent as given (D14). ``layers``: the layer
        configuration, e.g. ``{"llm": {"tools": [...]}}`` (§7.1). Returns the
        :class:`Persona` (``persona_id``, ``persona_name``, ``created_at``). Not retried
        after a failure that may have created it (see :mod:`cvibot.tavus.retry`).
        """
        given: dict[str, Any] = {
            "persona_name": persona_name,
            "system_prompt": system_prompt,
            "pipeline_mode": pipeline_mode,
            "default_replica_id": default_replica_id,
            "context": context,
            "layers": dict(layers) if layers is not None else None,
            "document_ids": list(document_ids) if document_ids is not None else None,
            "document_tags": list(document_tags) if document_tags is not None else None,
        }
        body = CreatePersonaRequest.model_validate(
            {k: v for k, v in given.items() if v is not None}
        )
        data = await self._request("POST", "/personas", json=request_body(body), idempotent=False)
        return self._parse(Persona, data, "POST", "/personas")

    async def get_persona(self, persona_id: str) -> Persona:
        """The whole persona document: ``GET /personas/{id}`` (protocol reference §8.1).

        Raises ``NotFound`` for an unknown id.
        """
        path = f"/personas/{_segment(persona_id, 'persona_id')}"
        data = await self._request("GET", path, resource=f"persona {persona_id!r}")
        return self._parse(Persona, data, "GET", path)

    async def patch_persona(
        self, persona_id: str, operations: Sequence[PatchOperation | Mapping[str, Any]]
    ) -> None:
        """Apply a JSON Patch (RFC 6902) to a persona: ``PATCH /personas/{id}`` (§8.1).

        ``operations``: :class:`PatchOperation` or dicts like
        ``{"op": "replace", "path": "/layers/llm/tools", "value": [...]}``; paths must
        match the current document (read it with :meth:`get_persona`). Tavus documents
        the answer only as "OK" (a 304 when nothing changed is accepted too), so this
        returns nothing: read the result with :meth:`get_persona`.

        Raises ``ValueError`` for an empty or malformed patch, ``BadRequest`` when Tavus
        refuses it (a failed ``test``, a path that does not exist), ``NotFound``.
        """
        ops = [
            op if isinstance(op, PatchOperation) else PatchOperation.model_validate(op)
            for op in operations
        ]
        if not ops:
            raise ValueError("a JSON Patch needs at least one operation")
        path = f"/personas/{_segment(persona_id, 'persona_id')}"
        await self._request(
            "PATCH",
            path,
            json=[op.to_json() for op in ops],
            resource=f"persona {persona_id!r}",
            idempotent=False,
        )

    # -- plumbing ----------------------------------------------------------------------

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
        Raises the mapped :class:`TavusAPIError` of the last attempt.
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
            latency = round((time.perf_counter() - started) * 1000, 1)
            error = type(exc).__name__
            self._log.debug(
                "tavus.request",
                method=method,
                path=path,
                status=None,
                error=error,
                latency_ms=latency,
                attempt=attempt,
            )
            raise self._unreachable(exc, method, path) from None
        latency = round((time.perf_counter() - started) * 1000, 1)
        self._log.debug(
            "tavus.request",
            method=method,
            path=path,
            status=response.status_code,
            latency_ms=latency,
            attempt=attempt,
        )
        if response.is_success or response.status_code == 304:
            return response
        raise self._status_error(response, method, path, resource)

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

    def _redact(self, text: str) -> str:
        return text.replace(self._key.get_secret_value(), "***")

    def _unreachable(self, exc: BaseException, method: str, path: str) -> TavusUnreachable:
        host = self._base_url.copy_with(path="/", query=None)
        sent = not isinstance(exc, _NOT_SENT)
        if isinstance(exc, TimeoutError | httpx.TimeoutException):
            what = f"no answer from Tavus at {host} within {self._timeout:g} s"
        elif sent:
            what = f"the connection to Tavus at {host} failed during the request"
        else:
            what = f"could not connect to Tavus at {host}"
        detail = self._redact(" ".join(str(exc).split()))
        detail = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
        return TavusUnreachable(f"{what} ({detail})", method=method, path=path, sent=sent)

    def _server_message(self, response: httpx.Response) -> str | None:
        text = response.text.strip()
        if not text:
            return None
        message: str | None = None
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            for key in ("message", "error", "detail"):
                value = data.get(key)
                if isinstance(value, str) and value.strip():
                    message = value
                    break
                if value not in (None, "", [], {}):
                    message = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
                    break
        # One line, whatever the server sent.
        message = self._redact(" ".join((text if message is None else message).split()))
        if len(message) > _MAX_SERVER_TEXT:
            message = message[: _MAX_SERVER_TEXT - 1] + "…"
        return message

    def _status_error(
        self, response: httpx.Response, method: str, path: str, resource: str | None
    ) -> TavusAPIError:
        status = response.status_code
        server = self._server_message(response)
        said = f" (Tavus said: {server})" if server else ""

        def error(cls: type[TavusAPIError], message: str) -> TavusAPIError:
            return cls(message, status=status, method=method, path=path, server_message=server)

        if status == 400:
            if is_concurrency_refusal(server):
                return error(
                    BadRequest,
                    "the account is at its maximum concurrent conversations; end one "
                    f"(or use test_mode) before creating another{said}",
                )
            return error(BadRequest, server or "the request was refused as invalid")
        if status in (401, 403):
            return error(Unauthorized, f"the Tavus API key was refused; check TAVUS_API_KEY{said}")
        if status == 404:
            return error(NotFound, f"{resource or 'the requested resource'} was not found{said}")
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            if is_concurrency_refusal(server):
                text = "the account is at its maximum concurrent conversations; end one first"
            else:
                text = "too many requests"
                if retry_after is not None:
                    text += f"; Tavus asks to retry after {retry_after:g} s"
            return RateLimited(
                text + said,
                status=status,
                method=method,
                path=path,
                server_message=server,
                retry_after=retry_after,
            )
        if 500 <= status < 600:
            return error(ServerError, f"Tavus failed to handle the request{said}")
        return error(TavusAPIError, server or "unexpected status")

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
                server_message=self._server_message(response),
            ) from None

    def _parse(self, model: type[_M], data: Any, method: str, path: str) -> _M:
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
