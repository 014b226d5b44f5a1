"""Builders, a fake receiver and a bot factory for the recording tests."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cvibot import hookimpl
from cvibot._listening import SessionListener
from cvibot._participants import Participant, ParticipantChange
from cvibot._runtime import Bot
from cvibot.config import parse_config

CID = "c1"
REPLICA_ID = "0b6c1f0e-7a1d-4c3e-9d1a-0e6f2b9a7c11"
HUMAN_ID = "3b0c9e4a-2d6f-4f1b-8a7e-5c9d0e1f2a3b"
REPLICA_DAILY = {"id": REPLICA_ID, "info": {"userId": "tavus-replica-r1", "userName": "Anna"}}
HUMAN_DAILY = {"id": HUMAN_ID, "info": {"userId": "u-dana", "userName": "Dana"}}


def tool_call(name: str, arguments: Mapping[str, Any], tcid: str, seq: int) -> dict[str, Any]:
    return {
        "message_type": "conversation",
        "event_type": "conversation.tool_call",
        "conversation_id": CID,
        "seq": seq,
        "properties": {"name": name, "arguments": json.dumps(arguments), "tool_call_id": tcid},
    }


def tool_result(tcid: str, output: str, status: str = "success") -> dict[str, Any]:
    return {
        "message_type": "conversation",
        "event_type": "conversation.tool_result",
        "conversation_id": CID,
        "properties": {"tool_call_id": tcid, "output": output, "status": status},
    }


def echo(text: str) -> dict[str, Any]:
    return {
        "message_type": "conversation",
        "event_type": "conversation.echo",
        "conversation_id": CID,
        "properties": {"modality": "text", "text": text, "done": True},
    }


def read_lines(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert all(lines), "no blank lines"
    return [json.loads(line) for line in lines]


class SentMessages(SessionListener):
    """Keeps every message the session sent."""

    def __init__(self) -> None:
        self.sent: list[Mapping[str, Any]] = []

    def on_sent(self, message: Mapping[str, Any]) -> None:
        self.sent.append(message)


class FakeReceiver:
    """A receiver that keeps every delivery, in order, as tuples."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.settles = 0
        self.closed = False

    def on_message(
        self, message: Any, sender: str | None = None, received_at: float | None = None
    ) -> None:
        self.calls.append(("message", message, sender, received_at))

    def on_participant(
        self,
        change: ParticipantChange,
        participant: Participant,
        reason: str | None = None,
        received_at: float | None = None,
    ) -> None:
        self.calls.append(("participant", change, participant, reason, received_at))

    async def settled(self) -> None:
        self.settles += 1


class ToolsPlugin:
    """A built-in plugin object that registers the given functions as tools."""

    def __init__(self, *tools: Callable[..., Any]) -> None:
        self.tools = tools

    @hookimpl
    def cvibot_register_tools(self, register: Callable[..., None]) -> None:
        for fn in self.tools:
            register(fn)


def make_bot(folder: Path, *tools: Callable[..., Any], extra: str = "") -> Bot:
    """A bot serving conversation ``c1`` with ``tools`` (no plugin files, no autoload);
    ``extra`` is more YAML for its config."""
    loaded = parse_config(
        f"conversation: {{id: {CID}}}\n"
        "transport: {type: replay, path: unused.jsonl}\n"
        "dispatch: {shutdown_grace: 2}\n" + extra,
        path=folder / "bot.yaml",
    )
    return Bot.from_config(loaded, autoload=False, builtins=[("tools", ToolsPlugin(*tools))])
