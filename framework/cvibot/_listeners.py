"""What a session counts and why it drops events: :class:`SessionStats`, :class:`DropReason`.

:class:`SessionStats` holds the counters of the end-of-run summary. Plugins observe a
session through hooks (:mod:`cvibot.plugins._hookspecs`), the one public observer API.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["DropReason", "SessionStats"]


class DropReason(StrEnum):
    """Why a parsed event (or a message, for ``untrusted_sender``) was not acted on."""

    UNTRUSTED_SENDER = "untrusted_sender"
    OTHER_CONVERSATION = "other_conversation"
    FOREIGN_INTERACTION = "foreign_interaction"
    DUPLICATE = "duplicate"
    ROLE_TWIN = "role_twin"
    AFTER_SHUTDOWN = "after_shutdown"


@dataclass
class SessionStats:
    """Counters for the end-of-run summary (all keyed by their machine-readable names)."""

    events: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    rejections: Counter[str] = field(default_factory=Counter)
    drops: Counter[str] = field(default_factory=Counter)
    sent: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    """Exceptions caught while handling inbound input or reporting (a listener, a step
    of the session), by what was being handled: ``message``, ``participant``,
    ``sent``, ``outcome``. The input is skipped, the bot carries on."""
    late: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": dict(self.events),
            "tool_calls": dict(self.outcomes),
            "rejected": dict(self.rejections),
            "dropped": dict(self.drops),
            "sent": dict(self.sent),
            "failed": dict(self.failures),
            "late": self.late,
        }
