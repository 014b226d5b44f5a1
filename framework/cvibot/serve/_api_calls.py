"""The tool calls of ``delivery.api``: reading the request body into the same
:class:`~cvibot._protocol.events.ToolCall` a room delivers, the room-less transport their
session answers through, and the cache that answers a redelivered call
(protocol reference §7.2).

Two body shapes are read (protocol reference §4.4; what Tavus sends is inferred):

- flat: ``{"name", "arguments", "tool_call_id", "conversation_id"?, "inference_id"?}``,
  ``arguments`` a JSON string (as in the room) or an object;
- the app-message envelope: ``{"event_type": "conversation.tool_call"?, "conversation_id",
  "properties": {"name", "arguments", "tool_call_id"}, ...}``.

Both go through :func:`~cvibot._protocol.parse.parse_event`, the parser of the room's
messages, so the same normalisations and bounds apply.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from cvibot._protocol.events import PerceptionToolCall, ToolCall
from cvibot._protocol.parse import Rejection, parse_event
from cvibot.transports._base import Receiver, Transport, TransportError

__all__ = [
    "GENERATED_ID_PREFIX",
    "ApiAnswer",
    "NoRoom",
    "NoRoomTransport",
    "NotAToolCall",
    "read_call",
]

TOOL_CALL: Final = "conversation.tool_call"
TOOL_RESULT: Final = "conversation.tool_result"
#: The ``tool_call_id`` given to a call whose body has none (so that its answer is a
#: result, as for any call of this path); such a call is never taken for a redelivery.
GENERATED_ID_PREFIX: Final = "cvibot-api-"
# Envelope keys carried over from a flat body, besides the tool call's own.
_ENVELOPE_KEYS: Final = ("conversation_id", "inference_id", "seq", "turn_idx", "timestamp")
_CALL_KEYS: Final = ("name", "tool_name", "function", "arguments", "tool_call_id")


class NoRoom(TransportError):
    """A tool call that came over ``delivery.api`` asked for something only the Daily room
    can do (``ctx.echo``, ``ctx.respond``, ``ctx.send``, …): there is no room connection on
    this path. The handler's return value is its answer."""


class NotAToolCall(ValueError):
    """The body is not a tool call this receiver can run (answered 400 with the message)."""


@dataclass(frozen=True, slots=True)
class ApiAnswer:
    """The HTTP answer to one call: ``status``, ``text`` (the tool output or error
    message, UTF-8), ``media_type``; ``outcome`` is the call's outcome kind or why it
    was not run (the ``status`` label of the request counter); ``tool`` the label of
    the tool (its name when registered, else ``unknown``)."""

    status: int
    text: str
    media_type: str
    outcome: str
    tool: str


def read_call(message: Any) -> ToolCall | Rejection:
    """The tool call of a decoded body of either shape (see the module docstring).

    Returns a :class:`Rejection` as the room's parser does (malformed arguments, a
    field of the wrong type, too deep), which keeps the ``tool_call_id`` when it could
    be read. A body without ``tool_call_id`` gets one made up
    (:data:`GENERATED_ID_PREFIX` and a random hex). Raises :class:`NotAToolCall` for
    a body that is not a JSON object, an envelope of another event type (a perception
    tool call included) or one with neither ``properties`` nor ``name``.
    """
    if not isinstance(message, dict):
        raise NotAToolCall(f"the body must be a JSON object, not {_json_type(message)}")
    if "properties" in message or "event_type" in message:
        envelope = dict(message)
        envelope.setdefault("event_type", TOOL_CALL)
        if envelope["event_type"] != TOOL_CALL:
            raise NotAToolCall(
                f"event_type must be {TOOL_CALL!r} on this endpoint, "
                f"not {_short(envelope['event_type'])}"
            )
    elif any(key in message for key in _CALL_KEYS):
        envelope = {key: message[key] for key in _ENVELOPE_KEYS if key in message}
        envelope["event_type"] = TOOL_CALL
        envelope["properties"] = {key: message[key] for key in _CALL_KEYS if key in message}
    else:
        raise NotAToolCall("the body is not a tool call: it has neither properties nor name")
    parsed = parse_event(envelope)
    if isinstance(parsed, Rejection):
        return parsed
    if not isinstance(parsed, ToolCall) or isinstance(parsed, PerceptionToolCall):
        raise NotAToolCall(f"the body is a {parsed.event_type}, not a tool call")
    if parsed.tool_call_id is None:
        parsed = replace(parsed, tool_call_id=GENERATED_ID_PREFIX + uuid.uuid4().hex)
    return parsed


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class NoRoomTransport(Transport):
    """The transport of a ``delivery.api`` call's session: it carries the call's answer
    (a ``conversation.tool_result``, which the receiver turns into the HTTP answer) and
    refuses every other interaction with :class:`NoRoom`."""

    name = "delivery.api"

    async def run(self, receiver: Receiver) -> None:
        """Nothing arrives on this path but the one call, dispatched directly."""

    async def send(self, message: Mapping[str, Any], to: str | None = None) -> None:
        kind = message.get("event_type")
        if kind != TOOL_RESULT:
            raise NoRoom(
                f"{kind} needs the Daily room, and this tool call came over delivery.api "
                "(POST /v1/tools/tavus), which has none: return the answer from the handler"
            )

    def describe(self) -> str:
        return "delivery.api (no room)"
