"""The emitter thread of one fake client: where every event and completion runs (§0.3)."""

from __future__ import annotations

import queue
import random
import threading
import traceback
from collections.abc import Callable
from typing import Any

__all__ = ["Emitter", "Job"]

Job = Callable[[], None]


class Emitter:
    """A daemon thread running a FIFO of jobs, and the record of what ran on it.

    A job that raises prints its traceback (kept in :attr:`callback_errors`) and the
    thread carries on, as the SDK does. Jobs passed to :meth:`defer` (from a job) run in
    random order once no job has arrived for :attr:`linger` seconds, or before the
    thread stops.
    """

    def __init__(self, handler: Any, rng: random.Random, linger: float) -> None:
        self._handler = handler
        self._rng = rng
        self.linger = linger
        self._q: queue.Queue[Job | None] = queue.Queue()
        self._deferred: list[Job] = []
        self.callbacks: list[tuple[str, str]] = []
        """Every callback run: ``(name, thread name)``."""
        self.off_emitter: list[str] = []
        """Callbacks that ran on another thread than the emitter (should stay empty)."""
        self.callback_errors: list[str] = []
        """The traceback of every job that raised."""
        self._thread = threading.Thread(target=self._run, name="fake-daily-emitter", daemon=True)
        self._thread.start()

    def put(self, job: Job) -> None:
        """Queue ``job`` to run after every job queued before it."""
        self._q.put(job)

    def defer(self, job: Job) -> None:
        """Hold ``job`` back to run shuffled with the other deferred ones."""
        self._deferred.append(job)

    def stop(self) -> None:
        """Run what is queued (and deferred), then end the thread; blocks until it has."""
        self._q.put(None)
        self._thread.join()

    def emit(self, name: str, *args: Any) -> None:
        """Call the handler's ``name`` method, if it has one."""
        self._record(name)
        fn = getattr(self._handler, name, None) if self._handler is not None else None
        if fn is not None:
            fn(*args)

    def complete(self, name: str, cb: Callable[..., Any] | None, *args: Any) -> None:
        """Call the completion ``cb`` of request ``name``, if one was given."""
        self._record(f"completion:{name}")
        if cb is not None:
            cb(*args)

    def _record(self, name: str) -> None:
        current = threading.current_thread()
        self.callbacks.append((name, current.name))
        if current is not self._thread:
            self.off_emitter.append(name)

    def _run(self) -> None:
        while True:
            try:
                job = self._q.get(timeout=self.linger) if self._deferred else self._q.get()
            except queue.Empty:
                self._flush_deferred()
                continue
            if job is None:
                self._flush_deferred()
                return
            self._do(job)

    def _do(self, job: Job) -> None:
        try:
            job()
        except Exception:  # the SDK prints and carries on
            self.callback_errors.append(traceback.format_exc())
            traceback.print_exc()

    def _flush_deferred(self) -> None:
        jobs, self._deferred = self._deferred, []
        self._rng.shuffle(jobs)
        for job in jobs:
            self._do(job)
