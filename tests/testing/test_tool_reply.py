"""ToolReply's accessors and the listing of sent messages in wait failures."""

from __future__ import annotations

from typing import Any

import pytest

from cvibot._dispatch import ToolOutcome
from cvibot._dispatch.outcome import ErrorKind, OutcomeKind
from cvibot.testing import ToolReply
from cvibot.testing._replies import describe_sent
from cvibot.tools import ReplyMode


def message(event_type: str, **properties: Any) -> dict[str, Any]:
    return {"message_type": "conversation", "event_type": event_type, "properties": properties}


@pytest.mark.parametrize(
    ("sent", "text", "status"),
    [
        (
            message("conversation.tool_result", tool_call_id="t", output="ok", status="error"),
            "ok",
            "error",
        ),
        (message("conversation.echo", modality="text", text="hi", done=True), "hi", None),
        (message("conversation.respond", text="say it"), "say it", None),
        (message("conversation.append_llm_context", context="note"), "note", None),
        (message("conversation.interrupt"), None, None),
    ],
)
def test_text_and_status_come_from_each_answer_type(
    sent: dict[str, Any], text: str | None, status: str | None
) -> None:
    reply = ToolReply(sent)

    assert reply.event_type == sent["event_type"]
    assert reply.text == text
    assert reply.status == status


def test_without_a_message_the_text_is_the_outcomes() -> None:
    outcome = ToolOutcome(
        kind=OutcomeKind.ERROR,
        tool="t",
        reply=ReplyMode.NONE,
        latency=0.01,
        text="boom",
        error=ErrorKind.TOOL_ERROR,
    )
    reply = ToolReply(None, outcome)

    assert (reply.event_type, reply.status, reply.text) == (None, None, "boom")
    assert reply.properties == {}
    assert repr(reply) == (
        "ToolReply(event_type=None, text='boom', outcome='error', error='tool_error')"
    )


def test_json_parses_the_text_and_names_it_when_it_cannot() -> None:
    assert ToolReply(message("conversation.echo", text='{"a": [1]}')).json() == {"a": [1]}
    with pytest.raises(ValueError, match=r"not JSON .*'shipped'"):
        ToolReply(message("conversation.echo", text="shipped")).json()
    with pytest.raises(ValueError, match="no text"):
        ToolReply(None).json()


def test_describe_sent_numbers_and_shortens_the_last_ten() -> None:
    sent = [message("conversation.echo", text=str(i)) for i in range(12)]
    sent[-1]["properties"]["text"] = "x" * 500

    lines = describe_sent(sent).splitlines()

    assert lines[0] == "the bot sent 12 messages:"
    assert lines[1] == "  ... (2 earlier)"
    assert lines[2].startswith('  3. {"message_type":"conversation"')
    assert len(lines) == 12
    assert lines[-1].startswith("  12. ") and lines[-1].endswith("…")
    assert len(lines[-1]) == len("  12. ") + 240
    assert describe_sent([]) == "the bot sent nothing"
