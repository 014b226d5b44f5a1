"""Observer hooks see every accepted event and every tool-call outcome, run in-process."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from cli_helpers import (
    message,
    shutdown,
    tool_call,
    utterance,
    write_jsonl,
    write_text,
)

from cvibot._dispatch import ToolOutcome
from cvibot._listening import SessionListener
from cvibot._protocol.events import Event
from cvibot._runtime import Bot
from cvibot.config import load_config
from cvibot.transports._replay import ReplayTransport

OBSERVER = '''
import asyncio

from cvibot import ToolError, hookimpl, tool

EVENTS = []
OUTCOMES = []

@hookimpl
async def cvibot_event(event, session, settings):
    await asyncio.sleep(0.001)  # an async observer runs in a task of its own
    EVENTS.append((settings["tag"], session.conversation_id, event))

@hookimpl
def cvibot_tool_outcome(outcome, session, settings):
    OUTCOMES.append((settings["tag"], session.conversation_id, outcome))

@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b

@tool
def refuse() -> str:
    """Always refuses."""
    raise ToolError("not today")
'''


class Recorder(SessionListener):
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.outcomes: list[ToolOutcome] = []

    def on_event(self, event: Event, *, late: bool) -> None:
        self.events.append(event)

    def on_outcome(self, outcome: ToolOutcome) -> None:
        self.outcomes.append(outcome)


async def test_observers_see_every_event_and_outcome(tmp_path: Path) -> None:
    malformed = tool_call(5, "add", {}, "c_bad")
    malformed["properties"]["arguments"] = '{"a": 1,'
    recording = write_jsonl(
        tmp_path / "rec.jsonl",
        [
            message("system.replica_joined", {}),
            utterance(1, "what is one plus two"),
            tool_call(2, "add", {"a": 1, "b": 2}, "c_add"),
            tool_call(2, "add", {"a": 1, "b": 2}, "c_add"),  # duplicate: dropped
            tool_call(3, "refuse", {}, "c_refuse"),
            tool_call(4, "add", {"a": "x"}, "c_args"),
            malformed,  # rejected, answered with an error
            tool_call(6, "nope", {}, "c_unknown"),
            utterance(7, "not ours", role="user") | {"conversation_id": "someone-else"},
            utterance(8, "thanks"),
            shutdown(),
        ],
    )
    write_text(tmp_path / "observer.py", OBSERVER)
    config = write_text(
        tmp_path / "bot.yaml",
        """
        transport: {type: replay, path: rec.jsonl}
        plugins:
          - {module: observer, settings: {tag: obs}}
        """,
    )
    bot = Bot.from_config(load_config(config), autoload=False)
    module: Any = bot.host.plugins[0].plugin
    recorder = Recorder()

    session = await bot.run(ReplayTransport(recording), listeners=[recorder])

    events = module.EVENTS
    outcomes = module.OUTCOMES
    # Every event the session accepted, and nothing else; each with this plugin's settings.
    assert Counter(id(e) for _, _, e in events) == Counter(id(e) for e in recorder.events)
    assert len(events) == sum(session.stats.events.values()) == 8
    assert {(tag, cid) for tag, cid, _ in events} == {("obs", "conv-7")}
    assert Counter(e.event_type for _, _, e in events) == {
        "system.replica_joined": 1,
        "conversation.utterance": 2,
        "conversation.tool_call": 4,
        "system.shutdown": 1,
    }
    # Every outcome, in the order they ended, the rejected call's included.
    assert [o for _, _, o in outcomes] == recorder.outcomes
    assert len(outcomes) == sum(session.stats.outcomes.values()) == 5
    assert {(tag, cid) for tag, cid, _ in outcomes} == {("obs", "conv-7")}
    by_id = {o.tool_call_id: o for _, _, o in outcomes}
    assert sorted(by_id) == ["c_add", "c_args", "c_bad", "c_refuse", "c_unknown"]
    assert (by_id["c_add"].kind.value, by_id["c_add"].text) == ("success", "3")
    assert (by_id["c_refuse"].kind.value, by_id["c_refuse"].text) == ("error", "not today")
    assert by_id["c_args"].error is not None
    assert by_id["c_args"].error.value == "invalid_arguments"
    assert by_id["c_bad"].error is not None
    assert by_id["c_bad"].error.value == "rejected"
    assert by_id["c_unknown"].error is not None
    assert by_id["c_unknown"].error.value == "unknown_tool"
