"""SIGINT and SIGTERM, handled by a thread of ours: :class:`SignalWatcher`.

Used by ``cvibot run`` (:class:`cvibot._cli.live._Stopper`) and ``cvibot serve``
(:class:`cvibot.serve._signals.DrainOnSignal`). The signals reach a daemon thread through
``signal.set_wakeup_fd``, not the event loop nor a Python-level handler: the kernel may
deliver a signal to any thread, and the main thread may be stuck (a handler that blocks
the loop) or asleep in ``select`` where a signal another thread took does not wake it.
So the process reacts to a signal whatever its loop is doing.
"""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["SIGNALS", "SignalWatcher"]

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class SignalWatcher:
    """Call ``on_signal(name)`` (``"SIGINT"``, ``"SIGTERM"``) from the watcher thread for
    each signal received between :meth:`install` (main thread only) and :meth:`close`,
    which gives the previous handlers and wakeup fd back."""

    def __init__(self, on_signal: Callable[[str], None]) -> None:
        self._on_signal = on_signal
        self._wake_r, self._wake_w = socket.socketpair()
        self._previous_fd = -1
        self._previous: dict[int, Any] = {}
        self._watcher: threading.Thread | None = None

    def install(self) -> None:
        self._wake_w.setblocking(False)
        self._previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
        self._previous_fd = signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)
        for signum in SIGNALS:
            signal.signal(signum, _ignore)  # the wakeup byte is all we need
        self._watcher = threading.Thread(target=self._watch, name="cvibot-signals", daemon=True)
        self._watcher.start()

    def close(self) -> None:
        signal.set_wakeup_fd(self._previous_fd)
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._wake_w.close()  # the watcher reads the end of the stream and returns
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
            for signum in data:  # one byte per signal: its number
                if signum in SIGNALS:
                    self._on_signal(signal.Signals(signum).name)


def _ignore(signum: int, frame: Any) -> None:
    """The Python-level handler: nothing (the watcher thread acts)."""
