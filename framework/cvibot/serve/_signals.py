"""SIGINT/SIGTERM for ``cvibot serve``: the first drains, a second exits at once.

As for ``cvibot run``, a daemon thread of ours reads the signals
(:class:`cvibot._cli.signal_watch.SignalWatcher`), so a loop that is blocked (a
handler that never yields) cannot keep the process from reacting. The first signal
calls ``on_signal(name)`` on the loop and arms a watchdog that exits with status 1 if
the drain outlasts ``limit`` seconds; a second signal exits with status 130 at once.
uvicorn never sees a signal (its ``capture_signals`` is a no-op, see
:mod:`cvibot.serve._server`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from cvibot._cli.signal_watch import SignalWatcher

__all__ = ["EXIT_SIGNAL", "EXIT_STUCK", "DrainOnSignal"]

EXIT_SIGNAL = 130
EXIT_STUCK = 1


class DrainOnSignal:
    """See the module docstring. :meth:`install` on the main thread, :meth:`attach`
    from the loop, :meth:`close` when done (the previous handlers come back)."""

    def __init__(self, on_signal: Callable[[str], None], *, limit: float) -> None:
        self.received: list[str] = []
        self._on_signal = on_signal
        self._limit = limit
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._signals = SignalWatcher(self._signalled)
        self._timer: threading.Timer | None = None

    def install(self) -> None:
        self._signals.install()

    def attach(self) -> None:
        """The loop runs: a signal from now on drains (one that came already does now)."""
        with self._lock:
            self._loop = asyncio.get_running_loop()
            pending = self.received[0] if self.received else None
        if pending is not None:
            self._on_signal(pending)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._signals.close()

    def _signalled(self, name: str) -> None:
        from cvibot._cli.live import _exit_quietly

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
