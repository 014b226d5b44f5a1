"""Recordings read back: ReplayTransport delivers participants and messages, in order."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from recording_helpers import (
    HUMAN_DAILY,
    HUMAN_ID,
    REPLICA_DAILY,
    REPLICA_ID,
    FakeReceiver,
    echo,
    tool_call,
    tool_result,
)

from cvibot._participants import Participant
from cvibot.transports._base import TransportError
from cvibot.transports._memory import MemoryTransport
from cvibot.transports._recording import RecordingTransport
from cvibot.transports._replay import (
    RecordedParticipant,
    ReplayTransport,
    read_entries,
    read_outbound,
    read_recording,
)

SHOP = Path(__file__).resolve().parents[2] / "bots" / "shop" / "conversation.jsonl"
REPLICA = Participant(REPLICA_ID, "tavus-replica-r1", "Anna")
HUMAN = Participant(HUMAN_ID, "u-dana", "Dana")


def write_lines(path: Path, *lines: Any) -> Path:
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines),
        encoding="utf-8",
    )
    return path


def participant_line(change: str, participant: Any, at: float = 0.0, reason: Any = None) -> Any:
    return {
        "direction": "participant",
        "at": at,
        "change": change,
        "participant": participant,
        "reason": reason,
    }


async def record(path: Path) -> MemoryTransport:
    """Record a small conversation on a MemoryTransport."""
    inner = MemoryTransport()
    recording = RecordingTransport(inner, path)
    await recording.open()
    inner.push_participant("joined", REPLICA_DAILY)
    inner.push_participant("joined", HUMAN_DAILY)
    inner.push(tool_call("lookup", {"id": 1}, "t1", 1), REPLICA_ID)
    inner.push(tool_call("lookup", {"id": 2}, "forged", 2), HUMAN_ID)
    inner.push_participant("updated", {"id": HUMAN_ID, "user_id": "u-dana", "user_name": "D."})
    inner.push("not json", None)
    inner.push_participant("left", HUMAN_DAILY, reason="leftCall")
    inner.end()
    await recording.run(FakeReceiver())
    await recording.send(tool_result("t1", "one"))
    await recording.send(echo("bye"), to=REPLICA_ID)
    await recording.close()
    return inner


async def test_a_recording_replays_participants_and_messages_in_order(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    await record(path)

    replay = ReplayTransport(path)
    receiver = FakeReceiver()
    await replay.open()
    await replay.run(receiver)
    await replay.close()

    assert receiver.calls == [
        ("participant", "joined", REPLICA, None, None),
        ("participant", "joined", HUMAN, None, None),
        ("message", tool_call("lookup", {"id": 1}, "t1", 1), REPLICA_ID, None),
        ("message", tool_call("lookup", {"id": 2}, "forged", 2), HUMAN_ID, None),
        ("participant", "updated", Participant(HUMAN_ID, "u-dana", "D."), None, None),
        ("message", "not json", None, None),
        ("participant", "left", HUMAN, "leftCall", None),
    ]
    # The header and the out lines are not delivered; fast pace settles after each one.
    assert receiver.settles == len(receiver.calls) + 1


async def test_read_outbound_returns_the_sent_messages(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    await record(path)
    out = read_outbound(path)
    assert [o.message for o in out] == [tool_result("t1", "one"), echo("bye")]
    assert [o.to for o in out] == [None, REPLICA_ID]
    assert all(o.error is None and o.at is not None for o in out)
    assert [o.line for o in out] == [9, 10]
    # read_recording keeps yielding only the messages.
    assert [item.sender for item in read_recording(path)] == [REPLICA_ID, HUMAN_ID, None]
    assert [item.received_at is not None for item in read_recording(path)] == [True] * 3


def test_out_failed_lines_count_as_expected_unless_excluded(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "rec.jsonl",
        {"direction": "out", "at": 0.1, "to": None, "message": echo("a")},
        {"direction": "out_failed", "at": 0.2, "to": None, "message": echo("b"), "error": "gone"},
    )
    assert [o.message for o in read_outbound(path)] == [echo("a"), echo("b")]
    assert [o.error for o in read_outbound(path)] == [None, "gone"]
    assert [o.message for o in read_outbound(path, include_failed=False)] == [echo("a")]
    assert list(read_entries(path)) == []


async def test_recorded_pace_delivers_participants_at_their_time(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "rec.jsonl",
        {"direction": "meta", "at": 0.0, "recording": {"version": 1}},
        participant_line("joined", REPLICA_DAILY, at=0.0),
        {"direction": "in", "at": 0.05, "sender": REPLICA_ID, "message": echo("x")},
        participant_line("left", REPLICA_DAILY, at=0.15, reason="leftCall"),
    )
    times: list[tuple[str, float]] = []

    class Timed(FakeReceiver):
        def on_message(self, *args: Any) -> None:
            times.append(("message", time.perf_counter()))

        def on_participant(self, *args: Any) -> None:
            times.append((args[0], time.perf_counter()))

    replay = ReplayTransport(path, pace="recorded")
    await replay.open()
    started = time.perf_counter()
    await replay.run(Timed())
    assert [kind for kind, _ in times] == ["joined", "message", "left"]
    assert times[0][1] - started < 0.04
    assert times[1][1] - started >= 0.045
    assert times[2][1] - started >= 0.145


def test_participant_lines_read_both_spellings(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "rec.jsonl",
        participant_line("joined", {"id": "a", "user_id": "tavus-replica-x", "local": False}),
        participant_line("joined", {"id": "b", "info": {"userName": "Bo", "isLocal": True}}),
    )
    entries = list(read_entries(path))
    assert all(isinstance(e, RecordedParticipant) for e in entries)
    assert [e.participant for e in entries if isinstance(e, RecordedParticipant)] == [
        Participant("a", "tavus-replica-x"),
        Participant("b", None, "Bo", True),
    ]


def test_the_bundled_shop_recording_reads(tmp_path: Path) -> None:
    entries = list(read_entries(SHOP))
    participants = [e for e in entries if isinstance(e, RecordedParticipant)]
    messages = [e for e in entries if not isinstance(e, RecordedParticipant)]
    assert messages, "the shop conversation has messages"
    if participants:  # once the recording carries its roster
        assert entries.index(participants[0]) < entries.index(messages[0])


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ({"direction": "in", "at": 0.0, "sender": "p"}, 'an "in" line without "message"'),
        (participant_line("arrived", REPLICA_DAILY), "change 'arrived'"),
        (participant_line("joined", {"info": {"userId": "x"}}), "without a participant id"),
        ({"direction": "out", "message": "text"}, "message is not an object"),
        ({"direction": "meta", "recording": {"version": 2}}, "version 2 is newer"),
    ],
)
def test_broken_recording_lines_name_file_and_line(tmp_path: Path, line: Any, problem: str) -> None:
    path = write_lines(tmp_path / "rec.jsonl", echo("fine"), line)
    with pytest.raises(TransportError, match=problem) as caught:
        list(read_entries(path))
    assert f"{path}:2:" in str(caught.value)


def test_unknown_directions_are_skipped(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "rec.jsonl",
        {"direction": "note", "at": 0.0, "text": "from a later version"},
        {"direction": "in", "at": 0.1, "message": echo("x")},
    )
    assert [e.line for e in read_entries(path)] == [2]
