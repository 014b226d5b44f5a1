"""Which :mod:`cvibot.tavus._api_errors` class a failed attempt becomes, and its message.

A status answer maps by status (400 → ``BadRequest``, 401/403 → ``Unauthorized``, 404 →
``NotFound``, 429 → ``RateLimited``, 5xx → ``ServerError``, any other → ``TavusAPIError``);
no answer at all is ``TavusUnreachable``. The server's text is cut to one line of at most
300 characters, with the API key replaced by ``***``.
"""

from __future__ import annotations

import json

import httpx
from pydantic import SecretStr

from cvibot.tavus._api_errors import (
    BadRequest,
    Conflict,
    NotFound,
    RateLimited,
    ServerError,
    TavusAPIError,
    TavusUnreachable,
    Unauthorized,
    is_concurrency_refusal,
)
from cvibot.tavus._retry import parse_retry_after

__all__ = ["server_message", "status_error", "unreachable"]

_MAX_SERVER_TEXT = 300  # characters of server text kept in a message
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError)


def _redact(text: str, key: SecretStr) -> str:
    """``text`` with every occurrence of the API key replaced by ``***``."""
    return text.replace(key.get_secret_value(), "***")


def server_message(response: httpx.Response, key: SecretStr) -> str | None:
    """The server's explanation: the body's ``message``, ``error`` or ``detail`` (compact
    JSON when not a string), else its text; one line, trimmed, redacted. None if empty."""
    text = response.text.strip()
    if not text:
        return None
    message: str | None = None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        for name in ("message", "error", "detail"):
            value = data.get(name)
            if isinstance(value, str) and value.strip():
                message = value
                break
            if value not in (None, "", [], {}):
                message = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
                break
    message = _redact(" ".join((text if message is None else message).split()), key)
    if len(message) > _MAX_SERVER_TEXT:
        message = message[: _MAX_SERVER_TEXT - 1] + "…"
    return message


def status_error(
    response: httpx.Response, method: str, path: str, resource: str | None, key: SecretStr
) -> TavusAPIError:
    """The error for a non-success ``response``; ``resource`` names the object of a 404
    (``"conversation 'c1'"``)."""
    status = response.status_code
    server = server_message(response, key)
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
    if status == 409:
        return error(Conflict, server or "the request conflicts with what exists")
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


def unreachable(
    exc: BaseException,
    method: str,
    path: str,
    base_url: httpx.URL,
    timeout: float,
    key: SecretStr,
) -> TavusUnreachable:
    """The error for an attempt that got no answer: ``exc`` an ``httpx.RequestError`` or
    ``TimeoutError`` (``timeout`` seconds passed); ``sent`` unless the connection was
    never made."""
    host = base_url.copy_with(path="/", query=None)
    sent = not isinstance(exc, _NOT_SENT)
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        what = f"no answer from Tavus at {host} within {timeout:g} s"
    elif sent:
        what = f"the connection to Tavus at {host} failed during the request"
    else:
        what = f"could not connect to Tavus at {host}"
    detail = _redact(" ".join(str(exc).split()), key)
    detail = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return TavusUnreachable(f"{what} ({detail})", method=method, path=path, sent=sent)
