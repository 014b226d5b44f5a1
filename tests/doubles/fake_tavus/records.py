"""What the fake receives and answers: recorded requests, replies, refusals and faults."""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

__all__ = ["API_PREFIX", "Fault", "RecordedRequest", "Refusal", "Reply", "fault_reply"]

API_PREFIX = "/v2"
"""The path prefix the fake serves, as in ``https://tavusapi.com/v2``."""


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received.

    ``path`` is the API path without ``/v2`` and without the query (``"/conversations"``),
    ``query`` the decoded query parameters, ``headers`` the lower-cased request headers
    without ``x-api-key``, ``json`` the decoded body (None when empty or not JSON),
    ``body`` its raw bytes, ``authorized`` whether the key matched.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    body: bytes
    authorized: bool


@dataclass(frozen=True)
class Reply:
    """An answer of :meth:`FakeTavusAPI.handle`. ``kind`` ``"drop"`` closes the connection
    without an answer; ``"refuse"`` refuses the connection (nothing was received)."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    kind: Literal["answer", "drop", "refuse"] = "answer"

    @classmethod
    def json(cls, status: int, data: Any, headers: list[tuple[str, str]] | None = None) -> Reply:
        body = json.dumps(data).encode()
        return cls(status, [("content-type", "application/json"), *(headers or [])], body)

    @classmethod
    def message(
        cls, status: int, message: str, headers: list[tuple[str, str]] | None = None
    ) -> Reply:
        """The documented error shape: ``{"message": message}``."""
        return cls.json(status, {"message": message}, headers)


class Refusal(Exception):
    """Raised by an endpoint handler: answer ``status`` (400 unless given) with
    ``{"message": message}``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def reply(self) -> Reply:
        return Reply.message(self.status, self.message)


@dataclass
class Fault:
    """An injected answer for the next ``times`` requests matching ``method`` and ``path``
    (a glob on the API path; None matches any). ``processed``: the request is handled
    first, and its answer then replaced."""

    reply: Reply
    times: int
    method: str | None
    path: str | None
    processed: bool

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        return self.path is None or fnmatch.fnmatchcase(path, self.path)


def fault_reply(status: int, retry_after: float | str | None, body: Any) -> Reply:
    """The answer of :meth:`FakeTavusAPI.fail_next`: ``body`` as JSON (dict/list), as text
    (str/bytes), or ``{"message": "<reason> (injected)"}`` when None; ``retry_after``
    (seconds or an HTTP date) sets ``Retry-After``."""
    headers = [] if retry_after is None else [("retry-after", str(retry_after))]
    if body is None:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Error"
        return Reply.message(status, f"{reason} (injected)", headers)
    if isinstance(body, str | bytes):
        raw = body.encode() if isinstance(body, str) else body
        return Reply(status, [("content-type", "text/plain"), *headers], raw)
    return Reply.json(status, body, headers)
