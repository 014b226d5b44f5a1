"""The read-eval-print loop of ``cvibot console``: lines in, the bot's answers out.

On a terminal, lines are read with the standard library's :mod:`readline` (line editing,
the session's history, Tab completion of commands and tool names; ``history`` keeps it
in a file across sessions); Ctrl-C clears the line (or stops waiting for answers) and
Ctrl-D ends the conversation. From a pipe or a file, each line is shown after ``> ``,
then its answers, and the end of the input ends the conversation: a script's output
reads like a session.
"""

from __future__ import annotations

import contextlib
import signal
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from cvibot._cli.console import render
from cvibot._cli.console.commands import (
    ARGS_HELP,
    COMMANDS,
    Call,
    Help,
    Interrupt,
    ListTools,
    Problem,
    Quit,
    Say,
    parse_line,
)
from cvibot._cli.console.engine import Engine

__all__ = ["PROMPT", "Screen", "read_eval_print"]

PROMPT = "> "
_HISTORY_LENGTH = 1000


class Screen:
    """Prints lines to ``stream`` from any thread, one block at a time, styled as the
    transcript is (:class:`cvibot._cli.style.Styler`: colours on a terminal unless
    ``NO_COLOR``, wrapped to its width with hanging indents; plain text elsewhere).

    Text the stream's encoding cannot carry (a lone surrogate in what a tool returned)
    is written escaped rather than failing; control characters are shown as escapes.
    """

    def __init__(
        self, stream: IO[str], *, color: bool | None = None, width: int | None = None
    ) -> None:
        from cvibot._cli.style import Styler

        self._styler = Styler(stream, color=color, width=width)

    def show(self, lines: list[str]) -> None:
        self._styler.lines([(line, *render.line_style(line)) for line in lines])


def read_eval_print(
    engine: Engine, screen: Screen, stdin: IO[str], *, history: Path | None = None
) -> None:
    """Read lines from ``stdin`` until its end or ``/quit``, sending each to ``engine``.

    Raises :class:`~cvibot._cli.console.engine.BotEnded` when the bot stops, and
    ``KeyboardInterrupt`` on Ctrl-C when the input is not a terminal.
    """
    interactive = stdin.isatty()
    lines = _terminal_lines(engine, history) if interactive else _piped_lines(stdin, screen)
    for line in lines:
        command = parse_line(line)
        if command is None:
            continue
        if isinstance(command, Quit):
            return
        if isinstance(command, Help):
            screen.show(render.render_help(COMMANDS, ARGS_HELP))
        elif isinstance(command, ListTools):
            screen.show(render.render_tools(engine.bot.tools.values()))
        elif isinstance(command, Problem):
            screen.show(render.render_error(command.message))
        elif isinstance(command, Say | Call | Interrupt):
            try:
                engine.send(command)
            except KeyboardInterrupt:
                if not interactive:
                    raise
                screen.show(["· stopped waiting (Ctrl-C); what is running goes on"])


def _piped_lines(stdin: IO[str], screen: Screen) -> Iterator[str]:
    for raw in stdin:
        line = raw.rstrip("\r\n")
        screen.show([PROMPT + line])
        yield line


def _terminal_lines(engine: Engine, history: Path | None) -> Iterator[str]:
    readline = _readline(engine, history)
    # Ctrl-C clears the line however the console was started: a process that inherits
    # SIGINT ignored (started from a script's background job) would otherwise keep it so.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        while True:
            try:
                yield input(PROMPT)
            except KeyboardInterrupt:
                print()  # Ctrl-C: a fresh, empty prompt
            except EOFError:
                print()
                return
    finally:
        if previous is not None:  # None: a handler set outside Python, left as it was
            signal.signal(signal.SIGINT, previous)
        if readline is not None and history is not None:
            with contextlib.suppress(OSError):
                history.parent.mkdir(parents=True, exist_ok=True)
                readline.write_history_file(history)


def _readline(engine: Engine, history: Path | None) -> types.ModuleType | None:
    """Set up :mod:`readline` (absent on some platforms: then plain ``input``)."""
    try:
        import readline
    except ImportError:  # pragma: no cover - Windows without pyreadline
        return None
    readline.set_history_length(_HISTORY_LENGTH)
    if history is not None:
        with contextlib.suppress(OSError):
            readline.read_history_file(history)
    words = [syntax.split()[0] for syntax, _ in COMMANDS if syntax.startswith("/")]
    readline.set_completer(_completer(words, lambda: sorted(engine.bot.tools)))
    readline.set_completer_delims(" ")
    readline.parse_and_bind("tab: complete")
    return readline


def _completer(
    commands: list[str], tools: Callable[[], list[str]]
) -> Callable[[str, int], str | None]:
    """Completes the command word, then a tool name after /call, /legacy, /perception."""

    def complete(text: str, state: int) -> str | None:
        import readline

        before = readline.get_line_buffer()[: readline.get_begidx()].split()
        if not before:
            options = [c for c in commands if c.startswith(text)] if text.startswith("/") else []
        elif len(before) == 1 and before[0] in ("/call", "/legacy", "/perception"):
            options = [name for name in tools() if name.startswith(text)]
        else:
            options = []
        return options[state] if state < len(options) else None

    return complete
