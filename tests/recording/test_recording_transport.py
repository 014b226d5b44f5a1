"""RecordingTransport: the lines it writes around any transport, and how it fails."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
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
    read_lines,
    tool_call,
    tool_result,
)

from cvibot._participants import Participant
from cvibot.transports._base import TransportError
from cvibot.transports._memory import MemoryTransport
from cvibot.transports._recording import RecordingTransport
from cvibot.transports._replay import ReplayTransport

PARTICIPANT_KEYS = ["direction", "at", "change", "participant", "reason"]
IN_KEYS = ["direction", "at", "sender", "received_at", "message"]
OUT_KEYS = ["direction", "at", "to", "message"]


async def test_records_header_participants_messages_and_sends(tmp_path: Path) -> None:
    inner = MemoryTransport()
    path = tmp_path / "rec" / "conv.jsonl"  # the folder is created
    recording = RecordingTransport(inner, path)
    receiver = FakeReceiver()
    call = tool_call("lookup", {"order_id": "A1"}, "t1", seq=1)

    before = time.time()
    await recording.open()
    inner.push_participant("joined", REPLICA_DAILY)
    inner.push_participant("joined", HUMAN_DAILY)
    inner.push(call, REPLICA_ID)
    inner.push('{"event_type": "garbled', HUMAN_ID)
    inner.push_participant("left", HUMAN_DAILY, reason="leftCall")
    inner.end()
    await recording.run(receiver)
    await asyncio.sleep(0.01)
    await recording.send(tool_result("t1", "shipped"))
    await recording.send(echo("hi"), to=REPLICA_ID)
    await recording.close()

    lines = read_lines(path)
    header = lines[0]
    assert list(header) == ["direction", "at", "recording"]
    assert header["direction"] == "meta" and header["at"] == 0.0
    assert header["recording"]["version"] == 1
    assert header["recording"]["transport"] == "memory"
    assert before <= header["recording"]["started_at"] <= time.time()

    assert [line["direction"] for line in lines] == [
        "meta",
        "participant",
        "participant",
        "in",
        "in",
        "participant",
        "out",
        "out",
    ]
    joined, human, message, garbled, left, out_1, out_2 = lines[1:]
    assert list(joined) == PARTICIPANT_KEYS
    assert joined["change"] == "joined" and joined["reason"] is None
    assert joined["participant"] == {
        "id": REPLICA_ID,
        "user_id": "tavus-replica-r1",
        "user_name": "Anna",
        "local": False,
    }
    assert human["participant"]["user_name"] == "Dana"
    assert (left["change"], left["reason"], left["participant"]["id"]) == (
        "left",
        "leftCall",
        HUMAN_ID,
    )

    assert list(message) == IN_KEYS
    assert message["sender"] == REPLICA_ID
    assert message["message"] == call
    assert before <= message["received_at"] <= time.time()
    assert garbled["message"] == '{"event_type": "garbled'  # the raw string, as received
    assert garbled["sender"] == HUMAN_ID

    assert list(out_1) == OUT_KEYS
    assert out_1["to"] is None and out_1["message"] == tool_result("t1", "shipped")
    assert out_2["to"] == REPLICA_ID and out_2["message"] == echo("hi")

    ats = [line["at"] for line in lines]
    assert ats == sorted(ats)
    assert all(round(at, 3) == at for at in ats)  # milliseconds
    assert out_1["at"] >= 0.01  # seconds since open

    # Forwarded to the real receiver, in the same order, unchanged.
    assert [c[0] for c in receiver.calls] == [
        "participant",
        "participant",
        "message",
        "message",
        "participant",
    ]
    assert receiver.calls[0][2] == Participant(REPLICA_ID, "tavus-replica-r1", "Anna")
    assert receiver.calls[2][1:3] == (call, REPLICA_ID)
    assert receiver.calls[4][3] == "leftCall"
    assert inner.sent == [tool_result("t1", "shipped"), echo("hi")]


async def test_around_a_replay_transport(tmp_path: Path) -> None:
    source = tmp_path / "source.jsonl"
    call = tool_call("lookup", {"order_id": "A1"}, "t1", seq=1)
    source.write_text(
        "\n".join(
            json.dumps(line)
            for line in (
                {
                    "direction": "participant",
                    "at": 0.0,
                    "change": "joined",
                    "participant": REPLICA_DAILY,
                    "reason": None,
                },
                {"direction": "in", "at": 0.1, "sender": REPLICA_ID, "message": call},
                {"direction": "out", "at": 0.2, "to": None, "message": tool_result("t1", "x")},
            )
        )
        + "\n",
        encoding="utf-8",
    )
    inner = ReplayTransport(source)
    path = tmp_path / "again.jsonl"
    recording = RecordingTransport(inner, path)
    receiver = FakeReceiver()
    await recording.open()
    await recording.run(receiver)
    await recording.send(tool_result("t1", "y"))
    await recording.close()

    lines = read_lines(path)
    assert lines[0]["recording"]["transport"] == inner.describe()
    assert [line["direction"] for line in lines] == ["meta", "participant", "in", "out"]
    assert lines[1]["participant"]["user_id"] == "tavus-replica-r1"
    assert lines[2]["sender"] == REPLICA_ID and lines[2]["message"] == call
    assert lines[2]["received_at"] is None  # the replay passes "now"
    assert lines[3]["message"] == tool_result("t1", "y")
    # settled() is passed through: fast pace waits after each delivery.
    assert receiver.settles == 3
    assert "recording to" in recording.describe() and str(path) in recording.describe()
    assert inner.describe() in recording.describe()


class StopAfterFirst(FakeReceiver):
    """A receiver whose conversation ends with the first message."""

    def on_message(
        self, message: Any, sender: str | None = None, received_at: float | None = None
    ) -> None:
        super().on_message(message, sender, received_at)
        self.closed = True


async def test_closed_is_passed_through(tmp_path: Path) -> None:
    inner = MemoryTransport()
    recording = RecordingTransport(inner, tmp_path / "r.jsonl")
    receiver = StopAfterFirst()
    await recording.open()
    inner.push(echo("one"), REPLICA_ID)
    inner.push(echo("two"), REPLICA_ID)
    inner.end()
    await recording.run(receiver)
    await recording.close()
    assert len(receiver.calls) == 1
    # The inner transport saw ``closed`` through the proxy and delivered nothing more.
    assert [line["direction"] for line in read_lines(tmp_path / "r.jsonl")] == ["meta", "in"]


class FailingSend(MemoryTransport):
    async def send(self, message: Mapping[str, Any], to: str | None = None) -> None:
        raise TransportError("room unreachable")


async def test_a_failed_send_is_not_an_out_line(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    recording = RecordingTransport(FailingSend(), path)
    await recording.open()
    with pytest.raises(TransportError, match="room unreachable"):
        await recording.send(tool_result("t1", "x"), to=REPLICA_ID)
    await recording.close()
    _, failed = read_lines(path)
    assert failed["direction"] == "out_failed"
    assert failed["error"] == "room unreachable"
    assert (failed["to"], failed["message"]) == (REPLICA_ID, tool_result("t1", "x"))


async def test_unwritable_file_raises_before_inner_opens(tmp_path: Path) -> None:
    opened: list[bool] = []

    class Probe(MemoryTransport):
        async def open(self) -> None:
            opened.append(True)

    blocker = tmp_path / "file"
    blocker.write_text("")
    recording = RecordingTransport(Probe(), blocker / "r.jsonl")
    with pytest.raises(TransportError, match="cannot write the recording"):
        await recording.open()
    assert opened == []


async def test_inner_open_failure_closes_the_file(tmp_path: Path) -> None:
    class Unreachable(MemoryTransport):
        async def open(self) -> None:
            raise TransportError("cannot join")

    path = tmp_path / "r.jsonl"
    recording = RecordingTransport(Unreachable(), path)
    with pytest.raises(TransportError, match="cannot join"):
        await recording.open()
    assert recording._file is None
    assert [line["direction"] for line in read_lines(path)] == ["meta"]


async def test_run_before_open_raises(tmp_path: Path) -> None:
    recording = RecordingTransport(MemoryTransport(), tmp_path / "r.jsonl")
    with pytest.raises(TransportError, match="not opened"):
        await recording.run(FakeReceiver())


class BrokenFile:
    """A file whose writes fail after ``ok`` of them (a disk that fills up)."""

    def __init__(self, ok: int) -> None:
        self.ok = ok
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> int:
        if len(self.written) >= self.ok:
            raise OSError(28, "No space left on device")
        self.written.append(data)
        return len(data)

    def flush(self) -> None: ...

    def close(self) -> None:
        self.closed = True


async def test_a_failed_write_keeps_the_conversation_and_close_reports_it(
    tmp_path: Path,
) -> None:
    inner = MemoryTransport()
    recording = RecordingTransport(inner, tmp_path / "r.jsonl")
    receiver = FakeReceiver()
    await recording.open()
    real = recording._file
    assert real is not None
    real.close()
    broken = BrokenFile(ok=1)
    recording._file = broken  # type: ignore[assignment]
    inner.push(echo("one"), REPLICA_ID)  # written
    inner.push(echo("two"), REPLICA_ID)  # the disk is full
    inner.push(echo("three"), REPLICA_ID)  # no longer recorded
    inner.end()
    await recording.run(receiver)
    await recording.send(echo("answer"))  # still sent
    assert len(receiver.calls) == 3
    assert inner.sent == [echo("answer")]
    assert len(broken.written) == 1 and broken.closed

    with pytest.raises(TransportError, match="incomplete: No space left on device"):
        await recording.close()
    await recording.close()  # reported once; idempotent


async def test_each_line_is_flushed_as_written(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    recording = RecordingTransport(MemoryTransport(), path)
    await recording.open()
    await recording.send(echo("é ☕"))
    # Readable before close: a crash now loses nothing.
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n") and "é ☕" in text  # UTF-8, not \\u escapes
    assert [line["direction"] for line in read_lines(path)] == ["meta", "out"]
    await recording.close()


async def test_send_after_close_is_forwarded_not_recorded(tmp_path: Path) -> None:
    inner = MemoryTransport()
    path = tmp_path / "r.jsonl"
    recording = RecordingTransport(inner, path)
    await recording.open()
    await recording.close()
    await recording.send(echo("late"))
    assert inner.sent == [echo("late")]
    assert [line["direction"] for line in read_lines(path)] == ["meta"]


async def test_a_message_too_deep_to_write_is_noted_and_the_recording_carries_on(
    tmp_path: Path,
) -> None:
    deep: Any = "bottom"
    for _ in range(100_000):  # past the depth json and repr can recurse to
        deep = [deep]
    inner = MemoryTransport()
    path = tmp_path / "conv.jsonl"
    recording = RecordingTransport(inner, path)
    receiver = FakeReceiver()
    await recording.open()
    inner.push(deep, REPLICA_ID)
    inner.push(tool_call("lookup", {"order_id": "A1"}, "t1", seq=1), REPLICA_ID)
    inner.end()
    await recording.run(receiver)
    await recording.close()

    inbound = [line for line in read_lines(path) if line["direction"] == "in"]
    assert inbound[0]["message"] == "<not recorded: nested too deeply to write>"
    assert inbound[1]["message"]["properties"]["tool_call_id"] == "t1"
