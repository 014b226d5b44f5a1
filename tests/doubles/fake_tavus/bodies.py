"""The fake's checks of request bodies: JSON decoding and the documented fields and types
of the conversation and persona bodies (protocol reference §8.2, §8.1).

Every failure raises :class:`~doubles.fake_tavus.records.Refusal` (a 400).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from doubles.fake_tavus.records import Refusal

__all__ = [
    "PERSONA_READ_ONLY",
    "check_persona",
    "check_persona_fields",
    "conversation_request",
    "json_body",
    "persona_request",
]

_Check = Callable[[Any], bool]


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _is_pos_int(v: Any) -> bool:
    return _is_int(v) and v >= 1


def _is_str_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _is_obj(v: Any) -> bool:
    return isinstance(v, dict)


_TYPE_NAMES: dict[_Check, str] = {
    _is_str: "a string",
    _is_bool: "a boolean",
    _is_int: "a non-negative integer",
    _is_pos_int: "a positive integer",
    _is_str_list: "a list of strings",
    _is_obj: "an object",
}

_CONVERSATION_FIELDS: dict[str, _Check] = {
    "persona_id": _is_str,
    "replica_id": _is_str,
    "conversation_name": _is_str,
    "conversational_context": _is_str,
    "custom_greeting": _is_str,
    "callback_url": _is_str,
    "audio_only": _is_bool,
    "test_mode": _is_bool,
    "require_auth": _is_bool,
    "max_participants": _is_pos_int,
    "memory_stores": _is_str_list,
    "document_ids": _is_str_list,
    "document_tags": _is_str_list,
    "document_retrieval_strategy": lambda v: v in ("speed", "balanced", "quality"),
    "chat": _is_bool,
    "meeting_url": _is_str,
    "properties": _is_obj,
}
_CONVERSATION_ALIASES = {"pal_id": "persona_id", "face_id": "replica_id"}  # D15

_PROPERTY_FIELDS: dict[str, _Check] = {
    "max_call_duration": _is_pos_int,
    "participant_left_timeout": _is_int,
    "participant_absent_timeout": _is_int,
    "enable_recording": _is_bool,
    "recording_s3_bucket_name": _is_str,
    "recording_s3_bucket_region": _is_str,
    "aws_assume_role_arn": _is_str,
    "recording_storage": _is_obj,
    "enable_closed_captions": _is_bool,
    "apply_greenscreen": _is_bool,
    "language": _is_str,
    "livekit_ws_url": _is_str,
    "livekit_room_token": _is_str,
}

_PERSONA_FIELDS: dict[str, _Check] = {
    "persona_name": _is_str,
    "system_prompt": _is_str,
    "pipeline_mode": _is_str,
    "default_replica_id": _is_str,
    "context": _is_str,
    "layers": _is_obj,
    "document_ids": _is_str_list,
    "document_tags": _is_str_list,
}

PERSONA_READ_ONLY = ("persona_id", "created_at", "updated_at")
"""Persona keys the fake sets itself: a body may not set them, a patch may not change them."""


def _check_fields(
    data: dict[str, Any], checks: dict[str, _Check], where: str = "", *, extra: bool = False
) -> None:
    """Each key of ``data`` is known (unless ``extra``) and its value, if not None, passes
    its check; ``where`` prefixes the key in the message (``"properties."``)."""
    for key, value in data.items():
        check = checks.get(key)
        if check is None:
            if extra:
                continue
            raise Refusal(f"Unknown field: {where}{key}")
        if value is not None and not check(value):
            expected = _TYPE_NAMES.get(check, "one of the documented values")
            raise Refusal(f"Invalid value for {where}{key}: expected {expected}")


def json_body(body: bytes) -> Any:
    """The decoded JSON body; refused when empty or not JSON."""
    if not body.strip():
        raise Refusal("The request body is empty")
    try:
        return json.loads(body)
    except ValueError:
        raise Refusal("The request body is not valid JSON") from None


def _json_object(body: bytes) -> dict[str, Any]:
    data = json_body(body)
    if not isinstance(data, dict):
        raise Refusal("The request body must be a JSON object")
    return data


def conversation_request(body: bytes) -> dict[str, Any]:
    """The checked body of ``POST /conversations`` (§8.2), ``pal_id``/``face_id`` renamed
    to ``persona_id``/``replica_id``. ``properties`` may hold unknown keys."""
    data = _json_object(body)
    for alias, name in _CONVERSATION_ALIASES.items():
        if alias in data:
            if name in data and data[name] != data[alias]:
                raise Refusal(f"{alias} and {name} disagree")
            data[name] = data.pop(alias)
    _check_fields(data, _CONVERSATION_FIELDS)
    _check_fields(data.get("properties") or {}, _PROPERTY_FIELDS, "properties.", extra=True)
    return data


def persona_request(body: bytes) -> dict[str, Any]:
    """The checked body of ``POST /personas`` (§8.1)."""
    data = _json_object(body)
    check_persona_fields(data)
    check_persona(data)
    return data


def check_persona_fields(fields: dict[str, Any]) -> None:
    """Every key is an editable persona field of the documented type."""
    _check_fields(fields, _PERSONA_FIELDS)


def check_persona(doc: dict[str, Any]) -> None:
    """``pipeline_mode`` ``full`` (the default) needs a ``system_prompt``; any other mode
    string is accepted (D14)."""
    if (doc.get("pipeline_mode") or "full") == "full" and not doc.get("system_prompt"):
        raise Refusal("system_prompt is required when pipeline_mode is full")
