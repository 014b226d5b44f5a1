"""Terminal output shared by the transcript and the console: colour, width, safe writes.

- Colour (:func:`wants_color`): never when ``NO_COLOR`` is set to a non-empty value
  (https://no-color.org), always when ``FORCE_COLOR`` is, otherwise only on a terminal.
  Without colour nothing but the text is written: no ANSI code of any kind.
- Width: on a terminal each line is wrapped to its current width, continuation rows
  indented under the text after the line's marker (a hanging indent), so a call and
  its answer read as blocks; anywhere else (a pipe, a file) a line is never wrapped,
  so the output stays the same whatever the reader's width.
- Every line is made printable (:func:`cvibot._cli.transcript.printable`: escapes and
  lone surrogates) before it is styled, and a stream that cannot encode a character
  gets it as an escape instead of failing.

rich renders the styles and does the wrapping; it is imported when the first
:class:`Styler` is made, so commands that print no transcript (``--help``) never load it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

__all__ = ["Styler", "wants_color"]

_RENDER_WIDTH = 1 << 16  # rich's own width: lines are wrapped here, never by rich
_MIN_WIDTH = 20  # narrower than this, rows are left to the terminal; no indent leaving less


def _isatty(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # closed or not a real stream
        return False


def wants_color(stream: IO[str], environ: Mapping[str, str] | None = None) -> bool:
    """Whether output to ``stream`` is coloured: ``NO_COLOR`` (non-empty) says no,
    then ``FORCE_COLOR`` (non-empty) says yes, else whether ``stream`` is a terminal."""
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR"):
        return False
    if env.get("FORCE_COLOR"):
        return True
    return _isatty(stream)


class Styler:
    """Writes styled lines to ``stream``, one whole line (all its rows) at a time.

    ``color``: ``None`` decides by :func:`wants_color`. ``width``: the columns to wrap
    to; ``None`` means the terminal's width read at each line on a terminal, and no
    wrapping elsewhere. Safe to call from any thread.
    """

    def __init__(
        self, stream: IO[str], *, color: bool | None = None, width: int | None = None
    ) -> None:
        self._out = stream
        self.color = wants_color(stream) if color is None else color
        self._width = width
        self._tty = _isatty(stream)
        self._lock = threading.Lock()
        self._console = _console(self.color)

    def width(self) -> int | None:
        """The columns lines are wrapped to now, ``None`` for no wrapping."""
        if self._width is not None:
            return self._width
        if not self._tty:
            return None
        try:
            return os.get_terminal_size(self._out.fileno()).columns or None
        except (AttributeError, ValueError, OSError):
            return None

    def line(self, text: str, style: str | None = None, *, indent: int = 0) -> None:
        """Write ``text`` (one line; made printable) in ``style`` (a rich style such as
        ``"bold"``, ``"dim"``, ``"red"``), wrapped with continuation rows indented by
        ``indent`` columns."""
        self.lines([(text, style, indent)])

    def lines(self, lines: list[tuple[str, str | None, int]]) -> None:
        """Write several ``(text, style, indent)`` lines as one block (no other
        thread's line comes between them)."""
        from cvibot._cli.transcript import printable

        width = self.width()
        if width is None and not self.color:
            # Uncoloured and unwrapped (a pipe, a file): nothing for rich to do, and the
            # transcript writes from the event loop, so its cost is skipped.
            self._write("".join(printable(text) + "\n" for text, _, _ in lines))
            return
        from rich.text import Text

        rows: list[Text] = []
        for text, style, indent in lines:
            rows += self._wrap(Text(printable(text), style or ""), width, indent)
        console = self._console
        with console.capture() as captured:
            for row in rows:
                console.print(row, soft_wrap=True)
        self._write(captured.get())

    def _wrap(self, text: Text, width: int | None, indent: int) -> list[Text]:
        from rich.cells import cell_len
        from rich.text import Text

        if width is None or width < _MIN_WIDTH or cell_len(text.plain) <= width:
            return [text]
        if width - indent < _MIN_WIDTH:
            indent = 0
        first = text.wrap(self._console, width, overflow="fold")[0]
        first.rstrip()
        rest = text[len(first.plain) :]
        rest = rest[len(rest.plain) - len(rest.plain.lstrip(" ")) :]
        rows = [first]
        if rest.plain:
            for row in rest.wrap(self._console, width - indent, overflow="fold"):
                row.rstrip()
                rows.append(Text(" " * indent) + row)
        return rows

    def _write(self, text: str) -> None:
        with self._lock:
            try:
                self._out.write(text)
            except UnicodeEncodeError:  # a terminal that cannot show some character
                encoding = getattr(self._out, "encoding", None) or "ascii"
                self._out.write(text.encode(encoding, "backslashreplace").decode(encoding))
            self._out.flush()


def _console(color: bool) -> Console:
    """A rich console that renders to a buffer: colour codes only when ``color``, no
    markup, emoji or highlighting (the text is the conversation's, shown as it is)."""
    import io

    from rich.console import Console

    return Console(
        file=io.StringIO(),
        color_system="standard" if color else None,
        force_terminal=color,
        no_color=not color,
        width=_RENDER_WIDTH,
        highlight=False,
        markup=False,
        emoji=False,
        legacy_windows=False,
    )
