"""structlog set-up: readable in a terminal, one JSON object per line for machines.

Logs go to standard error; the transcript and the summary go to standard output, so a
pipe of ``--log-format json`` carries only machine-readable lines on its stream.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal, TextIO

import structlog

__all__ = ["LogFormat", "configure_logging"]

LogFormat = Literal["auto", "console", "json"]


def configure_logging(
    level: str = "info", fmt: LogFormat = "auto", stream: TextIO | None = None
) -> None:
    """Configure structlog for the process.

    ``level`` is a standard level name (``debug`` … ``error``); ``fmt`` ``console`` renders
    aligned key=value lines (coloured on a terminal), ``json`` one JSON object per line
    with ISO-8601 UTC timestamps, ``auto`` picks ``console`` on a terminal and ``json``
    otherwise. Raises ``ValueError`` for an unknown level.
    """
    out = stream if stream is not None else sys.stderr
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    tty = out.isatty()
    use_json = fmt == "json" or (fmt == "auto" and not tty)
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=tty)
    )
    processors: list[structlog.typing.Processor] = [
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
    processors.append(renderer)
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
