"""One parser for every documented shape of an inbound app-message.

:func:`parse_event` turns whatever daily-python hands to ``on_app_message`` into an
:class:`~cvibot.protocol.events.Event` or a :class:`Rejection`, and never raises. It follows
the robust-client rules of protocol reference §6 and resolves the disagreements of §5.
It runs once per inbound message, so it uses plain type checks rather than a validation
library.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from math import isfinite
from typing import Any

from cvibot.protocol.events import (
    INTERACTION_TYPES,
    Event,
    ForeignInteraction,
    Frame,
    PerceptionAnalysis,
    PerceptionToolCall,
    ReplicaInterrupted,
    ReplicaJoined,
    Shutdown,
    SpeakingStarted,
    SpeakingStopped,
    ToolCall,
    UnknownEvent,
    Utterance,
    UtteranceStreaming,
    normalise_role,
)

__all__ = ["RejectReason", "Rejection", "parse_event"]

# json.loads without its per-call argument handling (this is the hot path).
_json_decode = json.JSONDecoder().decode


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


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejection:
    """A message :func:`parse_event` could not accept, and why.

    - ``reason``: the category; ``detail``: a human-readable sentence naming the field, e.g.
      ``"properties.arguments is not valid JSON: Expecting value at char 0"``.
    - ``field``: dotted path of the offending field (``"seq"``, ``"properties.frames[2]"``),
      ``None`` when the message as a whole is at fault.
    - ``event_type``, ``conversation_id``, ``tool_call_id``, ``seq``, ``inference_id``: read
      from the message when present with the right type, despite the rejection. A tool call
      rejected for its arguments keeps its ``tool_call_id`` so the runtime can answer it with
      an error and the replica is never left waiting (§6 rule 9).
    - ``raw``: the message as decoded (as received when it could not be decoded).
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
    """Raised inside the builders; turned into a :class:`Rejection` by :func:`parse_event`."""

    def __init__(self, reason: RejectReason, field: str | None, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.field = field
        self.detail = detail


def parse_event(message: Any) -> Event | Rejection:
    """Parse one inbound app-message into an event, or say why not. Never raises.

    ``message`` is what daily-python passes to ``on_app_message``: normally a decoded JSON
    object (``dict``), sometimes a JSON ``str``; ``bytes``/``bytearray`` are decoded as UTF-8
    JSON too (§6 rule 1). Any other value is rejected, never raised on.

    Normalisation applied (§5, §6):

    - ``properties`` absent or null → ``{}``; any other non-object → ``PROPERTIES_NOT_OBJECT``.
    - ``inference_id`` from the top level, else ``properties.inference_id`` (D4).
    - ``timestamp``: a number (Unix seconds) or an ISO-8601 string, ``Z`` allowed, naive
      times read as UTC; converted to a float (D13).
    - Empty-string ids (``conversation_id``, ``inference_id``, ``tool_call_id``) read as absent:
      Docs-PAL omits ``conversation_id`` "when empty", so older senders may send ``""``.
    - Tool calls (§4.4, §4.5, §6 rules 6-7): name from ``properties.name``, ``tool_name``,
      ``function.name``; arguments from ``properties.arguments``, else
      ``properties.function.arguments``, a JSON string decoded (blank → ``{}``), an object
      used as is, absent → ``{}``; ``tool_call_id`` from ``properties``, else the top level.
    - Utterances (§4.2, §4.3): text from ``speech``, ``content``, ``text``, ``transcript``
      (D5); role ``"pal"`` ≡ ``"replica"`` (D6).
    - Speaking events (§4.7): the legacy per-role types take their role from the event type.
    - Flags (``interrupted``, ``final``, ``is_interrupted``) accept booleans and the strings
      ``"true"``/``"false"`` (D10); ``duration`` is a number or null.
    - ``conversation.replica_interrupted`` and ``conversation.replica.interrupted`` both give
      :class:`~cvibot.protocol.events.ReplicaInterrupted` (D7); the four ``system.*_joined`` /
      ``*_present`` types give :class:`~cvibot.protocol.events.ReplicaJoined` (D16).
    - Interaction types seen inbound give
      :class:`~cvibot.protocol.events.ForeignInteraction` (§6 rule 2); any other type gives
      :class:`~cvibot.protocol.events.UnknownEvent` (§6 rule 3).

    Envelope fields of the wrong type (``seq`` not an integer — booleans are not — or
    ``conversation_id`` not a string, ...) reject the message with ``INVALID_FIELD``.
    """
    try:
        return _parse(message)
    except Exception as exc:
        # Only reachable with exotic Python objects (a str or dict subclass whose methods
        # raise); the contract is that the receive loop never sees an exception.
        return _unreadable(message, exc)


def _parse(message: Any) -> Event | Rejection:
    if isinstance(message, str | bytes | bytearray | memoryview):
        decoded = _decode(message)
        if isinstance(decoded, Rejection):
            return decoded
        message = decoded
    if type(message) is not dict:
        if not isinstance(message, Mapping):
            return Rejection(
                reason=RejectReason.NOT_OBJECT,
                detail=f"message is {_json_type(message)}, not a JSON object",
                raw=message,
            )
        message = dict(message)

    event_type = message.get("event_type")
    if not isinstance(event_type, str):
        if event_type is None:
            return _reject(
                RejectReason.MISSING_EVENT_TYPE, "event_type", "message has no event_type", message
            )
        return _reject(
            RejectReason.EVENT_TYPE_NOT_STRING,
            "event_type",
            f"event_type must be a string, got {_describe(event_type)}",
            message,
        )
    if not event_type:
        return _reject(
            RejectReason.MISSING_EVENT_TYPE, "event_type", "event_type is empty", message
        )

    props = message.get("properties")
    if props is None:
        props = {}
    elif type(props) is not dict:
        if not isinstance(props, Mapping):
            return _reject(
                RejectReason.PROPERTIES_NOT_OBJECT,
                "properties",
                f"properties must be an object, got {_describe(props)}",
                message,
            )
        props = dict(props)

    try:
        return _build(event_type, message, props)
    except _Invalid as bad:
        return _reject(bad.reason, bad.field, bad.detail, message, props)


def _decode(message: str | bytes | bytearray | memoryview) -> Any:
    """JSON-decode a text or binary message; a :class:`Rejection` when it cannot be."""
    try:
        text = message if isinstance(message, str) else bytes(message).decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejection(
            reason=RejectReason.NOT_JSON, detail=f"message is not valid UTF-8: {exc}", raw=message
        )
    try:
        return _json_decode(text)
    except (ValueError, RecursionError) as exc:
        return Rejection(
            reason=RejectReason.NOT_JSON,
            detail=f"message is not valid JSON: {_json_error(exc)}",
            raw=message,
        )


def _build(event_type: str, message: dict[str, Any], props: dict[str, Any]) -> Event:
    # Runs for every inbound message: the `type(...) is` tests let the shapes Tavus sends
    # skip the checking readers, which then only see the unusual values.
    get = message.get
    message_type = get("message_type")
    if message_type is not None and type(message_type) is not str:
        message_type = _opt_str(message_type, "message_type")
    conversation_id = get("conversation_id")
    if type(conversation_id) is not str or not conversation_id:
        conversation_id = _opt_id(conversation_id, "conversation_id")
    seq = get("seq")
    if seq is not None and type(seq) is not int:
        seq = _opt_int(seq, "seq")
    turn_idx = get("turn_idx")
    if turn_idx is not None and type(turn_idx) is not int:
        turn_idx = _opt_int(turn_idx, "turn_idx")
    timestamp = get("timestamp")
    if timestamp is not None and (type(timestamp) is not float or not isfinite(timestamp)):
        timestamp = _timestamp(timestamp)
    inference_id = get("inference_id")
    if type(inference_id) is not str or not inference_id:
        inference_id = _opt_id(inference_id, "inference_id") or _opt_id(
            props.get("inference_id"), "properties.inference_id"
        )
    env: dict[str, Any] = {
        "event_type": event_type,
        "message_type": message_type,
        "conversation_id": conversation_id,
        "seq": seq,
        "turn_idx": turn_idx,
        "timestamp": timestamp,
        "inference_id": inference_id,
        "properties": props,
        "raw": message,
    }
    builder = _BUILDERS.get(event_type)
    if builder is not None:
        return builder(env, message, props)
    if event_type in INTERACTION_TYPES:
        return ForeignInteraction(**env)
    return UnknownEvent(**env)


# --- builders, one per event family ------------------------------------------------------

_Builder = Callable[[dict[str, Any], dict[str, Any], dict[str, Any]], Event]


def _tool_call(env: dict[str, Any], message: dict[str, Any], props: dict[str, Any]) -> Event:
    return ToolCall(**env, **_tool_fields(message, props))


def _perception_tool_call(
    env: dict[str, Any], message: dict[str, Any], props: dict[str, Any]
) -> Event:
    return PerceptionToolCall(
        **env,
        **_tool_fields(message, props),
        modality=_opt_str(props.get("modality"), "properties.modality"),
        frames=_frames(props.get("frames")),
    )


def _tool_fields(message: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    """Name, arguments and id of a tool call, from any documented shape (D1-D3)."""
    function = props.get("function")
    if not isinstance(function, dict):
        function = None  # only the hover-over bug nests here; anything else is noise

    name = props.get("name")
    if not (isinstance(name, str) and name):
        name = props.get("tool_name")
        if not (isinstance(name, str) and name):
            name = function.get("name") if function is not None else None
            if not (isinstance(name, str) and name):
                raise _Invalid(
                    RejectReason.MISSING_TOOL_NAME,
                    "properties.name",
                    "tool call has no name: none of properties.name, properties.tool_name, "
                    "properties.function.name is a non-empty string",
                )

    where = "properties.arguments"
    raw_arguments = props.get("arguments")
    if raw_arguments is None and function is not None:
        where = "properties.function.arguments"
        raw_arguments = function.get("arguments")

    tool_call_id = props.get("tool_call_id")
    if tool_call_id is None:
        tool_call_id = _opt_id(message.get("tool_call_id"), "tool_call_id")
    else:
        tool_call_id = _opt_id(tool_call_id, "properties.tool_call_id")

    return {
        "name": name,
        "arguments": _arguments(raw_arguments, where),
        "raw_arguments": raw_arguments,
        "tool_call_id": tool_call_id,
    }


def _arguments(raw: Any, where: str) -> dict[str, Any]:
    """Decode tool-call arguments: JSON string or object; blank or absent gives ``{}`` (D2)."""
    if isinstance(raw, str):
        if not raw or raw.isspace():
            return {}
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


def _utterance(env: dict[str, Any], message: dict[str, Any], props: dict[str, Any]) -> Event:
    role, original_role = _role(props)
    return Utterance(
        **env,
        role=role,
        original_role=original_role,
        speech=_speech(props),
        interrupted=_flag(props.get("interrupted"), "properties.interrupted"),
    )


def _utterance_streaming(
    env: dict[str, Any], message: dict[str, Any], props: dict[str, Any]
) -> Event:
    role, original_role = _role(props)
    return UtteranceStreaming(
        **env,
        role=role,
        original_role=original_role,
        speech=_speech(props),
        content_index=_opt_int(props.get("content_index"), "properties.content_index"),
        final=_flag(props.get("final"), "properties.final"),
        is_interrupted=_flag(props.get("is_interrupted"), "properties.is_interrupted"),
    )


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


def _speaking(stopped: bool, fixed_role: str | None) -> _Builder:
    """Builder for one speaking event type; ``fixed_role`` for the legacy per-role types."""

    def build(env: dict[str, Any], message: dict[str, Any], props: dict[str, Any]) -> Event:
        if fixed_role is None:
            role, original_role = _role(props)
        else:
            role = original_role = fixed_role
        if not stopped:
            return SpeakingStarted(**env, role=role, original_role=original_role)
        return SpeakingStopped(
            **env,
            role=role,
            original_role=original_role,
            interrupted=_flag(props.get("interrupted"), "properties.interrupted"),
            duration=_duration(props.get("duration")),
        )

    return build


def _replica_interrupted(
    env: dict[str, Any], message: dict[str, Any], props: dict[str, Any]
) -> Event:
    return ReplicaInterrupted(**env)


def _perception_analysis(
    env: dict[str, Any], message: dict[str, Any], props: dict[str, Any]
) -> Event:
    analysis = props.get("analysis")
    if not isinstance(analysis, str):
        raise _Invalid(
            RejectReason.MISSING_FIELD if analysis is None else RejectReason.INVALID_FIELD,
            "properties.analysis",
            f"properties.analysis must be a string, got {_describe(analysis)}",
        )
    return PerceptionAnalysis(**env, analysis=analysis)


def _system_field(message: dict[str, Any], props: dict[str, Any], key: str) -> str | None:
    # The in-call envelope of system events is undocumented (§11); the webhook shape puts
    # these fields in properties, so look there first and at the top level second.
    value = props.get(key)
    if value is not None:
        return _opt_id(value, f"properties.{key}")
    return _opt_id(message.get(key), key)


def _replica_joined(env: dict[str, Any], message: dict[str, Any], props: dict[str, Any]) -> Event:
    return ReplicaJoined(**env, replica_id=_system_field(message, props, "replica_id"))


def _shutdown(env: dict[str, Any], message: dict[str, Any], props: dict[str, Any]) -> Event:
    return Shutdown(
        **env,
        shutdown_reason=_system_field(message, props, "shutdown_reason"),
        replica_id=_system_field(message, props, "replica_id"),
    )


_BUILDERS: dict[str, _Builder] = {
    "conversation.tool_call": _tool_call,
    "conversation.perception_tool_call": _perception_tool_call,
    "conversation.utterance": _utterance,
    "conversation.utterance.streaming": _utterance_streaming,
    "conversation.started_speaking": _speaking(False, None),
    "conversation.stopped_speaking": _speaking(True, None),
    "conversation.replica.started_speaking": _speaking(False, "replica"),
    "conversation.replica.stopped_speaking": _speaking(True, "replica"),
    "conversation.user.started_speaking": _speaking(False, "user"),
    "conversation.user.stopped_speaking": _speaking(True, "user"),
    "conversation.replica_interrupted": _replica_interrupted,
    "conversation.replica.interrupted": _replica_interrupted,
    "conversation.perception_analysis": _perception_analysis,
    "system.replica_joined": _replica_joined,
    "system.pal_joined": _replica_joined,
    "system.replica_present": _replica_joined,
    "system.pal_present": _replica_joined,
    "system.shutdown": _shutdown,
}


# --- field readers: return the value or raise _Invalid -----------------------------------


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


# --- rejections ---------------------------------------------------------------------------


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
