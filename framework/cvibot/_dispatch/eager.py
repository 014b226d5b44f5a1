"""Starting a tool call's task within the loop pass that received the call.

``loop.create_task`` schedules a task's first step for the loop's next pass, so a call
would wait for one more ``select`` and pass of the ready queue before its handler
starts (about a fifth of a call's time on the bench's Daily path). :func:`start_task`
runs that first step at once, as Python 3.12's eager tasks do, when the loop is idle:
its ready queue holds nothing but the SDK thread's own hand-offs of that pass (the
self-pipe reader, and at most one more). A busy loop (a burst of calls, other callbacks
waiting) gets a plain ``create_task``: its calls' first steps then run together on the
next pass, in order after the work already waiting, which is what keeps a burst's
throughput (eager steps there would interleave each answer's send with the SDK thread's
deliveries).

How the step is run at once:

- on Python 3.12 and later, through ``asyncio.Task(..., eager_start=True)`` (what
  ``asyncio.eager_task_factory`` uses);
- on Python 3.11 with the standard event loop (``asyncio.BaseEventLoop``), by running
  the task's first step, which ``create_task`` has just appended to the loop's ready
  queue, now, and cancelling its handle there. The step runs as a task step always
  runs (the task is the current task, in the task's own context), only sooner;
- anywhere else (uvloop, a loop of another kind, a caller already inside a task on
  3.11), as a plain ``create_task``.

A handler that finishes without suspending (a no-op, a cached answer) has then answered
before the loop waits again.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

if sys.version_info < (3, 12):
    # asyncio.current_task is a Python function on 3.11; its table is what it reads.
    from asyncio.tasks import _current_tasks  # type: ignore[attr-defined]

__all__ = ["start_task"]

T = TypeVar("T")

_EAGER_START = sys.version_info >= (3, 12)

# Callbacks the ready queue may hold for the loop to count as idle: the self-pipe reader
# that the SDK thread's hand-off of this very message queued in the same pass, and the
# SDK mailbox's next drain when that thread posted again meanwhile (most often the
# previous answer's send confirmation). Measured on bench_dispatch --daily-only: with 1,
# an idle machine's slow wake-ups lose the eager start (p50 ratio 1.03-1.51); with 2,
# 0.77-0.84 there, and a burst still goes to the next pass (throughput ratio unchanged
# when pinned to one core, 0.64-0.68).
_IDLE_READY = 2


def start_task(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """A task for ``coro`` on ``loop`` (the running loop), its first step already run
    where the loop allows it (see the module docstring). The task may be done on return.
    """
    ready = getattr(loop, "_ready", None)
    if ready is None or len(ready) > _IDLE_READY:  # busy, or a loop we cannot see into
        return loop.create_task(coro)
    if _EAGER_START:
        return asyncio.Task(coro, loop=loop, eager_start=True)  # type: ignore[call-arg,unused-ignore]
    task = loop.create_task(coro)
    # Not from inside a task: its step cannot start another task's (3.11 refuses it).
    if _current_tasks.get(loop) is None:
        # Other threads append to the ready queue (call_soon_threadsafe) at any moment,
        # so it is never popped here: the step is run, then its handle cancelled in
        # place, and the loop skips it when it comes to it.
        step = ready[-1]
        if getattr(step._callback, "__self__", None) is task:
            step._run()
            step.cancel()
    return task
