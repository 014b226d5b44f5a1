"""What a session reports to in-process observers: drops, counters and the listener API.

The transcript, ``replay --check`` and the tests observe a session through a
:class:`SessionListener`; :class:`SessionStats` holds the counters of the end-of-run
summary.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cvibot.dispatch import ToolOutcome
from cvibot.participants import Participant, ParticipantChange
from cvibot.protocol.events import Event, Utterance
from cvibot.protocol.parse import Rejection

__all__ = ["DropReason", "SessionListener", "SessionStats"]


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


class SessionListener:
    """In-process observer of a session (the transcript and tests use it); no-op methods."""

    def on_event(self, event: Event, *, late: bool) -> None:
        """An accepted event, before it is routed."""

    def on_rejection(self, rejection: Rejection) -> None:
        """A message the parser rejected."""

    def on_drop(self, event: Event, reason: DropReason) -> None:
        """An event that was parsed but not acted on."""

    def on_outcome(self, outcome: ToolOutcome) -> None:
        """A tool call's terminal outcome, after its answer was sent."""

    def on_sent(self, message: Mapping[str, Any]) -> None:
        """Any app-message the bot sent."""

    def on_responded(self, utterance: Utterance, text: str) -> None:
        """Under ``pipeline_mode: echo``: the text a plugin's utterance responder gave the
        user's ``utterance``, after it was sent as a ``conversation.echo``."""

    def on_participant(
        self, change: ParticipantChange, participant: Participant, *, replica: bool
    ) -> None:
        """A participant joined, was updated or left; ``replica`` if it is the replica."""

    def on_untrusted(self, message: Any, sender: str) -> None:
        """A message dropped because its sender is not trusted (a forgery, or a human);
        ``sender`` is the participant as :meth:`Participant.describe` gives it, or its id
        when the roster does not know it."""
