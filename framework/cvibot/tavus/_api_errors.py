"""The errors of the Tavus REST client, one class per kind of failure.

The classes, all under :class:`cvibot._errors.CvibotError` (whose module draws the whole
tree): :class:`TavusAPIError` (any failed call: status, method, path, message) and one
subclass per kind of failure, plus :class:`MissingAPIKey`, a
:class:`~cvibot._errors.ConfigError` (``TAVUS_API_KEY`` is not set).

The documented error answers are a JSON object with a ``message`` (sometimes ``error``)
key (protocol reference §8.3: "400 invalid body, 401 missing/invalid key, quota/concurrency
refusals"). ``str(err)`` is one line, e.g.
``Tavus API POST /conversations: 400 Bad Request: invalid persona_id``. No message ever
holds the API key: the client redacts it from server text before building the error.
"""

from __future__ import annotations

from http import HTTPStatus

from cvibot._errors import ConfigError, CvibotError

__all__ = [
    "BadRequest",
    "Conflict",
    "MissingAPIKey",
    "NotFound",
    "RateLimited",
    "ServerError",
    "TavusAPIError",
    "TavusUnreachable",
    "Unauthorized",
    "UnexpectedResponse",
    "is_concurrency_refusal",
]

_CONCURRENCY_PHRASE = "maximum concurrent conversations"


def is_concurrency_refusal(server_message: str | None) -> bool:
    """Whether a server message is the "maximum concurrent conversations" refusal (§8.3)."""
    return server_message is not None and _CONCURRENCY_PHRASE in server_message.lower()


class TavusAPIError(CvibotError):
    """A Tavus REST call failed.

    Attributes:
        status: the HTTP status, ``None`` when no answer arrived.
        method: ``"GET"``, ``"POST"``, ``"PATCH"`` …
        path: the API path without the base URL or query string, e.g.
            ``"/conversations/c123/end"``.
        message: the human explanation (what ``str()`` shows after the location).
        server_message: the server's own message (the body's ``message``/``error`` key, or
            its trimmed text), ``None`` when there was none.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        method: str = "",
        path: str = "",
        server_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.method = method
        self.path = path
        self.server_message = server_message

    @property
    def reason(self) -> str:
        """The status line's reason for the status (``"Bad Request"``), ``""`` if none."""
        if self.status is None:
            return ""
        try:
            return HTTPStatus(self.status).phrase
        except ValueError:
            return ""

    def __str__(self) -> str:
        where = f"Tavus API {self.method} {self.path}".rstrip()
        if self.status is not None:
            where += f": {self.status} {self.reason}".rstrip()
        return f"{where}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, method={self.method!r}, "
            f"path={self.path!r}, message={self.message!r})"
        )


class BadRequest(TavusAPIError):
    """400: the body was refused; or the account is at its concurrent-conversation limit.

    ``concurrency_limit`` is true for the "maximum concurrent conversations" refusal.
    """

    @property
    def concurrency_limit(self) -> bool:
        return is_concurrency_refusal(self.server_message)


class Unauthorized(TavusAPIError):
    """401 or 403: the Tavus API key was refused."""


class NotFound(TavusAPIError):
    """404: the named resource (conversation, persona, …) does not exist."""


class Conflict(TavusAPIError):
    """409: the request clashes with what exists, such as a tool name already taken in
    the account (names are unique per account, protocol reference §7.2)."""


class RateLimited(TavusAPIError):
    """429: too many requests, or (reportedly) the concurrent-conversation limit.

    ``retry_after`` is the server's ``Retry-After`` in seconds, ``None`` if absent.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = 429,
        method: str = "",
        path: str = "",
        server_message: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            message, status=status, method=method, path=path, server_message=server_message
        )
        self.retry_after = retry_after

    @property
    def concurrency_limit(self) -> bool:
        return is_concurrency_refusal(self.server_message)


class ServerError(TavusAPIError):
    """5xx: Tavus failed to handle the request."""


class TavusUnreachable(TavusAPIError):
    """No HTTP answer: the connection failed, timed out or was dropped (``status`` is None).

    ``sent`` is false when the request certainly never reached the server (connect
    error, connect or pool timeout), true when it may have been received (read/write
    timeout, dropped connection).
    """

    def __init__(self, message: str, *, method: str = "", path: str = "", sent: bool) -> None:
        super().__init__(message, status=None, method=method, path=path)
        self.sent = sent


class UnexpectedResponse(TavusAPIError):
    """A success status whose body is not JSON, or lacks a documented required key."""


class MissingAPIKey(ConfigError):
    """The environment variable holding the Tavus API key is unset or empty."""
