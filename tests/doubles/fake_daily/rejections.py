"""What the real SDK rejects, and the exact text it rejects it with.

Every type and message here was checked against daily-python (daily-python.md §8):
keep them byte for byte. The ``check_*`` functions and :func:`app_message_payload`
raise at once in the caller's thread, as the SDK does for bad arguments;
:func:`join_argument_error` and the constants are the strings it reports later,
through completions and ``on_error``.
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import urlparse

__all__ = [
    "CHANNEL_NOT_OPEN",
    "FETCH_FAILED",
    "ROOM_LOOKUP_FAILED",
    "EventHandler",
    "app_message_payload",
    "check_event_handler",
    "check_join_args",
    "check_not_released",
    "join_argument_error",
]

CHANNEL_NOT_OPEN = "AppMessage(Signalling(ChannelNotOpen))"
ROOM_LOOKUP_FAILED = (
    "Connection(Api(RoomLookup(RoomInfoFetchFailed(Get(hyper_util::client::legacy::Error("
    'Connect, Custom { kind: Uncategorized, error: "failed to lookup address information: '
    'Name or service not known" }))))))'
)
FETCH_FAILED = "Failed to fetch room information: GET failed: client error (Connect)"
"""The ``on_error`` that comes before an unreachable join fails."""


class _StandInEventHandler:
    """Used only when daily-python is not installed."""


def _event_handler_base() -> type:
    try:
        import daily
    except ImportError:
        return _StandInEventHandler
    base: type = daily.EventHandler
    return base


EventHandler: type = _event_handler_base()
"""The real ``daily.EventHandler`` (a stand-in class when daily-python is absent)."""


def check_event_handler(event_handler: Any) -> None:
    """``CallClient(event_handler)`` accepts only ``EventHandler`` subclasses."""
    if event_handler is not None and not isinstance(event_handler, EventHandler):
        raise TypeError("event_handler should be a subclass of `EventHandler`")


def check_not_released(released: bool) -> None:
    """Every call on a released client raises."""
    if released:
        raise RuntimeError("this object has already been released")


def _check_str(value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"'{type(value).__name__}' object is not an instance of 'str'")


def check_join_args(meeting_url: Any, meeting_token: Any) -> None:
    """The URL and token of ``join()`` must be strings (the token may be ``None``)."""
    _check_str(meeting_url)
    _check_str(meeting_token)


def join_argument_error(meeting_url: str, client_settings: Any) -> str | None:
    """The error a join completes with at once (malformed URL, settings not a dict)."""
    u = urlparse(meeting_url)
    if not (u.scheme and u.netloc):
        return f'Failed to parse url: InvalidUrl("{meeting_url}", RelativeUrlWithoutBase)'
    if client_settings is not None and not isinstance(client_settings, dict):
        return (
            'Invalid client settings: JsonApiError { message: "ClientSettings is not an object" }'
        )
    return None


def _has_huge_int(value: Any) -> bool:
    """An int serde_json cannot hold (outside i64 and u64): the SDK raises at once."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return not -(2**63) <= value < 2**64
    if isinstance(value, dict):
        return any(_has_huge_int(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_huge_int(v) for v in value)
    return False


def _to_json(o: Any) -> Any:
    if isinstance(o, set | frozenset):
        return list(o)
    raise TypeError(f"unsupported type {type(o).__name__}")


def app_message_payload(message: Any, participant_id: Any) -> Any:
    """Check the arguments of ``send_app_message()``; return the message as JSON data
    (what the room receives: sets become lists, tuples lists, keys strings)."""
    if message is None:
        raise ValueError(f"invalid app message '{message}'")
    if participant_id is not None:
        _check_str(participant_id)
        try:
            uuid.UUID(participant_id)
        except ValueError:
            raise ValueError(f"invalid participant ID '{participant_id}'") from None
    if isinstance(message, bytes | bytearray):
        raise Exception("invalid type: byte array, expected any valid JSON value")
    payload = json.loads(json.dumps(message, default=_to_json))
    if _has_huge_int(payload):
        raise Exception("JSON number out of range")
    return payload
