"""The framework's own in-process observer of a session: not a plugin API.

Plugins observe a session through hooks (:mod:`cvibot.plugins._hookspecs`:
``cvibot_event``, ``cvibot_tool_outcome``, ...), called by pluggy, the one public
observer API. :class:`SessionListener` is how the framework's own parts watch one
conversation inline, on the event loop, as the session takes each step: the CLI's
transcript (:mod:`cvibot._cli.transcript`), ``replay --check``, the console and the fake
conversation (:mod:`cvibot.testing._watch`). It is handed to
:meth:`cvibot._runtime.Bot.run` (``listeners=``) and is not exported: its methods run
inside the session's guard, so a listener that raises fails the step (the session
logs and counts it, and a tool call still gets its one answer), which a third-party
plugin must never be able to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cvibot._dispatch import ToolOutcome
from cvibot._listeners import DropReason
from cvibot._participants import Participant, ParticipantChange
from cvibot._protocol.events import Event, Utterance
from cvibot._protocol.parse import Rejection

__all__ = ["SessionListener"]


class SessionListener:
    """The framework's in-process observer of one session; no-op methods.

    Each method runs on the event loop, inline, at the step it names.
    """

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
