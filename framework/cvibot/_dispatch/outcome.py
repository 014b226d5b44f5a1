"""The terminal outcome of one tool call: exactly one per call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cvibot.tools._options import ReplyMode

__all__ = ["ErrorKind", "OutcomeKind", "ToolOutcome"]


class OutcomeKind(StrEnum):
    SUCCESS = "success"
    ERROR = "error"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    # Not this host's to answer: the call fence (``cvibot serve``) refused it, because
    # another host answered it already or this one no longer holds the conversation.
    # The handler did not run (or its answer was not sent) and nothing was sent.
    FENCED = "fenced"


class ErrorKind(StrEnum):
    """Why a call ended in ``error`` (or how it was cancelled)."""

    TOOL_ERROR = "tool_error"  # the handler raised ToolError
    EXCEPTION = "exception"  # the handler raised anything else
    INVALID_ARGUMENTS = "invalid_arguments"  # arguments failed the tool's schema
    UNKNOWN_TOOL = "unknown_tool"  # no handler for that name
    REJECTED = "rejected"  # the parser rejected the event but it carried a tool_call_id
    OVERSIZE = "oversize"  # the answer did not fit the app-message limit
    INTERRUPTED = "interrupted"  # cancelled: the replica was interrupted
    SHUTDOWN = "shutdown"  # cancelled: the bot stopped before the call ended
    BUSY = "busy"  # refused at once: too many calls waiting, or no thread for a sync handler


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """How one tool call ended and what was sent for it.

    ``latency`` is in seconds, from the message's arrival to the answer being handed to
    the transport. ``text`` is the answer text (or the error message the LLM sees);
    ``answer`` the app-message sent, ``None`` when the reply mode sends nothing.
    """

    kind: OutcomeKind
    tool: str
    reply: ReplyMode
    latency: float
    text: str | None = None
    error: ErrorKind | None = None
    answer: Mapping[str, Any] | None = None
    conversation_id: str | None = None
    tool_call_id: str | None = None
    inference_id: str | None = None
    seq: int | None = None
    truncated: bool = False

    def log_fields(self) -> dict[str, Any]:
        """The fields every outcome log line carries."""
        return {
            "tool": self.tool,
            "outcome": self.kind.value,
            "error": self.error.value if self.error else None,
            "reply": self.reply.value,
            "latency_ms": round(self.latency * 1000, 3),
            "conversation_id": self.conversation_id,
            "tool_call_id": self.tool_call_id,
            "inference_id": self.inference_id,
            "seq": self.seq,
        }
