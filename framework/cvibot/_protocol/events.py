"""Inbound event models: what :func:`cvibot._protocol.parse.parse_event` produces.

Every model is a frozen, slotted, keyword-only dataclass deriving from :class:`Event`, which
carries the common envelope (protocol reference §2). The parser has already reconciled the
documented variants (§5), so consumers read one shape:

- ``inference_id`` is taken from the top level, else from ``properties`` (D4);
- ``timestamp`` is Unix seconds as a float, whether Tavus sent a number or an ISO-8601
  string (D13);
- roles are normalised, ``"pal"`` becoming ``"replica"`` (D6), with the value as received
  kept in ``original_role``;
- the tool name and arguments of a tool call are found under any documented key (D1, D2).

The raw ``properties`` object and the whole decoded message stay available for anything
the models do not cover.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "INTERACTION_TYPES",
    "Event",
    "ForeignInteraction",
    "Frame",
    "PerceptionAnalysis",
    "PerceptionToolCall",
    "ReplicaInterrupted",
    "ReplicaJoined",
    "Shutdown",
    "SpeakingStarted",
    "SpeakingStopped",
    "ToolCall",
    "UnknownEvent",
    "Utterance",
    "UtteranceStreaming",
    "normalise_role",
]

INTERACTION_TYPES: frozenset[str] = frozenset(
    {
        "conversation.echo",
        "conversation.respond",
        "conversation.interrupt",
        "conversation.overwrite_llm_context",
        "conversation.append_llm_context",
        "conversation.sensitivity",
        "conversation.tool_result",
        # Seed-only spellings (D8): never sent by cvibot, but a browser client may.
        "conversation.overwrite_context",
        "conversation.append_context",
    }
)
"""Event types of the interactions a client sends (protocol reference §3).

Seen inbound they are another participant's messages (the human's browser broadcasts with
``'*'``), parsed as :class:`ForeignInteraction` so the session can drop them (§6 rule 2).
"""


def normalise_role(value: str) -> str:
    """Return the role with ``"pal"`` mapped to ``"replica"`` (protocol reference D6).

    Docs-PAL events say ``"pal"`` and also send a legacy duplicate saying ``"replica"``;
    mapping both to one value lets the session dedupe the pair. Any other value (``"user"``,
    or an unknown future role) is returned unchanged, case included.
    """
    return "replica" if value == "pal" else value


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of every parsed event: the common envelope (protocol reference §2).

    - ``event_type``: the discriminator as received, e.g. ``"conversation.tool_call"``.
    - ``message_type``: ``"conversation"`` for interaction events, ``"system"`` for system
      events; ``None`` when absent.
    - ``conversation_id``: ``None`` when absent or empty (Docs-PAL omits it when empty).
    - ``seq``: globally monotonic event number, for re-ordering; ``None`` on older events.
    - ``turn_idx``: groups the events of one turn; ``None`` when not tied to a turn.
    - ``timestamp``: creation time in Unix seconds (ISO-8601 strings converted, D13).
    - ``inference_id``: top level first, then ``properties.inference_id`` (D4).
    - ``properties``: the raw ``properties`` object, ``{}`` when absent.
    - ``raw``: the whole decoded message.
    """

    event_type: str
    message_type: str | None = None
    conversation_id: str | None = None
    seq: int | None = None
    turn_idx: int | None = None
    timestamp: float | None = None
    inference_id: str | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_replica_interruption(self) -> bool:
        """True when the event says the user barged in on the replica (D7).

        That is a :class:`ReplicaInterrupted` (either legacy spelling) or a
        :class:`SpeakingStopped` with role ``"replica"`` and ``interrupted`` true.
        """
        return False


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCall(Event):
    """``conversation.tool_call``: the replica's LLM asks the client to run a tool (§4.4).

    - ``name``: from ``properties.name``, ``properties.tool_name`` or
      ``properties.function.name`` (D1).
    - ``arguments``: the decoded arguments object; a JSON string is decoded, an object is
      used as is, ``""`` or an absent value gives ``{}`` (D2).
    - ``raw_arguments``: the arguments exactly as received (``None`` when absent).
    - ``tool_call_id``: ``properties.tool_call_id``, else a top-level ``tool_call_id``
      (§6 rule 6); ``None`` for calls of the older shape (D3), which must be answered with
      echo or append rather than ``conversation.tool_result``.
    """

    name: str
    arguments: dict[str, Any]
    raw_arguments: Any = None
    tool_call_id: str | None = None


@dataclass(frozen=True, slots=True)
class Frame:
    """One image of a vision perception tool call (§4.5).

    ``data`` is base64 (JPEG in the documented shape); ``mime_type`` e.g. ``"image/jpeg"``,
    ``None`` when the frame arrived as a bare string.
    """

    data: str
    mime_type: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PerceptionToolCall(ToolCall):
    """``conversation.perception_tool_call``: a Raven perception tool fired (§4.5, §6 rule 7).

    Vision calls usually carry object arguments and ``frames``; audio calls carry JSON-string
    arguments and no frames. A missing ``tool_call_id`` is normal: perception tools are
    fire-and-forget unless their ``on_resolve`` says otherwise.

    - ``modality``: ``"vision"`` or ``"audio"``, kept verbatim; ``None`` on older events.
    - ``frames``: the frames in order; ``()`` when absent.
    """

    modality: str | None = None
    frames: tuple[Frame, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Utterance(Event):
    """``conversation.utterance``: a complete user or replica turn (§4.2).

    - ``role``: normalised (``"pal"`` → ``"replica"``, D6); ``original_role`` as received.
    - ``speech``: from ``speech``, ``content``, ``text`` or ``transcript``, the first that is
      a string (D5). For the replica this is the whole LLM response, which may differ from
      what was heard after a barge-in.
    - ``interrupted``: true when the turn was cut short (only sent when true).
    """

    role: str
    original_role: str
    speech: str
    interrupted: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class UtteranceStreaming(Event):
    """``conversation.utterance.streaming``: a progressive caption chunk (§4.3).

    ``speech`` is the text accumulated so far, not a delta; ``content_index`` orders the
    chunks; ``final`` marks the last one; ``is_interrupted`` is set on the final replica
    chunk when the user barged in. Roles as in :class:`Utterance`.
    """

    role: str
    original_role: str
    speech: str
    content_index: int | None = None
    final: bool = False
    is_interrupted: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeakingStarted(Event):
    """Someone started speaking (§4.7).

    From ``conversation.started_speaking`` (role in ``properties.role``),
    ``conversation.replica.started_speaking`` (role ``"replica"``) or
    ``conversation.user.started_speaking`` (role ``"user"``). Roles as in :class:`Utterance`.
    """

    role: str
    original_role: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeakingStopped(Event):
    """Someone stopped speaking (§4.7).

    From ``conversation.stopped_speaking``, ``conversation.replica.stopped_speaking`` or
    ``conversation.user.stopped_speaking``. ``interrupted`` is true when the user barged in
    on the replica (the modern interruption signal, D7); ``duration`` is in seconds, ``None``
    when not known.
    """

    role: str
    original_role: str
    interrupted: bool = False
    duration: float | None = None

    @property
    def is_replica_interruption(self) -> bool:
        """True for a replica stop with ``interrupted`` set (D7)."""
        return self.interrupted and self.role == "replica"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplicaInterrupted(Event):
    """``conversation.replica_interrupted`` (removed March 2026) or the seed spelling
    ``conversation.replica.interrupted``: the user barged in on the replica (§4.7, D7)."""

    @property
    def is_replica_interruption(self) -> bool:
        """Always true."""
        return True


@dataclass(frozen=True, slots=True, kw_only=True)
class PerceptionAnalysis(Event):
    """``conversation.perception_analysis``: Raven's end-of-call summary (§4.6)."""

    analysis: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplicaJoined(Event):
    """The replica is in the room and ready (§4.8, D16).

    From ``system.replica_joined``, ``system.pal_joined``, ``system.replica_present`` or
    ``system.pal_present``; ``replica_id`` from ``properties`` (webhook shape) when present.
    """

    replica_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Shutdown(Event):
    """``system.shutdown``: the conversation ended (§4.8; reasons listed in §9)."""

    shutdown_reason: str | None = None
    replica_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ForeignInteraction(Event):
    """An interaction type (:data:`INTERACTION_TYPES`) received rather than sent.

    It is another participant's message, e.g. the human's browser broadcasting
    ``conversation.respond``; the session drops it (§6 rule 2).
    """


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownEvent(Event):
    """Any other ``event_type``: observed and logged, never fatal (§6 rule 3).

    Tavus adds event types often (objectives, guardrails, RAG observability, ...).
    """
