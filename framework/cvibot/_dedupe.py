"""Recognising a message seen before: the keys of the session's duplicate checks.

Protocol reference §6 rule 5: tool calls by ``tool_call_id`` alone (a new call may reuse a
``seq`` seen before, and must still be answered), calls without one by ``seq``, else a
hash of name, raw arguments and ``inference_id``; other events by ``seq``; the
``role: "pal"`` / ``"replica"`` twins of one replica-side event (D6) by event type,
``inference_id`` and position. What is remembered is bounded by time and count
(:class:`RecentKeys`).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Hashable

from cvibot._protocol.events import (
    Event,
    SpeakingStarted,
    SpeakingStopped,
    ToolCall,
    Utterance,
    UtteranceStreaming,
)

__all__ = ["RecentKeys", "call_key", "twin_key"]


class RecentKeys:
    """A set that forgets its keys ``max_age`` seconds after they were added, and keeps at
    most ``capacity`` of them (the oldest go first).

    Duplicates come close together (a redelivery, the ``pal``/``replica`` twin), so a
    window of minutes catches them while a flood of unique keys cannot grow memory past
    ``capacity``. ``clock`` gives monotonic seconds (``time.monotonic``; injectable for
    tests). Each :meth:`add` is amortised O(1): keys leave in the order they came.
    Raises ``ValueError`` for a ``capacity`` below 1 or a ``max_age`` not above 0.
    """

    __slots__ = ("_capacity", "_clock", "_expiries", "_max_age", "_order", "_set")

    def __init__(
        self,
        capacity: int,
        max_age: float = math.inf,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity!r}")
        if not max_age > 0:
            raise ValueError(f"max_age must be greater than 0, not {max_age!r}")
        self._capacity = capacity
        self._max_age = max_age
        self._clock = clock
        self._set: set[Hashable] = set()
        # The keys oldest first, and when each expires: one fixed max_age keeps both in
        # expiry order. Two deques rather than one of pairs: no tuple (and no object for
        # the garbage collector to track) per key.
        self._order: deque[Hashable] = deque()
        self._expiries: deque[float] = deque()

    def add(self, key: Hashable) -> bool:
        """Add ``key``; False if it was already there (its age is not renewed)."""
        now = self._clock()
        expiries = self._expiries
        keys = self._set
        if expiries and expiries[0] <= now:
            order = self._order
            while expiries and expiries[0] <= now:
                expiries.popleft()
                keys.discard(order.popleft())
        if key in keys:
            return False
        keys.add(key)
        self._order.append(key)
        expiries.append(now + self._max_age)
        if len(expiries) > self._capacity:
            expiries.popleft()
            keys.discard(self._order.popleft())
        return True

    def __len__(self) -> int:
        """How many keys are kept, expired ones not yet purged included."""
        return len(self._set)


def call_key(call: ToolCall) -> Hashable:
    """The key a tool call is deduplicated by: its ``tool_call_id`` itself (a string, so
    no tuple is made per call; it never equals the tuples of calls without one), else
    ``("seq", seq)``, else a hash of its name, arguments and ``inference_id``."""
    if call.tool_call_id is not None:
        return call.tool_call_id
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
