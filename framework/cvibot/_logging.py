"""structlog set-up: readable in a terminal, one JSON object per line for machines.

Logs go to standard error; the transcript and the summary go to standard output, so a
pipe of ``--log-format json`` carries only machine-readable lines on its stream.

What a log line may carry is bounded, as fields often hold what a caller sent:

- every string field longer than :data:`FIELD_CAP` characters is cut, and ends with
  ``…[truncated, N chars]`` giving its original length; strings inside lists and
  mappings likewise, and those hold at most :data:`ITEMS_CAP` items and nest at most
  :data:`DEPTH_CAP` levels (:func:`cap_fields`);
- lone UTF-16 surrogates (``\\ud83d`` from a JSON escape) are written as that escape
  text, so a strict UTF-8 stream never fails; the stream itself also writes any
  character its encoding lacks as an escape;
- tracebacks never show local variables (which may hold credentials), in either
  format, whatever is installed (rich would show them by default); each traceback line
  is capped like a field.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Collection, Mapping
from typing import Any, Literal, TextIO

import structlog
from structlog.typing import EventDict, ExcInfo, WrappedLogger

__all__ = [
    "DEPTH_CAP",
    "FIELD_CAP",
    "ITEMS_CAP",
    "LogFormat",
    "cap_fields",
    "configure_logging",
    "log_writer",
]

LogFormat = Literal["auto", "console", "json"]

FIELD_CAP = 2048
"""Longest string a log field keeps, in characters (not bytes)."""

ITEMS_CAP = 256
"""Most items a list or mapping in a log field keeps."""

DEPTH_CAP = 16
"""Deepest nesting of lists and mappings a log field keeps."""

# Values the renderers write as is, with no text that could be long.
_PLAIN = (int, float, bool, type(None))


def configure_logging(
    level: str = "info",
    fmt: LogFormat = "auto",
    stream: TextIO | None = None,
    *,
    omit: Collection[str] = (),
) -> None:
    """Configure structlog for the process.

    ``level`` is a standard level name (``debug`` … ``error``); ``fmt`` ``console`` renders
    aligned key=value lines (coloured on a terminal unless ``NO_COLOR`` is set, or when
    ``FORCE_COLOR`` is), ``json`` one JSON object per line with ISO-8601 UTC timestamps,
    ``auto`` picks ``console`` on a terminal and ``json`` otherwise. Fields are capped by
    :func:`cap_fields`. ``omit``: event names (a log call's message) not logged at all,
    for what a person already sees another way (the transcript). Raises ``ValueError``
    for an unknown level.
    """
    out = stream if stream is not None else sys.stderr
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    from cvibot._cli.style import wants_color

    tty = out.isatty()
    use_json = fmt == "json" or (fmt == "auto" and not tty)
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        # Set explicitly: the default is rich's traceback when rich is installed, and
        # that shows every frame's locals (plugin settings, API keys).
        else structlog.dev.ConsoleRenderer(
            colors=wants_color(out), exception_formatter=_plain_traceback
        )
    )
    processors: list[structlog.typing.Processor] = [_Omit(frozenset(omit))] if omit else []
    processors += [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if use_json:
        # No frame locals: they would carry plugin settings, which may hold credentials.
        processors.append(
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            )
        )
    processors += [cap_fields, renderer]
    global _writer
    writer = _writer = _EscapingWriter(out)
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(writer),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


def cap_fields(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: each field's strings capped and made encodable.

    Place it just before the renderer. Strings over :data:`FIELD_CAP` characters keep
    their first :data:`FIELD_CAP` and end with ``…[truncated, N chars]`` (N: the
    original length); lone surrogates become their
    ``\\uXXXX`` escape text; lists, tuples and mappings are capped item by item (at
    most :data:`ITEMS_CAP` items, :data:`DEPTH_CAP` levels); bytes and other objects
    whose ``repr`` is too long become that repr, capped. ``exc_info`` is left to the
    renderer. Fields that need none of this are kept as they are, at the cost of a type
    check and a length.
    """
    for key, value in event_dict.items():
        if key == "exc_info" or isinstance(value, _PLAIN):
            continue
        fitted = _fit(value, 0)
        if fitted is not value:
            event_dict[key] = fitted
    return event_dict


def _fit(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return _fit_text(value)
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, Mapping | list | tuple | set | frozenset):
        if depth >= DEPTH_CAP:
            return f"…[nested deeper than {DEPTH_CAP} levels]"
        return _fit_items(value, depth + 1)
    try:
        text = repr(value)  # what both renderers write for any other object
    except Exception:
        return value  # the renderer reports it as it always did
    fitted = _fit_text(text)
    return value if fitted is text else fitted


def _fit_text(text: str) -> str:
    if len(text) > FIELD_CAP:
        text = f"{text[:FIELD_CAP]}…[truncated, {len(text)} chars]"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _fit_items(value: Any, depth: int) -> Any:
    if isinstance(value, Mapping):
        entries = list(value.items())
        fitted = [(_fit(k, depth), _fit(v, depth)) for k, v in entries[:ITEMS_CAP]]
        if len(entries) <= ITEMS_CAP and all(
            fk is k and fv is v for (fk, fv), (k, v) in zip(fitted, entries, strict=False)
        ):
            return value
        result: dict[Any, Any] = dict(fitted)
        if len(entries) > ITEMS_CAP:
            result["…"] = f"[{len(entries) - ITEMS_CAP} more items]"
        return result
    items = list(value)
    fitted_items = [_fit(item, depth) for item in items[:ITEMS_CAP]]
    if len(items) <= ITEMS_CAP and all(f is i for f, i in zip(fitted_items, items, strict=False)):
        return value
    if len(items) > ITEMS_CAP:
        fitted_items.append(f"…[{len(items) - ITEMS_CAP} more items]")
    return fitted_items


class _Omit:
    """structlog processor: drops the events whose name is in ``names``."""

    def __init__(self, names: frozenset[str]) -> None:
        self.names = names

    def __call__(self, _logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
        if event_dict.get("event") in self.names:
            raise structlog.DropEvent
        return event_dict


def _plain_traceback(sio: TextIO, exc_info: ExcInfo) -> None:
    """structlog's plain traceback (no locals, no colours), each line capped."""
    text = "".join(traceback.format_exception(*exc_info)).rstrip("\n")
    sio.write("\n" + "\n".join(_fit_text(line) for line in text.split("\n")))


_writer: _EscapingWriter | None = None


def log_writer() -> object | None:
    """The stream the log lines are written to since :func:`configure_logging` (``None``
    before): whoever writes a line of its own to the same file descriptor takes
    structlog's lock for this stream, so the two never interleave within a line."""
    return _writer


class _EscapingWriter:
    """A text stream that writes what its encoding lacks as ``\\uXXXX`` escapes.

    A lone surrogate in a traceback, or any text a field cap did not see, must not end
    the program with ``UnicodeEncodeError`` on a strict UTF-8 (or narrower) stream.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except UnicodeEncodeError:
            encoding = getattr(self._stream, "encoding", None) or "utf-8"
            return self._stream.write(text.encode(encoding, "backslashreplace").decode(encoding))

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()
