"""A live conversation becomes a regression test: record, replay, compare.

A bot runs on a MemoryTransport wrapped in a RecordingTransport (as ``cvibot run
--record`` does); the recording then replays through a fresh bot on a ReplayTransport
and ``compare_outbound`` checks what it sends against the recording's ``out`` lines.
Tool calls come from the replica's participant, which the recording's participant
lines identify, so the replica-only trust rule applies on the replay as it did live.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from recording_helpers import (
    HUMAN_DAILY,
    HUMAN_ID,
    REPLICA_DAILY,
    REPLICA_ID,
    SentMessages,
    make_bot,
    read_lines,
    tool_call,
)

from cvibot import ToolContext, tool
from cvibot._recording import compare_outbound
from cvibot.transports._memory import MemoryTransport
from cvibot.transports._recording import RecordingTransport
from cvibot.transports._replay import ReplayTransport, read_outbound


@tool(name="count_pairs")
def count_pairs(size: int) -> str:
    """Count the pairs in stock."""
    return f"{size - 39} pairs"


@tool(name="count_pairs")
def count_pairs_changed(size: int) -> str:
    """Count the pairs in stock (now off by one)."""
    return f"{size - 38} pairs"


@tool(name="lookup")
async def lookup(order_id: int) -> dict[str, Any]:
    """Look an order up; the first order takes the longest."""
    await asyncio.sleep(0.01 * (4 - order_id))
    return {"order": order_id, "status": "shipped"}


@tool(name="greet")
async def greet(name: str, ctx: ToolContext) -> str:
    """Greet someone, saying "one moment" first."""
    await ctx.echo("One moment.")
    return f"Hello {name}!"


@tool(name="greet")
def greet_quietly(name: str) -> str:
    """Greet someone at once."""
    return f"Hello {name}!"


TOOLS = (count_pairs, lookup, greet)


def calls() -> list[dict[str, Any]]:
    return [
        tool_call("count_pairs", {"size": 42}, "t1", 1),
        tool_call("lookup", {"order_id": 1}, "t2", 2),
        tool_call("lookup", {"order_id": 2}, "t3", 3),
        tool_call("lookup", {"order_id": 3}, "t4", 4),
        tool_call("greet", {"name": "Zoë"}, "t5", 5),
    ]


async def record_live(folder: Path) -> Path:
    """Serve a conversation on a recorded MemoryTransport; return the recording."""
    path = folder / "live.jsonl"
    inner = MemoryTransport()
    inner.push_participant("joined", REPLICA_DAILY)
    inner.push_participant("joined", HUMAN_DAILY)
    for call in calls():
        inner.push(call, REPLICA_ID)
    # A human's browser forging a call: dropped live, and again on the replay.
    inner.push(tool_call("count_pairs", {"size": 99}, "forged", 6), HUMAN_ID)
    inner.end()
    await asyncio.wait_for(make_bot(folder, *TOOLS).run(RecordingTransport(inner, path)), 5)
    return path


async def replay_sent(
    folder: Path, recording: Path, *tools: Callable[..., Any], extra: str = ""
) -> list[Mapping[str, Any]]:
    listener = SentMessages()
    bot = make_bot(folder, *tools, extra=extra)
    await asyncio.wait_for(bot.run(ReplayTransport(recording), listeners=[listener]), 5)
    return listener.sent


def recorded_out(recording: Path) -> list[Mapping[str, Any]]:
    return [o.message for o in read_outbound(recording)]


async def test_the_live_recording_has_roster_messages_and_answers(tmp_path: Path) -> None:
    recording = await record_live(tmp_path)
    lines = read_lines(recording)
    assert [line["direction"] for line in lines[:3]] == ["meta", "participant", "participant"]
    inbound = [line for line in lines if line["direction"] == "in"]
    assert [line["sender"] for line in inbound] == [REPLICA_ID] * 5 + [HUMAN_ID]
    out = recorded_out(recording)
    answered = [m["properties"].get("tool_call_id") for m in out]
    assert sorted(a for a in answered if a) == ["t1", "t2", "t3", "t4", "t5"]
    assert "forged" not in answered
    # Answered live, concurrently: the slow first lookup answered after the others.
    assert answered.index("t2") > answered.index("t4")
    ats = [line["at"] for line in lines]
    assert ats == sorted(ats)


async def test_a_replay_of_the_recording_matches_it(tmp_path: Path) -> None:
    recording = await record_live(tmp_path)
    sent = await replay_sent(tmp_path, recording, *TOOLS)

    diff = compare_outbound(recorded_out(recording), sent)
    assert diff.ok, diff.format()
    assert diff.counts["same"] == 6  # five answers and the "one moment" echo
    # Fast pace answers in file order, unlike the live run: the order is no difference.
    replayed = [m["properties"].get("tool_call_id") for m in sent]
    assert replayed != [m["properties"].get("tool_call_id") for m in recorded_out(recording)]


async def test_a_changed_answer_fails_the_check_and_names_the_call(tmp_path: Path) -> None:
    recording = await record_live(tmp_path)
    sent = await replay_sent(tmp_path, recording, count_pairs_changed, lookup, greet)

    diff = compare_outbound(recorded_out(recording), sent)
    assert not diff.ok
    [pair] = diff.changed
    assert pair.key == "conversation.tool_result tool_call_id=t1"
    [field] = pair.fields
    assert (field.path, field.recorded, field.sent) == ("properties.output", "3 pairs", "4 pairs")
    assert (
        'changed    conversation.tool_result tool_call_id=t1: properties.output: "3 pairs" -> '
        '"4 pairs"' in diff.format()
    )
    assert not diff.missing and not diff.unexpected


async def test_a_missing_and_an_unexpected_message_are_reported(tmp_path: Path) -> None:
    recording = await record_live(tmp_path)
    # The greeting no longer says "one moment", and a bot that trusts every sender
    # answers the forged call.
    sent = await replay_sent(
        tmp_path, recording, count_pairs, lookup, greet_quietly, extra="trust: {senders: any}\n"
    )

    diff = compare_outbound(recorded_out(recording), sent)
    assert not diff.ok and not diff.changed
    assert [(m.key, m.message["properties"]["text"]) for m in diff.missing] == [
        ("conversation.echo #1", "One moment.")
    ]
    assert [m.key for m in diff.unexpected] == ["conversation.tool_result tool_call_id=forged"]
    text = diff.format()
    assert "missing    conversation.echo #1" in text
    assert "unexpected conversation.tool_result tool_call_id=forged" in text
