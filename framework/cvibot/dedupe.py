"""Recognising a message seen before: the keys of the session's duplicate checks.

Protocol reference §6 rule 5: tool calls by ``tool_call_id``, else ``seq``, else a hash
of name, raw arguments and ``inference_id``; the ``role: "pal"`` / ``"replica"`` twins of
one replica-side event (D6) by event type, ``inference_id`` and position.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable

from cvibot.protocol.events import (
    Event,
    SpeakingStarted,
    SpeakingStopped,
    ToolCall,
    Utterance,
    UtteranceStreaming,
)

__all__ = ["RecentKeys", "call_key", "twin_key"]


class RecentKeys:
    """A set that remembers the last ``capacity`` keys (duplicates come close together)."""

    __slots__ = ("_capacity", "_order", "_set")

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._set: set[Hashable] = set()
        self._order: deque[Hashable] = deque()

    def add(self, key: Hashable) -> bool:
        """Add ``key``; False if it was already there."""
        if key in self._set:
            return False
        self._set.add(key)
        self._order.append(key)
        if len(self._order) > self._capacity:
            self._set.discard(self._order.popleft())
        return True


def call_key(call: ToolCall) -> Hashable:
    """The key a tool call is deduplicated by."""
    if call.tool_call_id is not None:
        return ("id", call.tool_call_id)
    if call.seq is not None:
        return ("seq", call.seq)
    return ("hash", call.name, repr(call.raw_arguments), call.inference_id)


def twin_key(event: Event) -> Hashable | None:
    """The key shared by the ``pal`` and legacy ``replica`` copies of one event, if any."""
    # Docs-PAL sends each replica-side event twice: role "pal" and a legacy "replica"
    # duplicate, otherwise identical (protocol reference §4.2, D6).
    if not isinstance(event, Utterance | UtteranceStreaming | SpeakingStarted | SpeakingStopped):
        return None
    if event.original_role not in ("pal", "replica") or event.inference_id is None:
        return None
    index = event.content_index if isinstance(event, UtteranceStreaming) else None
    final = event.final if isinstance(event, UtteranceStreaming) else None
    return (event.event_type, event.inference_id, index, final)
