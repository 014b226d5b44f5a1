"""Typed readers for the fields of an inbound message (protocol reference §4-§6).

Each reader takes a raw value and the dotted path that names it in errors (or, when the
field has several documented keys, the ``properties`` object) and returns the value in
the type the event models use, or raises :class:`~cvibot._protocol.rejection._Invalid`.
They accept the documented variants (§5): ``"true"``/``"false"`` flags, ISO-8601
timestamps, ``""`` ids, JSON-string arguments, ``"pal"`` roles, the four text keys of an
utterance, bare-string frames.
"""

from __future__ import annotations

import json
import json.scanner
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from math import isfinite
from typing import Any

from cvibot._protocol.bounds import MAX_DEPTH, MAX_SIZE, check_text
from cvibot._protocol.events import Frame, normalise_role
from cvibot._protocol.rejection import RejectReason, _describe, _Invalid, _json_error, _json_type

_decoder = json.JSONDecoder()
_scan: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(_decoder)  # type: ignore[arg-type]


def _json_decode(text: str) -> Any:
    """``json.loads(text)`` without its per-call work (this is the hot path): text that
    starts with a value and ends with it, the usual case, goes straight to the scanner;
    anything else (surrounding whitespace, invalid JSON) to the full decoder, which also
    words the errors (``json.JSONDecodeError``, a ``ValueError``)."""
    if text and text[0] not in " \t\n\r":
        try:
            value, end = _scan(text, 0)
        except StopIteration:
            pass
        else:
            if end == len(text):
                return value
    return _decoder.decode(text)


def _opt_str(value: Any, where: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise _Invalid(
        RejectReason.INVALID_FIELD, where, f"{where} must be a string, got {_describe(value)}"
    )


def _opt_id(value: Any, where: str) -> str | None:
    """An identifier: a string, with ``""`` read as absent."""
    if isinstance(value, str):
        return value or None
    return _opt_str(value, where)


def _opt_int(value: Any, where: str) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise _Invalid(
        RejectReason.INVALID_FIELD, where, f"{where} must be an integer, got {_describe(value)}"
    )


def _flag(value: Any, where: str) -> bool:
    """A boolean; ``"true"``/``"false"`` strings accepted (D10); absent is false."""
    if value is None:
        return False
    if value is True or value is False:
        return value
    if isinstance(value, str):
        lowered = value.lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
    raise _Invalid(
        RejectReason.INVALID_FIELD, where, f"{where} must be a boolean, got {_describe(value)}"
    )


def _number(value: Any, where: str) -> float:
    """A finite number (booleans excluded) as a float."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # an int beyond float range
            pass
        else:
            if isfinite(number):
                return number
    raise _Invalid(
        RejectReason.INVALID_FIELD,
        where,
        f"{where} must be a finite number, got {_describe(value)}",
    )


def _duration(value: Any) -> float | None:
    return None if value is None else _number(value, "properties.duration")


def _timestamp(value: Any) -> float | None:
    """Unix seconds from a number or an ISO-8601 string; naive times are UTC (D13)."""
    if value is None:
        return None
    if not isinstance(value, str):
        return _number(value, "timestamp")
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    except (ValueError, OverflowError):
        raise _Invalid(
            RejectReason.INVALID_FIELD,
            "timestamp",
            f"timestamp is neither a number nor an ISO-8601 time: {_describe(value)}",
        ) from None


def _arguments(raw: Any, where: str) -> dict[str, Any]:
    """Decode tool-call arguments: JSON string or object; blank or absent gives ``{}`` (D2).

    A JSON string is measured before it is decoded, from the level its value sits at
    (level 3 for ``properties.arguments``: message, ``properties``, arguments), so the
    decoded arguments never take the message past ``MAX_DEPTH``. An object was measured
    with the whole message.
    """
    if isinstance(raw, str):
        if not raw or raw.isspace():
            return {}
        above = where.count(".") + 1  # the levels that hold this field
        check_text(raw, max_depth=MAX_DEPTH - above, max_size=MAX_SIZE, where=where)
        try:
            decoded = _json_decode(raw)
        except (ValueError, RecursionError) as exc:
            raise _Invalid(
                RejectReason.ARGUMENTS_NOT_JSON,
                where,
                f"{where} is not valid JSON: {_json_error(exc)}",
            ) from None
        if type(decoded) is dict:
            return decoded
        raise _Invalid(
            RejectReason.ARGUMENTS_NOT_OBJECT,
            where,
            f"{where} decodes to {_json_type(decoded)}, not an object",
        )
    if isinstance(raw, dict):
        return raw
    if raw is None:
        return {}
    if isinstance(raw, Mapping):
        return dict(raw)
    raise _Invalid(
        RejectReason.ARGUMENTS_NOT_OBJECT,
        where,
        f"{where} is {_json_type(raw)}, not an object or a JSON string",
    )


def _frames(value: Any) -> tuple[Frame, ...]:
    """Vision frames: a list of ``{data, mime_type}`` objects, or bare base64 strings (§4.5)."""
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise _Invalid(
            RejectReason.INVALID_FIELD,
            "properties.frames",
            f"properties.frames must be a list, got {_describe(value)}",
        )
    frames = []
    for index, item in enumerate(value):
        where = f"properties.frames[{index}]"
        if isinstance(item, str):
            frames.append(Frame(data=item))
        elif isinstance(item, Mapping):
            data = item.get("data")
            if not isinstance(data, str):
                raise _Invalid(
                    RejectReason.INVALID_FIELD if data is not None else RejectReason.MISSING_FIELD,
                    f"{where}.data",
                    f"{where}.data must be a string, got {_describe(data)}",
                )
            mime_type = _opt_str(item.get("mime_type"), f"{where}.mime_type")
            frames.append(Frame(data=data, mime_type=mime_type))
        else:
            raise _Invalid(
                RejectReason.INVALID_FIELD,
                where,
                f"{where} must be an object or a string, got {_describe(item)}",
            )
    return tuple(frames)


_TEXT_KEYS = ("speech", "content", "text", "transcript")


def _speech(props: dict[str, Any]) -> str:
    """Utterance text: the first of ``speech``, ``content``, ``text``, ``transcript`` (D5)."""
    wrong = None
    for key in _TEXT_KEYS:
        value = props.get(key)
        if isinstance(value, str):
            return value
        if value is not None and wrong is None:
            wrong = key
    if wrong is not None:
        raise _Invalid(
            RejectReason.INVALID_FIELD,
            f"properties.{wrong}",
            f"properties.{wrong} must be a string, got {_describe(props[wrong])}",
        )
    raise _Invalid(
        RejectReason.MISSING_FIELD,
        "properties.speech",
        "utterance has no text: none of properties.speech, .content, .text, .transcript",
    )


def _role(props: dict[str, Any]) -> tuple[str, str]:
    """``(normalised, as received)`` role from ``properties.role`` (D6)."""
    value = props.get("role")
    if isinstance(value, str) and value:
        return normalise_role(value), value
    if value is None or value == "":
        raise _Invalid(
            RejectReason.MISSING_FIELD, "properties.role", "properties.role is missing or empty"
        )
    raise _Invalid(
        RejectReason.INVALID_FIELD,
        "properties.role",
        f"properties.role must be a string, got {_describe(value)}",
    )
