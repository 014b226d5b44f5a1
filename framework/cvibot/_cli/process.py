"""The command line's process: its standard output, and whether it may end abruptly.

Standard output that a reader may close early (``cvibot run … | head -1``): Python
ignores SIGPIPE, so a write to a pipe whose reader is gone raises ``BrokenPipeError``
wherever it happens: in the transcript on the event loop, in a ``click.echo``, or when
the interpreter flushes ``sys.stdout`` at exit (``Exception ignored …``).
:func:`guard_stdout` handles it once, below every writer: ``sys.stdout`` becomes a text
stream over file descriptor 1 whose raw writes catch the error, point the descriptor at
``/dev/null`` (so nothing written later fails) and tell whoever registered with
:func:`on_stdout_closed`. The command line then stops as it would on a signal and exits
with :data:`EXIT_STDOUT_CLOSED`, without a traceback.

:func:`own_process`: the console script says the process is its own, so exiting may
use ``os._exit`` (see :func:`exit_now`); in-process callers (click's
test runner) only ever get ``SystemExit``. Kept here, light to import, since every
command's entry goes through it.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys
import threading
import time
from collections.abc import Callable

__all__ = [
    "EXIT_STDOUT_CLOSED",
    "exit_now",
    "flush_streams",
    "guard_stdout",
    "on_stdout_closed",
    "own_process",
    "owns_process",
    "stdout_closed",
]

EXIT_STDOUT_CLOSED = 141
"""128 + SIGPIPE: what a shell reports for a filter that SIGPIPE ended."""

_THREAD_WAIT = 0.2  # seconds exit_now gives threads to end before leaving without them

_lock = threading.Lock()
_closed = False
_callbacks: list[Callable[[], None]] = []
_owned = False


def own_process() -> None:
    """Say that the command line runs as a process of its own (the console script)."""
    global _owned
    _owned = True


def owns_process() -> bool:
    """True after :func:`own_process`."""
    return _owned


def stdout_closed() -> bool:
    """True once a write to the guarded standard output found its reader gone."""
    return _closed


def on_stdout_closed(callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback()`` (once, on the writing thread) when stdout's reader goes away;
    at once if it is gone already. Returns a function that unregisters it."""
    with _lock:
        already = _closed
        if not already:
            _callbacks.append(callback)
    if already:
        callback()

    def remove() -> None:
        with _lock, contextlib.suppress(ValueError):
            _callbacks.remove(callback)

    return remove


def _reader_gone(fd: int) -> None:
    global _closed
    with _lock:
        if _closed:
            return
        _closed = True
        callbacks, _callbacks[:] = list(_callbacks), []
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)
    for callback in callbacks:
        callback()


class _PipeOut(io.FileIO):
    """File descriptor 1 that swallows a closed reader (see the module docstring)."""

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        try:
            return super().write(data) or 0
        except OSError as exc:
            if exc.errno not in (errno.EPIPE, errno.ECONNRESET):
                raise
            _reader_gone(self.fileno())
            return len(data)


def guard_stdout() -> None:
    """Replace ``sys.stdout`` by a stream over the same descriptor (same encoding, error
    handler and line buffering) that survives its reader closing. Does nothing when
    stdout is not a real file descriptor (a test runner's capture)."""
    current = sys.stdout
    try:
        fd = current.fileno()
        encoding, errors = current.encoding, current.errors
    except (AttributeError, OSError, ValueError):
        return
    buffer = getattr(current, "buffer", None)
    if isinstance(buffer, io.BufferedWriter) and isinstance(buffer.raw, _PipeOut):
        return  # guarded already
    with contextlib.suppress(OSError, ValueError):
        current.flush()
    raw = _PipeOut(fd, "w", closefd=False)
    sys.stdout = io.TextIOWrapper(
        io.BufferedWriter(raw),
        encoding=encoding,
        errors=errors,
        line_buffering=getattr(current, "line_buffering", False),
        write_through=False,
    )


def exit_now(code: int) -> None:
    """Exit with ``code`` (141 instead of 0 once stdout's reader went away) after
    flushing stdout and stderr.

    At once (``os._exit``) if a Daily call client is still being released, or (in a
    process of its own: :func:`own_process`) if a non-daemon thread
    still runs a moment later (a sync tool handler past the grace, a plugin's thread;
    idle pool workers end within that moment, so ordinary exits stay ordinary): the
    interpreter would otherwise wait for them, up to ~19 s for the SDK and forever for
    a handler that never returns. Their calls were answered already (with a shutdown
    error): nothing is lost by not waiting.
    """
    if code == 0 and stdout_closed():
        code = EXIT_STDOUT_CLOSED
    flush_streams()
    # Only a process that imported the Daily transport can have a release pending; not
    # importing it otherwise keeps `cvibot --help` fast.
    daily = sys.modules.get("cvibot.transports._daily.release")
    releasing = daily is not None and daily.pending_releases()
    if releasing or (owns_process() and _stuck_threads(_THREAD_WAIT)):
        os._exit(code)
    sys.exit(code)


def flush_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed or broken stream: nothing to save
            stream.flush()


def _stuck_threads(wait: float) -> list[threading.Thread]:
    """Threads other than this one that interpreter exit would wait for and that are
    still running after ``wait`` seconds in all (idle pool workers end at once)."""
    current = threading.current_thread()
    deadline = time.monotonic() + wait
    stuck = []
    for thread in threading.enumerate():
        if thread is current or thread.daemon:
            continue
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            stuck.append(thread)
    return stuck
