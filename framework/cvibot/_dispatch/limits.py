"""The app-message size limit applied to answers (Daily's 4 KB by default).

An answer over ``message_limit`` bytes is either truncated (its text cut at a character
boundary, ending with "…") or replaced by an error answer saying it was too large,
following the ``on_oversize`` policy. An answer that is not strict JSON at all (a custom
interaction holding a NaN, say) is replaced by an error answer too. Nothing is dropped
silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from structlog.typing import FilteringBoundLogger

from cvibot._dispatch.answer import ANSWER_MODES, answer_for, effective_reply
from cvibot._protocol.events import ToolCall
from cvibot._protocol.interactions import (
    EncodedMessage,
    Interaction,
    MessageTooLarge,
    encode_interaction,
    encode_message,
    fit_to_limit,
)
from cvibot.tools._options import ReplyMode

__all__ = ["EncodedAnswer", "encode_answer"]


@dataclass(frozen=True, slots=True)
class EncodedAnswer:
    """The app-message to send, checked and encoded once (transports hand it on as is);
    ``oversize`` is the error text when an error answer replaced the answer (too large
    to send, or not encodable as JSON at all)."""

    message: EncodedMessage
    truncated: bool = False
    oversize: str | None = None


def encode_answer(
    interaction: Interaction,
    *,
    mode: ReplyMode,
    call: ToolCall,
    conversation_id: str,
    limit: int,
    on_oversize: Literal["truncate", "error"],
    log: FilteringBoundLogger,
) -> EncodedAnswer:
    """Build the app-message for ``interaction`` within ``limit`` bytes.

    ``mode`` is the resolved reply mode of the answer, used for the error answer that
    replaces one too large to send (or to truncate), or one that is not strict JSON (an
    interaction holding a NaN or an integer too long to write; lone surrogates are
    mended by the interaction, see :mod:`cvibot._protocol.interactions`). Logs a warning
    on truncation and an error on replacement. Never raises for the interaction's
    content, so the call always gets its answer.
    """
    try:
        return EncodedAnswer(encode_interaction(interaction, conversation_id, limit))
    except MessageTooLarge as exc:
        too_large = exc
    except ValueError as exc:
        log.error(
            "answer is not JSON-encodable",
            tool=call.name,
            tool_call_id=call.tool_call_id,
            error=str(exc),
        )
        error_text = f"the answer of {call.name} cannot be sent as JSON"
        return _replaced(error_text, mode=mode, call=call, conversation_id=conversation_id)
    fields = {
        "tool": call.name,
        "size": too_large.size,
        "limit": limit,
        "tool_call_id": call.tool_call_id,
    }
    if on_oversize == "truncate":
        try:
            fitted, truncated = fit_to_limit(interaction, conversation_id, limit)
            log.warning("answer truncated to the app-message limit", **fields)
            return EncodedAnswer(
                encode_interaction(fitted, conversation_id, limit), truncated=truncated
            )
        except MessageTooLarge:
            pass
    error_text = (
        f"the answer of {call.name} is too large to send ({too_large.size} bytes, limit {limit})"
    )
    log.error("answer over the app-message limit", **fields)
    return _replaced(error_text, mode=mode, call=call, conversation_id=conversation_id)


def _replaced(
    error_text: str, *, mode: ReplyMode, call: ToolCall, conversation_id: str
) -> EncodedAnswer:
    """The error answer that replaces one that cannot be sent."""
    # An explicit interaction of another kind (an oversize OverwriteContext, say) has
    # no reply mode that answers: fall back to the call's default answer.
    fallback = answer_for(
        mode if mode in ANSWER_MODES else effective_reply(ReplyMode.AUTO, call.tool_call_id),
        text=error_text,
        ok=False,
        tool_call_id=call.tool_call_id,
    )
    assert fallback is not None
    # Owed whatever its size: measured here, it is checked by the transport's limit.
    message = fallback.to_message(conversation_id)
    data = encode_message(message)
    return EncodedAnswer(EncodedMessage(message, bound=len(data), data=data), oversize=error_text)
