"""Running plugins' sync hook implementations off the event loop.

A plain ``def`` observer (``cvibot_event``, ``cvibot_tool_outcome``) would run on the
event loop, so one slow plugin would delay every answer of every conversation.
:class:`HookWorkers` gives each plugin one worker thread with a bounded queue: the
session calls the observer as before and gets back at once, and the plugin sees its
events in order, in its own thread (:class:`~cvibot.plugins._observing.Observer` queues
them). When a plugin's queue is full the event is dropped
for that plugin, counted, and a warning naming the plugin is logged (at most one per
:data:`DROP_WARN_INTERVAL` seconds per plugin). ``async def`` observers are left as
they are: they run as tasks on the loop.

:func:`call_in_thread` runs one sync call in a fresh daemon thread and returns an
awaitable, for hooks whose result matters (the echo-mode responder).

Worker threads are daemon threads and are never joined: a stuck observer never keeps
the process alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import structlog

__all__ = ["DROP_WARN_INTERVAL", "HookWorkers", "call_in_thread"]

log = structlog.get_logger("cvibot.plugins")

#: Seconds between two warnings about the events dropped for one plugin.
DROP_WARN_INTERVAL = 10.0


class _Worker:
    """One plugin's serial worker: a thread and the calls queued for it."""

    def __init__(self, plugin: str, capacity: int) -> None:
        self.plugin = plugin
        self.capacity = capacity
        self.dropped = 0
        self.failed = 0  # written by the worker thread only
        self._dropped_since_warning = 0
        self._last_warning = -DROP_WARN_INTERVAL
        self._items: deque[tuple[Callable[..., Any], str, Mapping[str, Any]]] = deque()
        self._cond = threading.Condition()
        self._closing = False
        self._on_exit: Callable[[], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def submit(self, function: Callable[..., Any], hook: str, kwargs: Mapping[str, Any]) -> None:
        with self._cond:
            if len(self._items) >= self.capacity:
                self.dropped += 1
                self._dropped_since_warning += 1
                warn = time.monotonic() - self._last_warning >= DROP_WARN_INTERVAL
                if warn:
                    self._last_warning = time.monotonic()
                    since, self._dropped_since_warning = self._dropped_since_warning, 0
            else:
                warn = False
                self._items.append((function, hook, kwargs))
                self._cond.notify()
                if self._thread is None:
                    self._loop = _running_loop()
                    self._thread = threading.Thread(
                        target=self._work, name=f"cvibot-hooks-{self.plugin}", daemon=True
                    )
                    self._thread.start()
        if warn:
            log.warning(
                "plugin observer queue full: events dropped",
                plugin=self.plugin,
                hook=hook,
                dropped=since,
                dropped_total=self.dropped,
                queue=self.capacity,
            )

    def mark(self, reached: Callable[[], None]) -> bool:
        """Queue ``reached`` (called from the thread) after what is queued now, beyond
        the capacity; False when there is no thread (nothing was ever queued)."""
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                return False
            self._items.append((reached, "", {}))
            self._cond.notify()
            return True

    def close(self, on_exit: Callable[[], None]) -> bool:
        """Let the thread end once its queue is empty; ``on_exit`` is called (from the
        thread) when it does. False when there is no thread."""
        with self._cond:
            self._closing = True
            self._cond.notify()
            if self._thread is None or not self._thread.is_alive():
                return False
            self._on_exit = on_exit
            return True

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._items and not self._closing:
                    self._cond.wait()
                if not self._items:
                    on_exit = self._on_exit
                    break
                function, hook, kwargs = self._items.popleft()
            self._call(function, hook, kwargs)
        if on_exit is not None:
            on_exit()

    def _call(self, function: Callable[..., Any], hook: str, kwargs: Mapping[str, Any]) -> None:
        try:
            result = function(**kwargs)
            if asyncio.iscoroutine(result) and self._loop is not None:
                # A sync callable that returned a coroutine: it belongs on the loop.
                asyncio.run_coroutine_threadsafe(result, self._loop)
        except Exception:
            self.failed += 1
            log.exception(
                "plugin observer raised",
                hook=hook,
                plugin=self.plugin,
                observer=_qualname(getattr(function, "function", function)),
            )


class HookWorkers:
    """One serial worker thread per plugin for its sync observers.

    ``capacity`` (>= 1) is how many calls may be queued per plugin; more are dropped
    and counted in :attr:`dropped`; observers that raised are counted in :attr:`failed`.
    Threads start on first use and end after
    :meth:`close`; using the workers again after that starts new threads.
    """

    def __init__(self, capacity: int = 1000) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, not {capacity}")
        self.capacity = capacity
        self._workers: dict[str, _Worker] = {}
        self._dropped: dict[str, int] = {}
        self._failed: dict[str, int] = {}
        self._retired: list[_Worker] = []
        self._lock = threading.Lock()

    def submit(
        self, plugin: str, function: Callable[..., Any], hook: str, kwargs: Mapping[str, Any]
    ) -> None:
        """Queue ``function(**kwargs)`` for ``plugin``'s worker; never blocks."""
        worker = self._workers.get(plugin)
        if worker is None:
            with self._lock:
                worker = self._workers.setdefault(plugin, _Worker(plugin, self.capacity))
        worker.submit(function, hook, kwargs)

    def count_failure(self, plugin: str) -> None:
        """Count a failure of ``plugin``'s observer that ran on the event loop (an
        ``async def`` one); call on the loop thread only."""
        self._failed[plugin] = self._failed.get(plugin, 0) + 1

    @property
    def failed(self) -> dict[str, int]:
        """Observer calls that raised so far (each was logged), by plugin name: sync ones
        in their worker thread and ``async def`` ones on the loop."""
        counts = dict(self._failed)
        for worker in [*self._retired, *list(self._workers.values())]:
            counts[worker.plugin] = counts.get(worker.plugin, 0) + worker.failed
        return {name: n for name, n in counts.items() if n}

    @property
    def dropped(self) -> dict[str, int]:
        """Calls dropped so far because a plugin's queue was full, by plugin name."""
        counts = dict(self._dropped)
        for name, worker in self._workers.items():
            counts[name] = counts.get(name, 0) + worker.dropped
        return {name: n for name, n in counts.items() if n}

    async def flush(self, within: float) -> list[str]:
        """Wait up to ``within`` seconds for what is queued now to be run; return the
        plugins whose worker had not got there."""
        loop = asyncio.get_running_loop()
        waiting: dict[asyncio.Future[None], str] = {}
        for worker in list(self._workers.values()):
            done: asyncio.Future[None] = loop.create_future()
            if worker.mark(_resolver(loop, done)):
                waiting[done] = worker.plugin
        return await _wait_for(waiting, within, "plugin observers still busy")

    async def close(self, within: float) -> list[str]:
        """Let each worker finish what is queued, waiting up to ``within`` seconds in all;
        return the plugins whose worker had not finished (left running, never joined)."""
        with self._lock:
            workers, self._workers = self._workers, {}
        for worker in workers.values():
            self._dropped[worker.plugin] = self._dropped.get(worker.plugin, 0) + worker.dropped
        # Their failures are read later: a closing worker still runs what is queued.
        self._retired.extend(workers.values())
        loop = asyncio.get_running_loop()
        waiting: dict[asyncio.Future[None], str] = {}
        for worker in workers.values():
            done: asyncio.Future[None] = loop.create_future()
            if worker.close(_resolver(loop, done)):
                waiting[done] = worker.plugin
        return await _wait_for(waiting, within, "plugin observers still running at shutdown")


async def _wait_for(
    waiting: dict[asyncio.Future[None], str], within: float, warning: str
) -> list[str]:
    if not waiting:
        return []
    finished, pending = await asyncio.wait(waiting, timeout=max(0.0, within))
    for future in pending:
        future.cancel()
    stuck = sorted(plugin for future, plugin in waiting.items() if future not in finished)
    if stuck:
        log.warning(warning, plugins=stuck)
    return stuck


def _resolver(loop: asyncio.AbstractEventLoop, future: asyncio.Future[None]) -> Callable[[], None]:
    """A callable that, from any thread, resolves ``future`` on ``loop`` (if still open)."""

    def resolve() -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            loop.call_soon_threadsafe(_set_result, future, None)

    return resolve


def call_in_thread(function: Callable[..., Any], /, **kwargs: Any) -> asyncio.Future[Any]:
    """Run ``function(**kwargs)`` in a new daemon thread; the returned future (of the
    running loop) gets its result or exception. Cancelling the future does not stop the
    thread, and nothing ever joins it."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def run() -> None:
        try:
            result = function(**kwargs)
        except BaseException as exc:
            outcome: tuple[Callable[..., None], Any] = (_set_exception, exc)
        else:
            outcome = (_set_result, result)
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(outcome[0], future, outcome[1])

    name = getattr(function, "__qualname__", "call")
    threading.Thread(target=run, name=f"cvibot-hook-{name}", daemon=True).start()
    return future


def _set_result(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _set_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


def _qualname(function: Any) -> str:
    return getattr(function, "__qualname__", None) or repr(function)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
