"""SIGINT/SIGTERM for ``cvibot serve``: the first drains, a second exits at once.

The pattern of ``cvibot run`` (:class:`cvibot.cli.live._Stopper`): a daemon thread of
ours reads the signals from ``signal.set_wakeup_fd``, so a loop that is blocked (a
handler that never yields) cannot keep the process from reacting. The first signal
calls ``on_signal(name)`` on the loop and arms a watchdog that exits with status 1 if
the drain outlasts ``limit`` seconds; a second signal exits with status 130 at once.
uvicorn never sees a signal (its ``capture_signals`` is a no-op, see
:mod:`cvibot.serve.server`).
"""

from __future__ import annotations

import asyncio
import signal
import socket
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["EXIT_SIGNAL", "EXIT_STUCK", "DrainOnSignal"]

EXIT_SIGNAL = 130
EXIT_STUCK = 1
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class DrainOnSignal:
    """See the module docstring. :meth:`install` on the main thread, :meth:`attach`
    from the loop, :meth:`close` when done (the previous handlers come back)."""

    def __init__(self, on_signal: Callable[[str], None], *, limit: float) -> None:
        self.received: list[str] = []
        self._on_signal = on_signal
        self._limit = limit
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._previous: dict[int, Any] = {}
        self._previous_fd = -1
        self._watcher: threading.Thread | None = None
        self._timer: threading.Timer | None = None

    def install(self) -> None:
        self._wake_w.setblocking(False)
        self._previous = {signum: signal.getsignal(signum) for signum in _SIGNALS}
        self._previous_fd = signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)
        for signum in _SIGNALS:
            signal.signal(signum, _ignore)
        self._watcher = threading.Thread(target=self._watch, name="cvibot-signals", daemon=True)
        self._watcher.start()

    def attach(self) -> None:
        """The loop runs: a signal from now on drains (one that came already does now)."""
        with self._lock:
            self._loop = asyncio.get_running_loop()
            pending = self.received[0] if self.received else None
        if pending is not None:
            self._on_signal(pending)

    def close(self) -> None:
        signal.set_wakeup_fd(self._previous_fd)
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        if self._timer is not None:
            self._timer.cancel()
        self._wake_w.close()
        if self._watcher is not None:
            self._watcher.join(1)
        self._wake_r.close()

    def _watch(self) -> None:
        while True:
            try:
                data = self._wake_r.recv(64)
            except OSError:
                return
            if not data:
                return
            for signum in data:
                if signum in _SIGNALS:
                    self._signalled(signal.Signals(signum).name)

    def _signalled(self, name: str) -> None:
        from cvibot.cli.live import _exit_quietly

        with self._lock:
            again = bool(self.received)
            self.received.append(name)
            loop = self._loop
        if again:
            _exit_quietly(EXIT_SIGNAL, f"error: {name} again: exiting now")
        self._timer = threading.Timer(
            self._limit,
            _exit_quietly,
            (EXIT_STUCK, f"error: {name}: the drain did not end within {self._limit:g} s"),
        )
        self._timer.daemon = True
        self._timer.start()
        if loop is not None:
            try:
                loop.call_soon_threadsafe(self._on_signal, name)
            except RuntimeError:  # the loop is closed: nothing left to drain
                _exit_quietly(EXIT_SIGNAL, f"error: {name}: exiting now")


def _ignore(signum: int, frame: Any) -> None:
    """The Python-level handler: nothing (the watcher thread acts)."""
