"""``pipeline_mode: echo``: a plugin answers the user's utterances with text to speak."""

from __future__ import annotations

from pathlib import Path

from cli_helpers import (
    invoke,
    message,
    read_jsonl,
    shutdown,
    tool_call,
    utterance,
    write_jsonl,
    write_text,
)

RESPONDER = '''
import asyncio

from cvibot import hookimpl, tool

@hookimpl
async def cvibot_respond_to_utterance(utterance, session, settings):
    await asyncio.sleep(0)
    if "skip" in utterance.speech:
        return None  # pass: no answer
    return f"{settings['name']} heard {len(utterance.speech.split())} words: {utterance.speech}"

@tool
def opening_hours() -> str:
    """Tell the opening hours."""
    return "9 to 5"
'''


def test_echo_mode_answers_user_utterances_with_the_plugins_text(tmp_path: Path) -> None:
    write_text(tmp_path / "responder.py", RESPONDER)
    write_jsonl(
        tmp_path / "rec.jsonl",
        [
            message("system.replica_joined", {}),
            utterance(1, "Welcome to the shop.", role="replica"),
            message(
                "conversation.utterance.streaming",
                {"role": "user", "speech": "When do", "content_index": 0, "final": False},
                seq=2,
                inference_id="inf-3",
            ),
            utterance(3, "When do you open?"),
            tool_call(4, "opening_hours", {}, "h1"),
            utterance(5, "please skip this one"),
            utterance(6, "Thanks a lot"),
            shutdown(),
        ],
    )
    config = write_text(
        tmp_path / "bot.yaml",
        """
        pipeline_mode: echo
        transport: {type: replay, path: rec.jsonl}
        plugins:
          - {module: responder, settings: {name: Mia}}
        """,
    )
    out = tmp_path / "sent.jsonl"

    result = invoke("replay", config, tmp_path / "rec.jsonl", "--out", out)

    assert result.exit_code == 0, result.stderr
    assert "pipeline_mode echo" in result.stdout.splitlines()[0]
    # The transcript shows each answer under the user's line it answers.
    lines = result.stdout.splitlines()
    asked = lines.index("  user    │ When do you open?")
    assert "  ↳ echo  │ Mia heard 4 words: When do you open?" in lines[asked + 1 : asked + 4]
    assert sum("↳ echo" in line for line in lines) == 2
    sent = read_jsonl(out)
    echoes = [m for m in sent if m["event_type"] == "conversation.echo"]
    assert [m["properties"] for m in echoes] == [
        {"modality": "text", "text": "Mia heard 4 words: When do you open?", "done": True},
        {"modality": "text", "text": "Mia heard 3 words: Thanks a lot", "done": True},
    ]
    assert {m["conversation_id"] for m in sent} == {"conv-7"}
    # Tools still answer their calls in echo mode.
    assert [m["properties"] for m in sent if m["event_type"] == "conversation.tool_result"] == [
        {"tool_call_id": "h1", "output": "9 to 5", "status": "success"}
    ]


def test_full_mode_does_not_use_the_responder(tmp_path: Path) -> None:
    write_text(tmp_path / "responder.py", RESPONDER)
    write_jsonl(tmp_path / "rec.jsonl", [utterance(1, "When do you open?"), shutdown()])
    config = write_text(
        tmp_path / "bot.yaml",
        """
        transport: {type: replay, path: rec.jsonl, out: sent.jsonl}
        plugins:
          - {module: responder, settings: {name: Mia}}
        """,
    )

    result = invoke("run", config, "--quiet")

    assert result.exit_code == 0, result.stderr
    assert read_jsonl(tmp_path / "sent.jsonl") == []
