"""One parser for every documented shape of an inbound app-message.

:func:`parse_event` turns whatever daily-python hands to ``on_app_message`` into an
:class:`~cvibot._protocol.events.Event` or a :class:`Rejection`, and never raises. It follows
the robust-client rules of protocol reference §6 and resolves the disagreements of §5.
It runs once per inbound message, so it uses plain type checks rather than a validation
library.

This module decodes the message and reads the envelope (§2); the per-event builders are
in :mod:`~cvibot._protocol.builders`, the field readers in :mod:`~cvibot._protocol.fields`
and the rejection types in :mod:`~cvibot._protocol.rejection`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from math import isfinite
from typing import Any

from cvibot._protocol.bounds import (
    MAX_DEPTH,
    MAX_SIZE,
    _shallow_decode,
    _shallow_size,
    check_text,
    check_value,
)
from cvibot._protocol.builders import _BUILDERS
from cvibot._protocol.events import INTERACTION_TYPES, Event, ForeignInteraction, UnknownEvent
from cvibot._protocol.fields import _json_decode, _opt_id, _opt_int, _opt_str, _timestamp
from cvibot._protocol.rejection import (
    Rejection,
    RejectReason,
    _describe,
    _Invalid,
    _json_error,
    _json_type,
    _reject,
    _unreadable,
)

__all__ = ["RejectReason", "Rejection", "parse_event"]


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
      :class:`~cvibot._protocol.events.ReplicaInterrupted` (D7); the four ``system.*_joined`` /
      ``*_present`` types give :class:`~cvibot._protocol.events.ReplicaJoined` (D16).
    - Interaction types seen inbound give
      :class:`~cvibot._protocol.events.ForeignInteraction` (§6 rule 2); any other type gives
      :class:`~cvibot._protocol.events.UnknownEvent` (§6 rule 3).

    Envelope fields of the wrong type (``seq`` not an integer — booleans are not — or
    ``conversation_id`` not a string, ...) reject the message with ``INVALID_FIELD``.

    Bounds (:mod:`~cvibot._protocol.bounds`), checked before anything recurses into the
    message: nested deeper than 64 levels (the message is level 1; arguments given as a
    JSON string are measured before they are decoded, from the level they sit at) gives
    ``TOO_DEEP``; longer than 4 MiB of JSON text gives ``TOO_LARGE``. Such a rejection
    still carries the top-level ids (``event_type``, ``tool_call_id``, ``seq``, ...) when
    they can be read without decoding the deep part, so a tool call is answered.

    Strings are returned as received, lone UTF-16 surrogates included (``"\\ud83d"``
    escapes decode to them); they are replaced where text leaves the bot
    (:mod:`~cvibot._protocol.text`).
    """
    try:
        measured = False
        if type(message) is not dict:  # daily-python hands over a dict: the rest is rare
            if isinstance(message, str | bytes | bytearray | memoryview):
                decoded = _decode(message)
                if isinstance(decoded, Rejection):
                    return decoded
                message, measured = decoded, True  # the text was measured before decoding
            if type(message) is not dict:
                if not isinstance(message, Mapping):
                    return Rejection(
                        reason=RejectReason.NOT_OBJECT,
                        detail=f"message is {_json_type(message)}, not a JSON object",
                        raw=message,
                    )
                message = dict(message)
        if not measured:
            # The usual message (scalars, objects of scalars) is measured in one pass.
            size = _shallow_size(message)
            if size is None or size > MAX_SIZE:
                try:
                    check_value(message, max_depth=MAX_DEPTH, max_size=MAX_SIZE)
                except _Invalid as bad:
                    return _out_of_bounds(bad, message)

        event_type = message.get("event_type")
        if not isinstance(event_type, str):
            if event_type is None:
                return _reject(
                    RejectReason.MISSING_EVENT_TYPE,
                    "event_type",
                    "message has no event_type",
                    message,
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
    except Exception as exc:
        # Only reachable with exotic Python objects (a str or dict subclass whose methods
        # raise); the contract is that the receive loop never sees an exception.
        return _unreadable(message, exc)


def _decode(message: str | bytes | bytearray | memoryview) -> Any:
    """JSON-decode a text or binary message; a :class:`Rejection` when it cannot be.

    The text is measured first (:func:`~cvibot._protocol.bounds.check_text`): one out of
    bounds is rejected without being decoded.
    """
    size = message.nbytes if isinstance(message, memoryview) else len(message)
    if not isinstance(message, str) and size > MAX_SIZE:
        return Rejection(
            reason=RejectReason.TOO_LARGE,
            detail=f"message is too large ({size} bytes; the limit is {MAX_SIZE})",
            raw=bytes(message[:_SUMMARY_TEXT]),
        )
    try:
        text = message if isinstance(message, str) else bytes(message).decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejection(
            reason=RejectReason.NOT_JSON, detail=f"message is not valid UTF-8: {exc}", raw=message
        )
    try:
        check_text(text, max_depth=MAX_DEPTH, max_size=MAX_SIZE)
    except _Invalid as bad:
        shallow = _shallow_decode(text, 2) if bad.reason is RejectReason.TOO_DEEP else None
        if isinstance(shallow, dict):
            return _out_of_bounds(bad, shallow)
        return Rejection(reason=bad.reason, detail=bad.detail, raw=text[:_SUMMARY_TEXT])
    try:
        return _json_decode(text)
    except (ValueError, RecursionError) as exc:
        return Rejection(
            reason=RejectReason.NOT_JSON,
            detail=f"message is not valid JSON: {_json_error(exc)}",
            raw=message,
        )


_SUMMARY_TEXT = 200  # characters kept of each string of an out-of-bounds message
_SUMMARY_KEYS = 50  # keys kept of each of its objects


def _out_of_bounds(bad: _Invalid, message: dict[str, Any]) -> Rejection:
    """``TOO_DEEP``/``TOO_LARGE`` with the ids of the top level and a bounded ``raw``."""
    rejection = _reject(bad.reason, bad.field, bad.detail, message)
    return replace(rejection, raw=_summary(message, 1))


def _summary(value: Any, depth: int) -> Any:
    """``value`` cut down: two levels of objects, short strings, few keys (no recursion
    beyond depth 2)."""
    if isinstance(value, str):
        return value if len(value) <= _SUMMARY_TEXT else value[:_SUMMARY_TEXT] + "…"
    if isinstance(value, Mapping) and depth <= 2:
        summary: dict[Any, Any] = {}
        for key, child in value.items():
            if len(summary) >= _SUMMARY_KEYS:
                break
            summary[_summary(key, 3)] = _summary(child, depth + 1)
        return summary
    if value is None or isinstance(value, bool | float) or type(value) is int:
        return value if not (type(value) is int and abs(value) > 10**15) else None
    return None


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
