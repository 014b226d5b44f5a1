"""The error a bad ``settings`` mapping raises, with the key path of each problem."""

from __future__ import annotations

from collections.abc import Sequence

from cvibot import PluginSettingsError
from cvibot.config import key_text as _key_text

__all__ = ["SettingsError", "key_text"]


def key_text(loc: Sequence[str | int]) -> str:
    """A key path as cvibot's config errors write it: ``tools[0].request.url``,
    ``headers.X-Trace``, ``headers["Bad Name"]``."""
    return _key_text(tuple(loc)) or ""


class SettingsError(PluginSettingsError):
    """The plugin's ``settings`` are invalid (cvibot locates each problem in the config).

    ``problems`` lists ``(key path, message)`` pairs, the path relative to ``settings``
    (``tools[0].request.url``). ``str(err)`` reads ``KEY: MESSAGE`` for each problem,
    joined by ``"; "``. No message quotes a header value, so secrets stay out of it.
    """

    @property
    def key(self) -> str:
        """The key path of the first problem."""
        return self.problems[0][0] if self.problems else ""
