"""What a fake conversation hands back: one answer of the bot, and the wait that failed.

:class:`ToolReply` wraps one outbound app-message (and, for a tool call, its
:class:`~cvibot._dispatch.ToolOutcome`) with accessors for what tests assert on;
:class:`ReplyTimeout` is raised when the bot sends nothing that matches in time, with
what it did send in the message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cvibot._errors import CvibotError

if TYPE_CHECKING:
    from cvibot._dispatch import ToolOutcome

__all__ = ["ReplyTimeout", "ToolReply", "describe_sent"]

# Which property carries the text, per answer type (protocol reference §3).
_TEXT_KEYS = {
    "conversation.tool_result": "output",
    "conversation.echo": "text",
    "conversation.respond": "text",
    "conversation.append_llm_context": "context",
}
_SHOWN_MESSAGES = 10
_SHOWN_CHARS = 240


class ReplyTimeout(CvibotError, AssertionError, TimeoutError):
    """The bot sent no matching answer within the wait (seconds, in the message).

    Both an ``AssertionError`` (pytest reports a failed expectation) and a
    ``TimeoutError`` (what ``pytest.raises(TimeoutError)`` expects of a wait). The
    message lists the messages the bot did send.
    """


@dataclass(frozen=True, slots=True)
class ToolReply:
    """One answer of the bot.

    - ``message``: the app-message sent, as the transport got it; ``None`` when the call's
      reply mode sends nothing (``none``, the default for perception tool calls, or a
      spoken reply without text).
    - ``outcome``: the tool call's terminal outcome (kind, error kind, latency in seconds,
      text); ``None`` for an answer to an utterance.
    """

    message: Mapping[str, Any] | None
    outcome: ToolOutcome | None = None

    @property
    def event_type(self) -> str | None:
        """``"conversation.tool_result"``, ``"conversation.echo"``, ``"conversation.respond"``,
        ``"conversation.append_llm_context"`` (or another interaction's type); ``None``
        when nothing was sent."""
        if self.message is None:
            return None
        value = self.message.get("event_type")
        return value if isinstance(value, str) else None

    @property
    def properties(self) -> Mapping[str, Any]:
        """The message's ``properties`` (empty when there are none or nothing was sent)."""
        props = self.message.get("properties") if self.message is not None else None
        return props if isinstance(props, Mapping) else {}

    @property
    def text(self) -> str | None:
        """The answer text: a ``tool_result``'s ``output``, an ``echo``'s or ``respond``'s
        ``text``, an ``append_llm_context``'s ``context``. When nothing was sent, the
        outcome's text (what the answer would have said); else ``None``."""
        key = _TEXT_KEYS.get(self.event_type or "")
        if key is not None:
            value = self.properties.get(key)
            return value if isinstance(value, str) else None
        if self.message is None and self.outcome is not None:
            return self.outcome.text
        return None

    @property
    def status(self) -> str | None:
        """``"success"`` or ``"error"`` for a ``tool_result``; ``None`` for other answers."""
        if self.event_type != "conversation.tool_result":
            return None
        value = self.properties.get("status")
        return value if isinstance(value, str) else None

    def json(self) -> Any:
        """:attr:`text` parsed as JSON (a tool's dict, list or model answer).

        Raises ``ValueError`` naming the text when there is none or it is not JSON.
        """
        text = self.text
        if text is None:
            raise ValueError(f"the answer has no text to parse as JSON: {self!r}")
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"the answer is not JSON ({exc}): {text!r}") from None

    def __repr__(self) -> str:
        parts = [f"event_type={self.event_type!r}", f"text={self.text!r}"]
        if self.status is not None:
            parts.append(f"status={self.status!r}")
        if self.outcome is not None:
            parts.append(f"outcome={self.outcome.kind.value!r}")
            if self.outcome.error is not None:
                parts.append(f"error={self.outcome.error.value!r}")
        return f"ToolReply({', '.join(parts)})"


def describe_sent(sent: Sequence[Mapping[str, Any]]) -> str:
    """The bot's outbound messages as numbered lines of compact JSON, for error messages.

    Shows the last ten, each cut to 240 characters; ``"the bot sent nothing"`` when
    there are none.
    """
    if not sent:
        return "the bot sent nothing"
    first = max(0, len(sent) - _SHOWN_MESSAGES)
    lines = [f"the bot sent {len(sent)} message{'s' if len(sent) != 1 else ''}:"]
    if first:
        lines.append(f"  ... ({first} earlier)")
    for index in range(first, len(sent)):
        text = json.dumps(sent[index], default=str, ensure_ascii=False, separators=(",", ":"))
        if len(text) > _SHOWN_CHARS:
            text = text[: _SHOWN_CHARS - 1] + "…"
        lines.append(f"  {index + 1}. {text}")
    return "\n".join(lines)
