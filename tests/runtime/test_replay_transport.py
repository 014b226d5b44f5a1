"""Replaying a JSONL recording through the same session code as a live room."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from runtime_helpers import Recorder, event, spec_of, tool_call, tool_result

from cvibot import ToolError, tool
from cvibot._dispatch import DispatchPolicy
from cvibot._protocol.events import Event
from cvibot._session import Session
from cvibot.tools import ToolRegistry
from cvibot.transports._base import TransportError
from cvibot.transports._replay import ReplayTransport, read_recording


@tool(timeout=2)
async def lookup(order_id: int) -> dict[str, Any]:
    """Look an order up."""
    # Later calls finish sooner: under fast pace the answers still come in file order.
    await asyncio.sleep(0.002 * (5 - order_id % 5))
    if order_id == 13:
        raise ToolError("order 13 does not exist")
    return {"order": order_id, "status": "shipped", "note": "café ☕"}


@tool(reply="echo")
def greet(name: str) -> str:
    """Greet someone."""
    return f"Hello {name}!"


def write_lines(path: Path, *lines: Any) -> Path:
    """Write each item as a line: str as is, anything else as JSON."""
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines),
        encoding="utf-8",
    )
    return path


async def replay(
    path: Path,
    *,
    out: Path | None = None,
    pace: Any = "fast",
    speed: float = 1.0,
    observers: tuple[Callable[..., Any], ...] = (),
    executor: ThreadPoolExecutor,
) -> tuple[Session, Recorder]:
    transport = ReplayTransport(path, pace=pace, speed=speed, out=out)
    rec = Recorder()
    session = Session(
        transport=transport,
        tools=ToolRegistry.build([spec_of(lookup), spec_of(greet)]),
        policy=DispatchPolicy(),
        executor=executor,
        conversation_id="c1",
        listeners=(rec,),
        event_observers=observers,
    )
    await transport.open()
    try:
        await asyncio.wait_for(transport.run(session), 5)
        await session.settled()
    finally:
        await transport.close()
    return session, rec


def mixed_recording(path: Path) -> Path:
    call_1 = tool_call("lookup", {"order_id": 1}, tcid="t1", seq=1)
    call_2 = tool_call("greet", {"name": "Zoë"}, tcid="t2", seq=2)
    return write_lines(
        path,
        call_1,  # a plain app-message
        {  # makes replica-1 the replica, so its messages are trusted; not a message
            "direction": "participant",
            "at": 0.0,
            "change": "joined",
            "participant": {"id": "replica-1", "user_id": "tavus-replica-1"},
            "reason": None,
        },
        "   ",
        {"direction": "in", "at": 0.01, "sender": "replica-1", "message": call_2},
        {  # what a bot sent: never replayed, even though it looks like a call
            "direction": "out",
            "at": 0.02,
            "message": tool_call("lookup", {"order_id": 2}, tcid="t-out", seq=3),
        },
        '{"event_type": "conversation.tool_call", "properties": ',  # garbled
        json.dumps(json.dumps(tool_call("lookup", {"order_id": 13}, tcid="t3", seq=4))),
        {"direction": "in", "message": tool_call("lookup", {"order_id": 4}, tcid="t4", seq=5)},
    )


async def test_replay_mixed_recording(tmp_path: Path, executor: ThreadPoolExecutor) -> None:
    recording = mixed_recording(tmp_path / "conv.jsonl")
    out = tmp_path / "out" / "sent.jsonl"
    session, rec = await replay(recording, out=out, executor=executor)

    answered = [o.tool_call_id for o in rec.outcomes]
    assert answered == ["t1", "t2", "t3", "t4"]  # fast pace: one message at a time
    assert session.stats.rejections == Counter(not_json=1)
    assert session.stats.events == Counter({"conversation.tool_call": 4})

    expected = [
        tool_result("t1", '{"order":1,"status":"shipped","note":"café ☕"}'),
        {
            "message_type": "conversation",
            "event_type": "conversation.echo",
            "conversation_id": "c1",
            "properties": {"modality": "text", "text": "Hello Zoë!", "done": True},
        },
        tool_result("t3", "order 13 does not exist", "error"),
        tool_result("t4", '{"order":4,"status":"shipped","note":"café ☕"}'),
    ]
    assert rec.sent == expected
    text = out.read_text(encoding="utf-8")
    assert text == "".join(
        json.dumps(m, separators=(",", ":"), ensure_ascii=False) + "\n" for m in expected
    )
    assert "\\u" not in text  # UTF-8 kept, not escaped
    assert [json.loads(line) for line in text.splitlines()] == expected


def test_read_recording_yields_inbound_messages(tmp_path: Path) -> None:
    recording = mixed_recording(tmp_path / "conv.jsonl")
    items = list(read_recording(recording))
    assert [item.line for item in items] == [1, 4, 6, 7, 8]
    assert [item.sender for item in items] == [None, "replica-1", None, None, None]
    assert [item.at for item in items] == [None, 0.01, None, None, None]
    assert isinstance(items[2].message, str)  # the garbled line, as raw text
    assert isinstance(items[3].message, str)  # a JSON string holding a message


async def test_fast_replay_is_deterministic(tmp_path: Path, executor: ThreadPoolExecutor) -> None:
    lines: list[Any] = []
    for i in range(12):
        lines.append(tool_call("lookup", {"order_id": i}, tcid=f"t{i}", seq=i + 1))
        if i % 4 == 0:
            lines.append(tool_call("lookup", {"order_id": i}, tcid=f"t{i}", seq=100 + i))
    lines.append("not json")
    recording = write_lines(tmp_path / "conv.jsonl", *lines)

    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    await replay(recording, out=first, executor=executor)
    await replay(recording, out=second, executor=executor)
    assert first.read_bytes() == second.read_bytes()
    sent = [json.loads(line) for line in first.read_text(encoding="utf-8").splitlines()]
    assert [m["properties"]["tool_call_id"] for m in sent] == [f"t{i}" for i in range(12)]


async def test_recorded_pace_honours_arrival_times(
    tmp_path: Path, executor: ThreadPoolExecutor
) -> None:
    arrivals: list[tuple[str, float]] = []

    def observer(*, event: Event, session: Session) -> None:
        arrivals.append((event.event_type, time.perf_counter()))

    recording = write_lines(
        tmp_path / "conv.jsonl",
        {
            "direction": "in",
            "at": 0.0,
            "message": event("conversation.utterance", role="user", speech="hi", seq=1),
        },
        {"direction": "in", "at": 0.2, "message": event("system.replica_joined", seq=2)},
    )
    started = time.perf_counter()
    await replay(recording, pace="recorded", speed=2, observers=(observer,), executor=executor)
    elapsed = time.perf_counter() - started
    assert [kind for kind, _ in arrivals] == ["conversation.utterance", "system.replica_joined"]
    gap = arrivals[1][1] - arrivals[0][1]
    assert gap >= 0.095  # 0.2 s recorded, at double speed
    assert gap < 0.19  # and not at the recorded speed
    assert elapsed < 1


async def test_recorded_pace_from_event_timestamps(
    tmp_path: Path, executor: ThreadPoolExecutor
) -> None:
    arrivals: list[float] = []

    def observer(*, event: Event, session: Session) -> None:
        arrivals.append(time.perf_counter())

    first = event("conversation.utterance", role="user", speech="a", seq=1)
    first["timestamp"] = 1_760_000_000.0
    second = event("conversation.utterance", role="user", speech="b", seq=2)
    second["timestamp"] = 1_760_000_000.15
    recording = write_lines(tmp_path / "conv.jsonl", first, second)
    await replay(recording, pace="recorded", speed=1.5, observers=(observer,), executor=executor)
    assert len(arrivals) == 2
    assert arrivals[1] - arrivals[0] >= 0.095


async def test_fast_pace_ignores_arrival_times(
    tmp_path: Path, executor: ThreadPoolExecutor
) -> None:
    recording = write_lines(
        tmp_path / "conv.jsonl",
        {"direction": "in", "at": 0.0, "message": event("system.replica_joined", seq=1)},
        {"direction": "in", "at": 30.0, "message": event("system.shutdown", seq=2)},
    )
    started = time.perf_counter()
    session, _ = await replay(recording, executor=executor)
    assert time.perf_counter() - started < 1
    assert session.ended.is_set()


async def test_replay_stops_at_shutdown(tmp_path: Path, executor: ThreadPoolExecutor) -> None:
    recording = write_lines(
        tmp_path / "conv.jsonl",
        tool_call("lookup", {"order_id": 1}, tcid="t1", seq=1),
        event("system.shutdown", seq=2, shutdown_reason="end_call"),
        tool_call("lookup", {"order_id": 2}, tcid="t2", seq=3),
    )
    out = tmp_path / "out.jsonl"
    session, rec = await replay(recording, out=out, executor=executor)
    assert session.shutdown_reason == "end_call"
    assert [o.tool_call_id for o in rec.outcomes] == ["t1"]
    assert len(out.read_text(encoding="utf-8").splitlines()) == 1


async def test_missing_recording_raises_from_open(tmp_path: Path) -> None:
    transport = ReplayTransport(tmp_path / "nope.jsonl")
    with pytest.raises(TransportError, match="recording not found"):
        await transport.open()


async def test_unwritable_out_raises_from_open(tmp_path: Path) -> None:
    recording = write_lines(tmp_path / "conv.jsonl", event("system.replica_joined"))
    blocker = tmp_path / "file"
    blocker.write_text("")
    transport = ReplayTransport(recording, out=blocker / "sent.jsonl")
    with pytest.raises(TransportError, match="cannot write"):
        await transport.open()


def test_speed_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="speed"):
        ReplayTransport(tmp_path / "x.jsonl", speed=0)


async def test_replay_without_out_file(tmp_path: Path, executor: ThreadPoolExecutor) -> None:
    recording = write_lines(
        tmp_path / "conv.jsonl", tool_call("lookup", {"order_id": 1}, tcid="t1", seq=1)
    )
    _, rec = await replay(recording, executor=executor)
    assert [m["properties"]["tool_call_id"] for m in rec.sent] == ["t1"]
    names = await asyncio.to_thread(lambda: sorted(p.name for p in tmp_path.iterdir()))
    assert names == ["conv.jsonl"]


async def test_send_after_close_raises_and_writes_nothing(tmp_path: Path) -> None:
    recording = tmp_path / "in.jsonl"
    recording.write_text("")
    out = tmp_path / "out.jsonl"
    transport = ReplayTransport(recording, out=out)
    await transport.open()
    await transport.send({"event_type": "conversation.echo"})
    await transport.close()

    with pytest.raises(TransportError, match="closed"):
        await transport.send({"event_type": "conversation.interrupt"})

    assert out.read_text().splitlines() == ['{"event_type":"conversation.echo"}']
