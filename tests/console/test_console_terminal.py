"""``cvibot console`` on a pseudo-terminal: readline's prompt, Ctrl-C clears, Ctrl-D quits."""

from __future__ import annotations

import os
import pty
import select
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_helpers import cvibot_exe, environment, write_bot

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX pseudo-terminals")

_WAIT = 60.0  # seconds for any expected output: generous for a loaded machine


class Terminal:
    """A child process on a pseudo-terminal, with what it printed so far."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid = pid
        self.fd = fd
        self.seen = ""

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def expect(self, text: str, after: int = 0, wait: float = _WAIT) -> int:
        """Read until ``text`` appears past position ``after``; return where it ends."""
        deadline = time.monotonic() + wait
        while (found := self.seen.find(text, after)) < 0:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{text!r} not seen in {wait:g} s; got:\n{self.seen}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:  # EIO: the child closed the terminal
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"{text!r} not seen before the end; got:\n{self.seen}")
                self.seen += chunk.decode("utf-8", "replace")
        return found + len(text)

    def wait(self) -> int:
        deadline = time.monotonic() + _WAIT
        while time.monotonic() < deadline:
            try:  # drain, so the child never blocks on a full terminal
                if select.select([self.fd], [], [], 0.1)[0]:
                    self.seen += os.read(self.fd, 4096).decode("utf-8", "replace")
            except OSError:
                pass
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
        raise AssertionError(f"the console did not exit; got:\n{self.seen}")


@pytest.fixture
def terminal(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Terminal]:
    """The console on a pseudo-terminal. Its SIGINT starts at the default, as from a
    person's shell, whatever the test runner's is; ``"ignored"`` (indirect parameter)
    starts it ignored, as a script's background job would."""
    config = write_bot(tmp_path)
    exe, env = cvibot_exe(), {**environment(), "TERM": "dumb", "COLUMNS": "100"}
    history = tmp_path / "history"
    sigint = signal.SIG_IGN if getattr(request, "param", None) == "ignored" else signal.SIG_DFL
    pid, fd = pty.fork()
    if pid == 0:  # the child: the console on the terminal
        os.chdir(tmp_path)
        signal.signal(signal.SIGINT, sigint)  # kept across execve: ignored or default
        os.execve(exe, [exe, "console", str(config), "--history", str(history)], env)
    term = Terminal(pid, fd)
    try:
        yield term
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)


def test_typing_a_call_shows_its_answer(terminal: Terminal) -> None:
    at = terminal.expect("Ctrl-D to quit.")
    at = terminal.expect("> ", at)
    terminal.type("/call add a=40 b=2\r")
    at = terminal.expect('← tool_result success (tool_call_id "call-1")', at)
    at = terminal.expect("42", at)
    terminal.expect("> ", at)


@pytest.mark.parametrize("terminal", ["default", "ignored"], indirect=True)
def test_ctrl_c_clears_the_line_and_ctrl_d_exits_0(terminal: Terminal) -> None:
    at = terminal.expect("> ", terminal.expect("Ctrl-D to quit."))
    terminal.type("/call add a=1 b=")  # half a line, then Ctrl-C: thrown away
    at = terminal.expect("b=", at)
    # CPython's readline only notices a signal that interrupts its select(): one that
    # lands while it is still handling the last key waits for the next key. A person
    # never types that fast; the test presses Ctrl-C again until the prompt is fresh.
    for _ in range(20):
        terminal.type("\x03")
        try:
            at = terminal.expect("> ", at, wait=3.0)
            break
        except AssertionError:
            continue
    else:
        raise AssertionError(f"Ctrl-C never gave a fresh prompt; got:\n{terminal.seen}")
    terminal.type("hello\r")
    at = terminal.expect("← echo: you said: hello", at)
    # the Ctrl-C'd line was never sent: the only call the bot answered is none
    assert "tool_result" not in terminal.seen
    terminal.expect("> ", at)
    terminal.type("\x04")
    assert terminal.wait() == 0


def test_history_recalls_the_previous_line(terminal: Terminal, tmp_path: Path) -> None:
    at = terminal.expect("> ", terminal.expect("Ctrl-D to quit."))
    terminal.type("/call add a=2 b=2\r")
    at = terminal.expect("    4", at)
    at = terminal.expect("> ", at)
    terminal.type("\x1b[A\r")  # up arrow: the same line again
    at = terminal.expect('(tool_call_id "call-2")', at)
    terminal.expect("> ", at)
    terminal.type("/quit\r")
    assert terminal.wait() == 0
    assert "/call add a=2 b=2" in (tmp_path / "history").read_text(encoding="utf-8")


def test_dev_console_restarts_on_a_change_and_keeps_the_terminal(tmp_path: Path) -> None:
    tools = tmp_path / "versioned.py"
    source = (
        'from cvibot import tool\n\n@tool\ndef version() -> str:\n    """Which."""\n'
        '    return "{}"\n'
    )
    tools.write_text(source.format("v1"), encoding="utf-8")
    config = tmp_path / "bot.yaml"
    config.write_text("plugins: [{module: versioned}]\n", encoding="utf-8")
    exe, env = cvibot_exe(), {**environment(), "TERM": "dumb"}
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(tmp_path)
        os.execve(exe, [exe, "dev", str(config), "--console"], env)
    term = Terminal(pid, fd)
    try:
        at = term.expect("> ", term.expect("Ctrl-D to quit."))
        term.type("/call version\r")
        at = term.expect("> ", term.expect("    v1", at))
        # Ctrl-C clears the console's line; dev goes on
        term.type("/call vers")
        at = term.expect("vers", at)
        for _ in range(20):
            term.type("\x03")
            try:
                at = term.expect("> ", at, wait=3.0)
                break
            except AssertionError:
                continue
        tools.write_text(source.format("v2"), encoding="utf-8")
        at = term.expect("versioned.py changed: restarting", at)
        at = term.expect("> ", term.expect("Ctrl-D to quit.", at))
        term.type("/call version\r")
        at = term.expect("    v2", at)
        term.expect("> ", at)
        term.type("\x04")  # leaving the console ends dev
        assert term.wait() == 0
        assert term.seen.count("tool_result success") == 2  # the Ctrl-C'd line never went
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)
