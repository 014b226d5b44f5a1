"""The bodies of the control API (``POST /v1/conversations``, ``.../stop``): parsed from
bounded raw bytes, checked with pydantic, every failure a short message for a 4xx."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from cvibot.serve._backend import ConversationState

__all__ = [
    "ID_PATTERN",
    "MAX_BODY",
    "StartRequest",
    "StopRequest",
    "default_id",
    "parse_body",
    "parse_state",
    "problem_text",
]

MAX_BODY = 64 * 1024  # bytes: a start request is a few hundred
_MAX_DEPTH = 32  # nesting of a body's JSON (metadata and create are shallow)

ID_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
ConversationId = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")
]
_STATES: frozenset[str] = frozenset(ConversationState.__args__)  # type: ignore[attr-defined]


class _BodyError(ValueError):
    """A body that is not acceptable: ``status`` (400, 413, 422) and a message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class StartRequest(BaseModel):
    """``POST /v1/conversations``: join an existing conversation (``conversation_url``,
    with ``meeting_token`` for a private room; ``conversation_id`` defaults to the URL's
    last path segment) or create one (``create``: the body of Tavus's
    ``POST /v2/conversations``, protocol reference §8.2). ``metadata``: string pairs kept
    with the job."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    conversation_url: Annotated[str, StringConstraints(min_length=1, max_length=2048)] | None = None
    conversation_id: ConversationId | None = None
    meeting_token: Annotated[str, StringConstraints(min_length=1, max_length=4096)] | None = None
    metadata: dict[
        Annotated[str, StringConstraints(max_length=128)],
        Annotated[str, StringConstraints(max_length=1024)],
    ] = Field(default_factory=dict, max_length=64)
    create: dict[str, Any] | None = None


class StopRequest(BaseModel):
    """``POST /v1/conversations/{id}/stop``: an optional ``reason`` (kept in the record)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: Annotated[str, StringConstraints(min_length=1, max_length=256)] = "stopped via the API"


def _depth(value: Any, limit: int) -> bool:
    """True if ``value`` nests deeper than ``limit`` (without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def parse_body(raw: bytes, *, empty: Any = None) -> Any:
    """The JSON object of ``raw``; ``empty`` for an empty body (``None``: an error).
    Raises :class:`_BodyError` (400) for what is not one JSON object."""
    if not raw.strip():
        if empty is not None:
            return empty
        raise _BodyError(400, "the body is empty: send a JSON object")
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _BodyError(400, f"the body is not JSON: {exc}") from None
    except RecursionError:
        raise _BodyError(400, f"the body nests deeper than {_MAX_DEPTH} levels") from None
    if not isinstance(value, dict):
        raise _BodyError(400, f"the body must be a JSON object, not {type(value).__name__}")
    if _depth(value, _MAX_DEPTH):
        raise _BodyError(400, f"the body nests deeper than {_MAX_DEPTH} levels")
    return value


def problem_text(exc: ValidationError) -> str:
    """The problems of ``exc`` as one line: ``key: message; key: message``."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False)[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def default_id(url: str) -> str | None:
    """The last path segment of ``url`` (Tavus's room names are the conversation ids)."""
    segments = [s for s in urlsplit(url).path.split("/") if s]
    return segments[-1] if segments else None


def parse_state(value: str | None) -> ConversationState | None:
    """The ``?state=`` filter; :class:`_BodyError` (422) for an unknown state."""
    if value is None or value == "":
        return None
    if value not in _STATES:
        raise _BodyError(422, f"state must be one of {', '.join(sorted(_STATES))}")
    return value  # type: ignore[return-value]
