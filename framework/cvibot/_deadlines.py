"""Many deadlines behind one loop timer: the tool calls' timeouts.

Every tool call that outlasts its task's first step has a timeout, and nearly all of
them are cancelled long before they fall due (tools differ in timeout, so unlike the
Daily outbox's send confirmations they do not fall due in the order they were set).
One ``loop.call_at`` handle per deadline costs a Python object, a heap push with
Python-level comparisons and a cancel each time; at thousands of calls a second that is
a visible share of the loop's time. :class:`Deadlines` keeps them in one heap of plain
tuples instead, with a single ``call_at`` armed for the earliest one; a cancelled
deadline is only marked, and the heap is compacted once more than half of it is
cancelled (asyncio does the same for its own timers), so memory stays proportional to
the deadlines that are live.

Callbacks run on the loop, in deadline order, exactly as a ``call_at`` handle would run
them: never before their time, at most once, never after :meth:`Deadlines.cancel`.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Callable
from typing import Any

__all__ = ["Deadline", "Deadlines"]

Deadline = list[Any]
"""A deadline's token: ``[callback, argument]``, both ``None`` once fired or cancelled."""

# Cancelled entries the heap may hold before it is compacted, whatever its size.
_SLACK = 64


class Deadlines:
    """Deadlines (loop time, seconds) on the running loop, fired by one timer.

    :meth:`add` returns a token for :meth:`cancel`. A callback that raises is reported to
    the loop's exception handler, as a ``call_at`` handle's would be, and the others still
    run. Use from the loop's thread only.
    """

    __slots__ = ("_cancelled", "_heap", "_loop", "_seq", "_timer", "_timer_at")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Deadline]] = []
        self._seq = 0  # ties broken by order of arrival; tokens are never compared
        self._cancelled = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    def __len__(self) -> int:
        """Deadlines in the heap, cancelled ones not yet compacted included."""
        return len(self._heap)

    def add(self, when: float, callback: Callable[[Any], object], argument: Any) -> Deadline:
        """Run ``callback(argument)`` at loop time ``when`` unless cancelled first."""
        token: Deadline = [callback, argument]
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, token))
        if self._timer is None or when < self._timer_at:
            self._arm(when)
        elif self._loop is not asyncio.get_running_loop():  # armed on a loop gone since
            self._arm(self._heap[0][0])
        return token

    def cancel(self, token: Deadline) -> None:
        """Forget the deadline of ``token``; a no-op once it fired or was cancelled."""
        if token[0] is None:
            return
        token[0] = token[1] = None
        self._cancelled += 1
        heap = self._heap
        if self._cancelled > _SLACK and 2 * self._cancelled > len(heap):
            heap[:] = [entry for entry in heap if entry[2][0] is not None]
            heapq.heapify(heap)
            self._cancelled = 0

    def close(self) -> None:
        """Cancel every deadline and the timer."""
        for _, _, token in self._heap:
            token[0] = token[1] = None
        self._heap.clear()
        self._cancelled = 0
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, when: float) -> None:
        loop = self._loop = asyncio.get_running_loop()
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(when, self._fire)
        self._timer_at = when

    def _fire(self) -> None:
        assert self._loop is not None
        self._timer = None
        # The loop ran the timer, so its time counts as come even if the clock reads a
        # hair earlier (asyncio allows for the clock's resolution).
        now = max(self._loop.time(), self._timer_at)
        heap = self._heap
        while heap and (heap[0][0] <= now or heap[0][2][0] is None):
            _, _, token = heapq.heappop(heap)
            callback, argument = token
            if callback is None:
                self._cancelled -= 1
                continue
            token[0] = token[1] = None
            try:
                callback(argument)
            except Exception as exc:
                self._loop.call_exception_handler(
                    {"message": f"Exception in deadline callback {callback!r}", "exception": exc}
                )
        # A callback may have armed the timer already, for a later deadline than the head.
        if heap and (self._timer is None or self._timer_at > heap[0][0]):
            self._arm(heap[0][0])
