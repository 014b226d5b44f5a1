"""The errors of cvibot-faq: bad settings and bad knowledge-base files.

Both are :class:`ValueError` subclasses whose message says where the problem is, so the
bot's start-up error (the host wraps what a hook raises) points at the right place; and
both are :class:`cvibot._errors.CvibotError` subclasses, like every error a bot raises.
"""

from __future__ import annotations

from pathlib import Path

from cvibot import CvibotError, PluginSettingsError

__all__ = ["FaqError", "FaqSettingsError", "FaqSourceError"]


class FaqError(CvibotError, ValueError):
    """Base class of the errors raised by cvibot-faq."""


class FaqSettingsError(FaqError, PluginSettingsError):
    """A plugin setting is missing, unknown or of the wrong type or range.

    ``key`` is its path below the plugin's ``settings``, e.g. ``"min_score"`` or
    ``"synonyms.refund"``; the message starts with it, and cvibot reports the error at
    that key's line of the config file.
    """

    def __init__(self, key: str, problem: str) -> None:
        PluginSettingsError.__init__(self, [(key, problem)])
        self.key = key
        self.problem = problem

    def __reduce__(self) -> tuple[type[FaqSettingsError], tuple[str, str]]:  # type: ignore[override]
        return type(self), (self.key, self.problem)


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
