"""The process-wide bound on tool calls waiting for a slot (backpressure).

Each conversation's dispatcher bounds the calls waiting in it; :class:`WaitingBound`,
shared by every conversation of a bot, bounds them all together. Past either bound a
call is answered at once with a ``busy`` error, so a flood of calls costs a bounded
amount of memory. Used on the event loop thread only.
"""

from __future__ import annotations

__all__ = ["WaitingBound"]


class WaitingBound:
    """At most ``limit`` calls (>= 0) wait at once across the conversations sharing it."""

    __slots__ = ("limit", "waiting")

    def __init__(self, limit: int = 1024) -> None:
        if limit < 0:
            raise ValueError(f"limit must be >= 0, not {limit}")
        self.limit = limit
        self.waiting = 0

    def take(self) -> bool:
        """Count one more waiting call; False (nothing counted) when the bound is reached."""
        if self.waiting >= self.limit:
            return False
        self.waiting += 1
        return True

    def release(self) -> None:
        """One waiting call stopped waiting (it started or ended)."""
        self.waiting -= 1
