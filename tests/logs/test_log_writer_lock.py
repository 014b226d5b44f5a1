"""A line the command line writes itself (a signal's exit line) never splits a log line."""

from __future__ import annotations

import io

import structlog

from cvibot._cli.live import _stderr_lock
from cvibot._logging import configure_logging, log_writer


def test_exit_lines_are_written_under_the_lock_of_the_log_lines() -> None:
    try:
        configure_logging("info", "json", stream=io.StringIO())
        logger = structlog.get_logger("cvibot.test").bind()._logger
        assert log_writer() is logger._file
        assert _stderr_lock() is logger._lock
    finally:
        structlog.reset_defaults()
