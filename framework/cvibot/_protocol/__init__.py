"""The Tavus CVI protocol as pure data, no I/O (protocol reference §2-§6).

- :mod:`~cvibot._protocol.events`: inbound event models;
- :mod:`~cvibot._protocol.parse`: :func:`parse_event`, which accepts every documented shape
  of an inbound message and rejects the rest with a reason (helped by
  :mod:`~cvibot._protocol.builders`, :mod:`~cvibot._protocol.fields` and
  :mod:`~cvibot._protocol.rejection`);
- :mod:`~cvibot._protocol.bounds`: the depth (:data:`MAX_DEPTH`) and size
  (:data:`MAX_SIZE`) an inbound message may have, measured before anything recurses;
- :mod:`~cvibot._protocol.interactions`: outbound interaction models, their exact JSON, and
  the app-message size limit;
- :mod:`~cvibot._protocol.text`: :func:`valid_unicode`, which mends the lone UTF-16
  surrogates inbound text may carry before it leaves the bot.
"""

from __future__ import annotations

from cvibot._protocol.bounds import MAX_DEPTH, MAX_SIZE
from cvibot._protocol.events import (
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
from cvibot._protocol.interactions import (
    DEFAULT_MESSAGE_LIMIT,
    AppendContext,
    Echo,
    EncodedMessage,
    Interaction,
    Interrupt,
    MessageTooLarge,
    OverwriteContext,
    Respond,
    Sensitivity,
    SensitivityLevel,
    ToolResult,
    check_size,
    encode_interaction,
    encode_message,
    fit_to_limit,
)
from cvibot._protocol.parse import Rejection, RejectReason, parse_event
from cvibot._protocol.text import valid_unicode

__all__ = [
    "DEFAULT_MESSAGE_LIMIT",
    "INTERACTION_TYPES",
    "MAX_DEPTH",
    "MAX_SIZE",
    "AppendContext",
    "Echo",
    "EncodedMessage",
    "Event",
    "ForeignInteraction",
    "Frame",
    "Interaction",
    "Interrupt",
    "MessageTooLarge",
    "OverwriteContext",
    "PerceptionAnalysis",
    "PerceptionToolCall",
    "RejectReason",
    "Rejection",
    "ReplicaInterrupted",
    "ReplicaJoined",
    "Respond",
    "Sensitivity",
    "SensitivityLevel",
    "Shutdown",
    "SpeakingStarted",
    "SpeakingStopped",
    "ToolCall",
    "ToolResult",
    "UnknownEvent",
    "Utterance",
    "UtteranceStreaming",
    "check_size",
    "encode_interaction",
    "encode_message",
    "fit_to_limit",
    "normalise_role",
    "parse_event",
    "valid_unicode",
]
