"""An event-loop watchdog: measures loop lag and names the code that holds the loop.

Everything cvibot does for every conversation happens on one event loop, so code that
blocks it (``time.sleep`` in an ``async def`` handler, a CPU-heavy hook) delays every
answer. :class:`LoopWatchdog` schedules a heartbeat callback on the loop every
``interval`` seconds and watches it from a thread of its own. When the heartbeat is
overdue by more than ``warn_after`` seconds, it reads the loop thread's current stack
(:func:`sys._current_frames`) and logs a warning (logger ``cvibot._watchdog``) naming
the tool handler or plugin hook on it, with the file and line it is at, while the loop
is still held (again every :data:`REPEAT_AFTER` seconds), and once more when the loop
runs again, with how long it was held.

:attr:`LoopWatchdog.lag` and :attr:`~LoopWatchdog.max_lag` give the lag in seconds: how
late the heartbeat ran.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import sys
import sysconfig
import threading
import time
from collections.abc import Iterable, Mapping
from types import CodeType, FrameType
from typing import Any

import structlog

__all__ = ["REPEAT_AFTER", "LoopWatchdog", "code_labels"]

log = structlog.get_logger("cvibot.watchdog")

#: Seconds between two warnings about one hold of the loop that goes on.
REPEAT_AFTER = 5.0

_STDLIB = tuple(
    os.path.normcase(path) + os.sep
    for path in {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]}
)
_FRAMEWORK = os.path.normcase(os.path.dirname(os.path.abspath(__file__))) + os.sep


class LoopWatchdog:
    """Watches one event loop; ``warn_after`` (> 0) seconds of hold trigger a warning.

    ``labels`` maps code objects to what they are (``"tool lookup_order"``,
    ``"hook cvibot_event of plugin audit"``); see :func:`code_labels`. Call
    :meth:`start` on the loop's thread and :meth:`stop` when done; both are idempotent.
    """

    def __init__(
        self,
        warn_after: float = 0.25,
        *,
        labels: Mapping[CodeType, str] | None = None,
        interval: float | None = None,
    ) -> None:
        if not warn_after > 0:
            raise ValueError(f"warn_after must be > 0 seconds, not {warn_after!r}")
        self.warn_after = warn_after
        self.interval = interval if interval is not None else min(0.05, warn_after / 5)
        self.labels: Mapping[CodeType, str] = labels or {}
        self.lag = 0.0
        self.max_lag = 0.0
        self.holds = 0  # holds longer than warn_after, reported
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._due = 0.0  # monotonic time the next heartbeat is due
        self._handle: asyncio.TimerHandle | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._reported: dict[str, Any] | None = None  # the hold being reported, if any

    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def held_for(self) -> float:
        """Seconds the loop has been held past the heartbeat's due time (0 when it runs)."""
        if self._loop is None:
            return 0.0
        return max(0.0, time.monotonic() - self._due)

    def start(self) -> None:
        """Start watching the running loop (call from its thread)."""
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._stop.clear()
        self._due = time.monotonic() + self.interval
        self._handle = self._loop.call_later(self.interval, self._beat)
        self._thread = threading.Thread(target=self._watch, name="cvibot-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching; the monitor thread ends on its next tick (not joined)."""
        if self._thread is None:
            return
        self._stop.set()
        if self._handle is not None:
            self._handle.cancel()
        self._handle = None
        self._thread = None
        self._loop = None

    # -- on the loop ---------------------------------------------------------------------

    def _beat(self) -> None:
        now = time.monotonic()
        lag = max(0.0, now - self._due)
        self.lag = lag
        self.max_lag = max(self.max_lag, lag)
        with self._lock:
            reported, self._reported = self._reported, None
            self._due = now + self.interval
        if reported is not None:
            log.warning("event loop was blocked", held_s=round(lag, 3), **reported)
        if self._loop is not None and not self._stop.is_set():
            self._handle = self._loop.call_later(self.interval, self._beat)

    # -- in the monitor thread -----------------------------------------------------------

    def _watch(self) -> None:
        stop = self._stop
        next_warning = 0.0
        while not stop.wait(self.interval):
            with self._lock:
                held = time.monotonic() - self._due
                if held < self.warn_after:
                    next_warning = 0.0
                    continue
                first = self._reported is None
            if not first and held < next_warning:
                continue
            culprit = self.culprit()
            with self._lock:
                if time.monotonic() - self._due < self.warn_after:
                    continue  # the loop ran meanwhile
                if first:
                    self.holds += 1
                self._reported = culprit
            next_warning = held + REPEAT_AFTER
            log.warning("event loop blocked", held_s=round(held, 3), still_blocked=True, **culprit)

    def culprit(self) -> dict[str, Any]:
        """What the loop thread runs now: ``by`` (the labelled tool or hook, else the
        innermost function outside the standard library and cvibot), ``at``
        (``file:line in function`` of that frame) and ``innermost`` when it differs."""
        frame = sys._current_frames().get(self._loop_thread)
        if frame is None:
            return {"by": "unknown"}
        frames = list(_stack(frame))
        innermost = frames[0]
        chosen: FrameType | None = None
        by: str | None = None
        for candidate in frames:
            label = self.labels.get(candidate.f_code)
            if label is not None:
                chosen, by = candidate, label
                break
        if chosen is None:
            chosen = next((f for f in frames if _is_user_code(f)), innermost)
            by = _qualname(chosen)
        fields: dict[str, Any] = {"by": by, "at": _where(chosen)}
        if chosen is not innermost:
            fields["innermost"] = _where(innermost)
        return fields


def code_labels(
    tools: Mapping[str, Any],
    hooks: Iterable[tuple[str, str, Any]] = (),
) -> dict[CodeType, str]:
    """Code objects of tool handlers and hook implementations, with what they are.

    ``tools`` maps tool names to :class:`~cvibot.tools.ToolSpec`; ``hooks`` gives
    ``(hook name, plugin name, function)``. A code object shared by several tools (a
    dynamic tools' handler) is labelled with all their names.
    """
    from cvibot.tools._dynamic import dynamic_handler

    names: dict[CodeType, list[str]] = {}
    for name, spec in tools.items():
        code = _code_of(dynamic_handler(spec) or spec.function)
        if code is not None:
            names.setdefault(code, []).append(name)
    labels = {code: "tool " + " or ".join(sorted(found)) for code, found in names.items()}
    for hook, plugin, function in hooks:
        code = _code_of(function)
        if code is not None:
            labels.setdefault(code, f"hook {hook} of plugin {plugin}")
    return labels


def _code_of(function: Any) -> CodeType | None:
    target = inspect.unwrap(function) if callable(function) else function
    while hasattr(target, "func"):  # functools.partial
        target = target.func
    code = getattr(target, "__code__", None)
    if code is None:
        code = getattr(getattr(target, "__call__", None), "__code__", None)  # noqa: B004
    return code if isinstance(code, CodeType) else None


def _stack(frame: FrameType | None) -> Iterable[FrameType]:
    while frame is not None:
        yield frame
        frame = frame.f_back


def _is_user_code(frame: FrameType) -> bool:
    path = os.path.normcase(frame.f_code.co_filename)
    return not path.startswith((*_STDLIB, _FRAMEWORK, "<"))


def _qualname(frame: FrameType) -> str:
    return getattr(frame.f_code, "co_qualname", frame.f_code.co_name)


def _where(frame: FrameType) -> str:
    return f"{frame.f_code.co_filename}:{frame.f_lineno} in {_qualname(frame)}"
