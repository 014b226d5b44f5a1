"""A ``cvibot`` process whose output a test watches while it runs (signal tests)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

FAKE_DAILY_CVIBOT = Path(__file__).with_name("fake_daily_cvibot.py")


class Watched:
    """``argv`` started in ``cwd``, stdout and stderr collected line by line by threads
    (so neither pipe fills up); killed by :meth:`finish` if it outlives its timeout.
    A context manager: leaving it kills a process still running and closes the pipes."""

    def __init__(self, argv: Sequence[str | os.PathLike[str]], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [os.fspath(a) for a in argv],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._changed = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read, args=(name,), daemon=True)
            for name in ("stdout", "stderr")
        ]
        for reader in self._readers:
            reader.start()

    def __enter__(self) -> Watched:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for reader in self._readers:
            reader.join(5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    def _read(self, name: str) -> None:
        stream = getattr(self.proc, name)
        for line in stream:
            with self._changed:
                self.lines[name].append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, needle: str, stream: str = "stderr", within: float = 30.0) -> None:
        """Return once a line of ``stream`` contains ``needle``; fail (and kill) after
        ``within`` seconds or if the process ends first."""
        deadline = time.monotonic() + within
        with self._changed:
            while not any(needle in line for line in self.lines[stream]):
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    self.proc.kill()
                    self.proc.wait()
                    raise AssertionError(
                        f"{needle!r} never appeared on {stream} (exit status "
                        f"{self.proc.poll()}); stdout:\n"
                        + "\n".join(self.lines["stdout"][-10:])
                        + "\nstderr:\n"
                        + "\n".join(self.lines["stderr"][-30:])
                    )
                self._changed.wait(min(left, 0.2))

    def signal(self, signum: int) -> float:
        """Send ``signum``; returns when it was sent (``time.monotonic()``)."""
        self.proc.send_signal(signum)
        return time.monotonic()

    def finish(self, within: float) -> tuple[int, float]:
        """Wait for the exit; returns ``(status, time.monotonic() at exit)``. Kills the
        process and fails if it lives longer than ``within`` seconds."""
        try:
            code = self.proc.wait(timeout=within)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"still running after {within} s") from None
        ended = time.monotonic()
        for reader in self._readers:
            reader.join(5)
        return code, ended

    @property
    def stdout(self) -> str:
        return "\n".join(self.lines["stdout"])

    @property
    def stderr(self) -> str:
        return "\n".join(self.lines["stderr"])

    def plain_stderr(self) -> list[str]:
        """The stderr lines that are not JSON log lines."""
        return [line for line in self.lines["stderr"] if not line.startswith("{")]


def fake_daily_argv(scenario: str, *args: str | os.PathLike[str]) -> list[str]:
    """``cvibot ARGS...`` with the fake SDK (see ``fake_daily_cvibot.py``)."""
    return [sys.executable, os.fspath(FAKE_DAILY_CVIBOT), scenario, *map(os.fspath, args)]


Watch = Callable[[Sequence[str | os.PathLike[str]], Path], Watched]
"""The ``watch`` fixture: ``watch(argv, cwd)`` starts a :class:`Watched` process."""
