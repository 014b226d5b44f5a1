"""Enumerations shared by tool specs, config and dispatch."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Origin", "ReplyMode"]


class ReplyMode(StrEnum):
    """How the outcome of a tool call is sent back to Tavus.

    - ``auto``: ``conversation.tool_result`` when the call carries a ``tool_call_id``,
      ``conversation.echo`` (text) otherwise (protocol reference §6 rule 8, D17).
    - ``tool_result``: ``conversation.tool_result`` (§3.7); falls back to ``echo`` when the
      call has no ``tool_call_id``, since Tavus would have nothing to match it to.
    - ``echo``: the replica speaks the answer verbatim (§3.2).
    - ``respond``: the answer goes through Tavus's LLM as if the user had said it (§3.3);
      impossible under ``pipeline_mode: echo``.
    - ``append_context``: ``conversation.append_llm_context``, silent (§3.5).
    - ``none``: nothing is sent; the outcome is only logged (fire-and-forget).
    """

    AUTO = "auto"
    TOOL_RESULT = "tool_result"
    ECHO = "echo"
    RESPOND = "respond"
    APPEND_CONTEXT = "append_context"
    NONE = "none"


class Origin(StrEnum):
    """Where Tavus raises the tool (tools registry ``origin``, protocol reference §7.2).

    ``llm`` tools arrive as ``conversation.tool_call``; ``vision`` and ``audio`` tools are
    Raven perception tools and arrive as ``conversation.perception_tool_call`` (§4.5).
    """

    LLM = "llm"
    VISION = "vision"
    AUDIO = "audio"
