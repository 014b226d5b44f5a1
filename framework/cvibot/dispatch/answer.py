"""From a handler's return value (or failure) to the interaction that answers the call."""

from __future__ import annotations

import json
from typing import Any

import pydantic_core
from pydantic import BaseModel

from cvibot.protocol.interactions import (
    AppendContext,
    Echo,
    Interaction,
    Respond,
    ToolResult,
)
from cvibot.tools.options import ReplyMode

__all__ = ["ANSWER_MODES", "answer_for", "effective_reply", "explicit_answer", "render_value"]

_INTERACTION_REPLY: dict[type[Interaction], ReplyMode] = {
    ToolResult: ReplyMode.TOOL_RESULT,
    Echo: ReplyMode.ECHO,
    Respond: ReplyMode.RESPOND,
    AppendContext: ReplyMode.APPEND_CONTEXT,
}
# The reply modes whose answer carries text (``none`` and ``auto`` do not).
ANSWER_MODES = frozenset(_INTERACTION_REPLY.values())


def effective_reply(mode: ReplyMode, tool_call_id: str | None) -> ReplyMode:
    """Resolve ``auto`` and the ``tool_result``-without-id case (protocol reference D17).

    ``auto`` → ``tool_result`` when the call carries a ``tool_call_id``, else ``echo``.
    ``tool_result`` without an id → ``echo``: Tavus could not match a result to the call.
    """
    if mode is ReplyMode.AUTO or mode is ReplyMode.TOOL_RESULT:
        return ReplyMode.TOOL_RESULT if tool_call_id else ReplyMode.ECHO
    return mode


def render_value(value: Any) -> tuple[str | None, Interaction | None]:
    """Turn a handler's return value into ``(answer text, explicit interaction)``.

    - ``str`` → the text itself; ``None`` → no text;
    - an :class:`Interaction` → ``(None, interaction)``: it replaces the configured reply;
    - ``dict``, ``list``, a pydantic model, a dataclass → compact JSON text;
    - numbers and booleans → their JSON text; anything else → ``str(value)``.
    """
    if value is None:
        return None, None
    if isinstance(value, str):
        return value, None
    if isinstance(value, Interaction):
        return None, value
    if isinstance(value, BaseModel):
        return value.model_dump_json(), None
    if isinstance(value, bool | int | float):
        return json.dumps(value), None
    try:
        return pydantic_core.to_json(value).decode(), None
    except pydantic_core.PydanticSerializationError:
        return str(value), None


def answer_for(
    mode: ReplyMode, *, text: str | None, ok: bool, tool_call_id: str | None
) -> Interaction | None:
    """The interaction a resolved reply ``mode`` sends for an answer ``text``.

    ``tool_result`` always answers (an empty ``output`` when there is no text, so the
    replica is never left waiting); ``status`` is ``"error"`` when ``ok`` is false.
    The spoken or appended modes send nothing when there is no text. ``none`` never
    sends. ``mode`` must already be resolved by :func:`effective_reply`.
    """
    if mode is ReplyMode.TOOL_RESULT:
        return ToolResult(
            tool_call_id=tool_call_id, output=text or "", status="success" if ok else "error"
        )
    if not text or mode is ReplyMode.NONE:
        return None
    if mode is ReplyMode.ECHO:
        return Echo(text=text)
    if mode is ReplyMode.RESPOND:
        return Respond(text=text)
    if mode is ReplyMode.APPEND_CONTEXT:
        return AppendContext(context=text)
    raise ValueError(f"unresolved reply mode {mode}")


def explicit_answer(
    interaction: Interaction, tool_call_id: str | None
) -> tuple[Interaction | None, ReplyMode]:
    """A handler returned ``interaction``: it replaces the configured reply.

    A ``ToolResult`` gets the call's ``tool_call_id``; for a call without one there is
    nothing for Tavus to match it to, so its output is spoken instead (D17). Returns the
    interaction to send and the reply mode it stands for (``auto`` for interactions that
    are not answers, such as ``OverwriteContext``).
    """
    if isinstance(interaction, ToolResult):
        if tool_call_id is None:
            return (
                answer_for(ReplyMode.ECHO, text=interaction.output, ok=True, tool_call_id=None),
                ReplyMode.ECHO,
            )
        if interaction.tool_call_id is None:
            interaction = interaction.model_copy(update={"tool_call_id": tool_call_id})
    return interaction, _INTERACTION_REPLY.get(type(interaction), ReplyMode.AUTO)
