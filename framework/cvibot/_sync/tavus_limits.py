"""Tavus's limits on the tools to sync (protocol reference §7.2), checked before any
request: a sync that Tavus would refuse halfway is not started."""

from __future__ import annotations

from collections.abc import Sequence

from cvibot._errors import SyncError
from cvibot.tools._export import limit_problems
from cvibot.tools._spec import ToolSpec

__all__ = ["LimitsExceeded", "check_limits"]


class LimitsExceeded(SyncError):
    """The bot's tools break Tavus's limits (§7.2); ``problems`` lists each, one line."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        super().__init__(
            f"Tavus would refuse the bot's tools ({count} problem{'' if count == 1 else 's'}): "
            + "; ".join(self.problems)
        )


def check_limits(specs: Sequence[ToolSpec]) -> None:
    """Raise :class:`LimitsExceeded` when :func:`~cvibot.tools.limit_problems` finds any
    problem in ``specs``: more than 50 tools, a bad or repeated name, a tool whose
    description and parameters exceed 10,000 characters, a reserved ``tavus_`` property."""
    problems = limit_problems(specs)
    if problems:
        raise LimitsExceeded(problems)
