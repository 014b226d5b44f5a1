"""What a rejected inbound message looks like, and the wording of why.

:class:`Rejection` is the non-event result of :func:`~cvibot._protocol.parse.parse_event`.
The field readers raise :class:`_Invalid`, which the parser turns into a
:class:`Rejection` with :func:`_reject`; the ``_describe`` helpers word its ``detail``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["RejectReason", "Rejection"]


class RejectReason(StrEnum):
    """Why a message was not turned into an event."""

    NOT_JSON = "not_json"
    """A ``str``/``bytes`` message that is not valid (UTF-8) JSON."""
    NOT_OBJECT = "not_object"
    """The decoded message is not a JSON object (array, number, null, ...)."""
    MISSING_EVENT_TYPE = "missing_event_type"
    """No ``event_type``, or a null or empty one."""
    EVENT_TYPE_NOT_STRING = "event_type_not_string"
    PROPERTIES_NOT_OBJECT = "properties_not_object"
    ARGUMENTS_NOT_JSON = "arguments_not_json"
    """Tool-call arguments given as a string that is not valid JSON."""
    ARGUMENTS_NOT_OBJECT = "arguments_not_object"
    """Tool-call arguments that are, or decode to, something other than an object."""
    MISSING_TOOL_NAME = "missing_tool_name"
    """None of ``name``, ``tool_name``, ``function.name`` is a non-empty string."""
    MISSING_FIELD = "missing_field"
    """A required field is absent, e.g. an utterance without role or text."""
    INVALID_FIELD = "invalid_field"
    """A field of the wrong type or an unparseable value (``seq`` not an integer,
    ``conversation_id`` not a string, ``frames`` not a list, a bad timestamp, ...)."""
    TOO_DEEP = "too_deep"
    """Objects and arrays nested deeper than :data:`~cvibot._protocol.bounds.MAX_DEPTH`
    (64; the message is level 1), in the message or in arguments given as a JSON string."""
    TOO_LARGE = "too_large"
    """A message whose JSON is longer than :data:`~cvibot._protocol.bounds.MAX_SIZE`
    (4 MiB of characters)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejection:
    """A message :func:`~cvibot._protocol.parse.parse_event` could not accept, and why.

    - ``reason``: the category; ``detail``: a human-readable sentence naming the field, e.g.
      ``"properties.arguments is not valid JSON: Expecting value at char 0"``.
    - ``field``: dotted path of the offending field (``"seq"``, ``"properties.frames[2]"``),
      ``None`` when the message as a whole is at fault.
    - ``event_type``, ``conversation_id``, ``tool_call_id``, ``seq``, ``inference_id``: read
      from the message when present with the right type, despite the rejection. A tool call
      rejected for its arguments keeps its ``tool_call_id`` so the runtime can answer it with
      an error and the replica is never left waiting (§6 rule 9).
    - ``raw``: the message as decoded (as received when it could not be decoded). For
      ``TOO_DEEP`` and ``TOO_LARGE`` a bounded summary instead, safe to print or walk:
      the top level and ``properties`` with deeper values read as ``None``, strings cut
      to 200 characters and at most 50 keys each (a text cut to its first 200 characters
      when it could not be read at all).
    """

    reason: RejectReason
    detail: str
    field: str | None = None
    event_type: str | None = None
    conversation_id: str | None = None
    tool_call_id: str | None = None
    seq: int | None = None
    inference_id: str | None = None
    raw: Any = None


class _Invalid(Exception):
    """Raised by the field readers and builders; the parser turns it into a :class:`Rejection`."""

    def __init__(self, reason: RejectReason, field: str | None, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.field = field
        self.detail = detail


def _reject(
    reason: RejectReason,
    where: str | None,
    detail: str,
    message: dict[str, Any],
    props: dict[str, Any] | None = None,
) -> Rejection:
    """A rejection carrying every identifier still readable with the right type."""
    if props is None:
        candidate = message.get("properties")
        props = candidate if isinstance(candidate, dict) else {}
    event_type = message.get("event_type")
    seq = message.get("seq")
    return Rejection(
        reason=reason,
        detail=detail,
        field=where,
        event_type=event_type if isinstance(event_type, str) and event_type else None,
        conversation_id=_loose_id(message.get("conversation_id")),
        tool_call_id=_loose_id(props.get("tool_call_id")) or _loose_id(message.get("tool_call_id")),
        seq=seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
        inference_id=_loose_id(message.get("inference_id")) or _loose_id(props.get("inference_id")),
        raw=message,
    )


def _loose_id(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _unreadable(message: Any, exc: Exception) -> Rejection:
    detail = f"message could not be read: {type(exc).__name__}: {exc}"
    try:
        if isinstance(message, dict):
            return _reject(RejectReason.INVALID_FIELD, None, detail, message)
    except Exception:
        pass
    return Rejection(reason=RejectReason.INVALID_FIELD, detail=detail, raw=message)


def _json_error(exc: ValueError | RecursionError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at char {exc.pos}"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc)


_JSON_TYPES: dict[type, str] = {
    dict: "an object",
    list: "an array",
    tuple: "an array",
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    type(None): "null",
}


def _json_type(value: Any) -> str:
    """The JSON kind of a value, for messages: ``"an array"``, ``"null"``, ..."""
    name = _JSON_TYPES.get(type(value))
    return name if name is not None else f"a Python {type(value).__name__}"


def _describe(value: Any) -> str:
    """The JSON kind and a short repr of a value, for messages."""
    try:
        shown = repr(value)
    except ValueError:  # an int too long to print (sys.get_int_max_str_digits)
        shown = "..."
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return f"{_json_type(value)} ({shown})"
