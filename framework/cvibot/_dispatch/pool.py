"""The threads that run sync tool handlers, which stuck handlers cannot starve.

A sync handler cannot be stopped once it runs: when its call times out or is cancelled,
the call is answered but the thread goes on until the handler returns. Such a thread is
a *zombie*. :class:`ToolPool` counts zombies apart from live work: ``workers`` calls run
at once (live), and a zombie gives its slot back at once, so a new thread (up to
``max_threads`` threads in all, zombies included) serves the next call. When every
thread up to the cap is taken, a call fails at once with :class:`PoolBusy` instead of
waiting behind handlers that may never return.

Threads are daemon threads and are never joined: a stuck handler never keeps the
process alive, and :meth:`ToolPool.shutdown` returns at once.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any

from cvibot._errors import CvibotError

__all__ = ["PoolBusy", "PoolStats", "ToolPool"]


class PoolBusy(CvibotError, RuntimeError):
    """No thread could be had for a sync handler: every thread up to the cap is busy."""


@dataclass(frozen=True, slots=True)
class PoolStats:
    """A snapshot of a :class:`ToolPool`: thread and call counts."""

    threads: int  # threads alive, zombies included
    idle: int  # threads waiting for work
    live: int  # calls running that someone still waits for
    zombies: int  # threads still running a call that was abandoned
    pending: int  # calls waiting for a live slot
    busy_refusals: int  # calls failed with PoolBusy so far


class _Job:
    __slots__ = ("args", "fn", "future", "kwargs", "zombie")

    def __init__(
        self, future: Future[Any], fn: Callable[..., Any] | None, args: Any, kwargs: Any
    ) -> None:
        self.future = future
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.zombie = False

    def run(self) -> None:
        if self.fn is None or not self.future.set_running_or_notify_cancel():
            return
        try:
            result = self.fn(*self.args, **self.kwargs)
        except BaseException as exc:
            self.future.set_exception(exc)
        else:
            self.future.set_result(result)
        finally:
            self.fn = self.args = self.kwargs = None  # drop references early


class ToolPool(Executor):
    """A thread pool for sync handlers that accounts for zombies.

    ``workers`` (>= 1) calls run at once; more wait in submission order (the dispatcher
    bounds how many). ``max_threads`` (>= ``workers``) caps the threads, zombies
    included; a call that gets a live slot but no thread fails with :class:`PoolBusy`.
    Up to ``workers`` idle threads are kept for reuse; the others end.
    :meth:`abandon` marks a call whose caller gave up (timeout, cancellation).
    Thread-safe; ``submit`` never blocks.
    """

    def __init__(self, workers: int, max_threads: int, *, name: str = "cvibot-tool") -> None:
        if workers < 1 or max_threads < workers:
            raise ValueError(f"need 1 <= workers <= max_threads (got {workers}, {max_threads})")
        self.workers = workers
        self.max_threads = max_threads
        self._name = name
        self._lock = threading.Lock()
        self._handoff: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._pending: deque[_Job] = deque()
        self._running: dict[Future[Any], _Job] = {}
        self._threads = 0
        self._idle = 0
        self._live = 0
        self._zombies = 0
        self._busy = 0
        self._serial = 0
        self._closed = False

    @property
    def stats(self) -> PoolStats:
        with self._lock:
            return PoolStats(
                threads=self._threads,
                idle=self._idle,
                live=self._live,
                zombies=self._zombies,
                pending=len(self._pending),
                busy_refusals=self._busy,
            )

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Run ``fn(*args, **kwargs)`` in a pool thread; the future fails with
        :class:`PoolBusy` (already done on return) when no thread can be had, and with
        ``RuntimeError`` after :meth:`shutdown`."""
        future: Future[Any] = Future()
        job = _Job(future, fn, args, kwargs)
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot submit after shutdown")
            if self._live >= self.workers:
                self._pending.append(job)
                return future
            failed = not self._start(job)
        if failed:
            self._refuse(job)
        return future

    def abandon(self, future: Future[Any]) -> None:
        """The caller no longer waits for ``future``: a pending call is dropped, a running
        one's thread becomes a zombie and gives its live slot to the next call."""
        if future.cancel():
            return  # still pending: it will never run
        refused: list[_Job] = []
        with self._lock:
            job = self._running.get(future)
            if job is None or job.zombie:
                return
            job.zombie = True
            self._zombies += 1
            self._live -= 1
            refused = self._fill()
        for other in refused:
            self._refuse(other)

    def shutdown(self, wait: bool = False, *, cancel_futures: bool = True) -> None:
        """Stop taking calls and cancel pending ones; idle threads end. Never joins a
        thread (``wait`` is ignored): running handlers finish on their own."""
        with self._lock:
            self._closed = True
            pending = list(self._pending) if cancel_futures else []
            if cancel_futures:
                self._pending.clear()
            idle = self._idle
        for job in pending:
            job.future.cancel()
        for _ in range(idle):
            self._handoff.put(None)

    # -- internals (``_start`` and ``_fill`` are called with the lock held) -------------

    def _start(self, job: _Job) -> bool:
        """Give ``job`` a live slot and a thread; False when no thread can be had."""
        if self._idle:
            self._idle -= 1
            self._handoff.put(job)
        elif self._threads < self.max_threads:
            self._threads += 1
            self._serial += 1
            threading.Thread(
                target=self._work,
                args=(job,),
                name=f"{self._name}-{self._serial}",
                daemon=True,
            ).start()
        else:
            return False
        self._live += 1
        self._running[job.future] = job
        return True

    def _fill(self) -> list[_Job]:
        """Start pending jobs while live slots are free; return those that got no thread."""
        refused: list[_Job] = []
        while self._pending and self._live < self.workers:
            job = self._pending.popleft()
            if job.future.cancelled():
                continue
            if not self._start(job):
                refused.append(job)
        return refused

    def _refuse(self, job: _Job) -> None:
        with self._lock:
            self._busy += 1
        if job.future.set_running_or_notify_cancel():
            job.future.set_exception(
                PoolBusy(
                    f"no thread free for a sync handler ({self.max_threads} threads busy, "
                    "some with calls that timed out)"
                )
            )

    def _work(self, job: _Job | None) -> None:
        while job is not None:
            job.run()
            with self._lock:
                del self._running[job.future]
                if job.zombie:
                    self._zombies -= 1
                else:
                    self._live -= 1
                job = None
                # This thread takes the next pending call itself when a slot is free.
                while self._pending and self._live < self.workers:
                    candidate = self._pending.popleft()
                    if not candidate.future.cancelled():
                        job = candidate
                        self._live += 1
                        self._running[job.future] = job
                        break
                if job is None:
                    if self._closed or self._idle >= self.workers:
                        self._threads -= 1
                        exiting = True
                    else:
                        self._idle += 1
                        exiting = False
            if job is None:
                if exiting:
                    return
                job = self._handoff.get()
        with self._lock:  # woken by shutdown
            self._idle -= 1
            self._threads -= 1
