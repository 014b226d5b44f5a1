"""The errors of cvibot-faq: bad settings and bad knowledge-base files.

Both are :class:`ValueError` subclasses whose message says where the problem is, so the
bot's start-up error (the host wraps what a hook raises) points at the right place.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["FaqError", "FaqSettingsError", "FaqSourceError"]


class FaqError(ValueError):
    """Base class of the errors raised by cvibot-faq."""


class FaqSettingsError(FaqError):
    """A plugin setting is missing, unknown or of the wrong type or range.

    ``key`` is its path below the plugin entry, e.g. ``"settings.min_score"`` or
    ``"settings.synonyms.refund"``; the message starts with it.
    """

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


class FaqSourceError(FaqError):
    """A knowledge-base file cannot be used: missing, unreadable, empty or malformed.

    ``file`` is the file (or the glob that matched nothing), ``line`` the 1-based line of
    the problem when there is one. The message reads ``"<file>:<line>: <problem>"``.
    """

    def __init__(self, file: Path | str, problem: str, line: int | None = None) -> None:
        where = f"{file}:{line}" if line is not None else str(file)
        super().__init__(f"{where}: {problem}")
        self.file = str(file)
        self.line = line
        self.problem = problem
