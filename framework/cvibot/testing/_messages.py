"""The app-messages a fake conversation sends the bot, in the shapes Tavus uses.

Pure functions from a call's fields to the JSON-ready dict of protocol reference §4:
``conversation.tool_call`` in the official shape and the older ones of §4.4,
``conversation.perception_tool_call`` (§4.5) and a final user ``conversation.utterance``
(§4.2). Every message carries the envelope of §2: ``message_type``, ``event_type``,
``conversation_id`` (left out when ``None``), ``seq``, ``turn_idx``, ``inference_id``
and ``timestamp`` (Unix seconds).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

__all__ = [
    "SHAPES",
    "CallShape",
    "Envelope",
    "perception_tool_call_message",
    "tool_call_message",
    "utterance_message",
]

CallShape = Literal["official", "legacy", "function"]
"""How a tool call is spelled (protocol reference §4.4, D1-D4):

- ``official``: ``properties.name``, ``properties.arguments`` as JSON text,
  ``properties.tool_call_id``, ``inference_id`` at the top level;
- ``legacy``: the seed skill doc's ``properties.tool_name``, arguments as an object,
  ``inference_id`` inside ``properties``; a ``tool_call_id`` goes at the top level;
- ``function``: the nested ``properties.function.{name, arguments}`` some clients read.
"""

SHAPES: tuple[CallShape, ...] = ("official", "legacy", "function")


class Envelope:
    """The envelope fields of one inbound message (protocol reference §2)."""

    __slots__ = ("conversation_id", "inference_id", "seq", "turn_idx")

    def __init__(
        self, *, conversation_id: str | None, seq: int, turn_idx: int, inference_id: str | None
    ) -> None:
        self.conversation_id = conversation_id
        self.seq = seq
        self.turn_idx = turn_idx
        self.inference_id = inference_id

    def message(
        self, event_type: str, properties: dict[str, Any], *, inference_id: bool = True
    ) -> dict[str, Any]:
        """The whole message; ``inference_id=False`` leaves that field to ``properties``."""
        message: dict[str, Any] = {"message_type": "conversation", "event_type": event_type}
        if self.conversation_id is not None:
            message["conversation_id"] = self.conversation_id
        message["seq"] = self.seq
        message["turn_idx"] = self.turn_idx
        if inference_id and self.inference_id is not None:
            message["inference_id"] = self.inference_id
        message["timestamp"] = time.time()
        message["properties"] = properties
        return message


def tool_call_message(
    envelope: Envelope,
    name: str,
    arguments: Mapping[str, Any] | str | None,
    *,
    tool_call_id: str | None,
    shape: CallShape = "official",
) -> dict[str, Any]:
    """A ``conversation.tool_call`` of ``shape``.

    ``arguments`` is a mapping (JSON-encoded where the shape wants text), a string sent
    as is (to send text that is not JSON, say) or ``None`` to leave the field out.
    ``tool_call_id`` ``None`` leaves the id out (the older events, D3).
    Raises ``ValueError`` for an unknown shape.
    """
    if shape == "official":
        props: dict[str, Any] = {"name": name}
        if arguments is not None:
            props["arguments"] = _as_text(arguments)
        if tool_call_id is not None:
            props["tool_call_id"] = tool_call_id
        return envelope.message("conversation.tool_call", props)
    if shape == "legacy":
        props = {"tool_name": name}
        if arguments is not None:
            props["arguments"] = arguments if isinstance(arguments, str) else dict(arguments)
        if envelope.inference_id is not None:
            props["inference_id"] = envelope.inference_id
        message = envelope.message("conversation.tool_call", props, inference_id=False)
        if tool_call_id is not None:
            message["tool_call_id"] = tool_call_id
        return message
    if shape == "function":
        function: dict[str, Any] = {"name": name}
        if arguments is not None:
            function["arguments"] = _as_text(arguments)
        props = {"function": function}
        if tool_call_id is not None:
            props["tool_call_id"] = tool_call_id
        return envelope.message("conversation.tool_call", props)
    raise ValueError(f"unknown tool call shape {shape!r} (shapes: {', '.join(SHAPES)})")


def perception_tool_call_message(
    envelope: Envelope,
    name: str,
    arguments: Mapping[str, Any] | str | None,
    *,
    modality: str,
    frames: Sequence[Mapping[str, Any] | str] | None = None,
    tool_call_id: str | None = None,
) -> dict[str, Any]:
    """A ``conversation.perception_tool_call`` (§4.5).

    ``vision`` calls carry their arguments as an object and ``frames`` (``{data,
    mime_type}`` objects or base64 strings) when given; ``audio`` calls carry JSON text.
    The typings have no ``inference_id`` and no ``tool_call_id``; one given is sent in
    ``properties``.
    """
    props: dict[str, Any] = {"modality": modality, "name": name}
    if arguments is not None:
        if modality == "vision" and not isinstance(arguments, str):
            props["arguments"] = dict(arguments)
        else:
            props["arguments"] = _as_text(arguments)
    if frames is not None:
        props["frames"] = [f if isinstance(f, str) else dict(f) for f in frames]
    if tool_call_id is not None:
        props["tool_call_id"] = tool_call_id
    return envelope.message("conversation.perception_tool_call", props, inference_id=False)


def utterance_message(envelope: Envelope, speech: str, *, role: str = "user") -> dict[str, Any]:
    """A final ``conversation.utterance`` of ``role`` saying ``speech`` (§4.2)."""
    return envelope.message("conversation.utterance", {"role": role, "speech": speech})


def _as_text(arguments: Mapping[str, Any] | str) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(dict(arguments))
