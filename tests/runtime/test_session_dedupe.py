"""Duplicate checks: tool calls by id alone, and a window bounded by time and count."""

from __future__ import annotations

import asyncio
import functools
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runtime_helpers import MakeHarness, Recorder, echo, spec_of, tool_call, tool_result

from cvibot import tool
from cvibot._dedupe import RecentKeys
from cvibot._dispatch import DispatchPolicy
from cvibot._session import Session
from cvibot.tools import ToolRegistry
from cvibot.transports._memory import MemoryTransport

runs = Counter[str]()


@pytest.fixture(autouse=True)
def reset_runs() -> None:
    runs.clear()


@tool
async def note(text: str) -> str:
    """Note something."""
    runs[text] += 1
    return f"noted {text}"


class Clock:
    """A monotonic clock the test moves by hand (seconds)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- RecentKeys ---------------------------------------------------------------------------------


def test_keys_expire_by_time() -> None:
    clock = Clock()
    keys = RecentKeys(10, 600.0, clock=clock)
    assert keys.add("a")
    clock.now += 599.0
    assert not keys.add("a")  # still within the window (and not renewed by the retry)
    assert keys.add("b")
    clock.now += 1.0
    assert keys.add("a")  # 600 s after it was added: forgotten
    assert not keys.add("b")
    assert len(keys) == 2


def test_keys_are_bounded_by_count() -> None:
    keys = RecentKeys(3, clock=Clock())
    assert all(keys.add(k) for k in "abcd")
    assert len(keys) == 3
    assert keys.add("a")  # pushed out by "d": the oldest go first
    assert not keys.add("d")


def test_a_flood_of_unique_keys_stays_bounded() -> None:
    keys = RecentKeys(1000, 600.0, clock=Clock())
    for i in range(50_000):
        assert keys.add(("id", f"call-{i}"))
        assert len(keys) <= 1000
    assert len(keys._order) == 1000  # the expiry queue is bounded too


def test_expired_keys_are_purged_as_time_goes_on() -> None:
    clock = Clock()
    keys = RecentKeys(100, 10.0, clock=clock)
    for i in range(50):
        keys.add(i)
    clock.now += 10.0
    keys.add("later")
    assert len(keys) == 1


def test_invalid_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="capacity"):
        RecentKeys(0)
    with pytest.raises(ValueError, match="max_age"):
        RecentKeys(10, 0.0)


@settings(max_examples=200, deadline=None)
@given(
    ops=st.lists(st.tuples(st.integers(0, 6), st.sampled_from([0.0, 0.5, 1.0, 3.0])), max_size=80),
    capacity=st.integers(1, 5),
)
def test_recent_keys_match_a_reference_model(ops: list[tuple[int, float]], capacity: int) -> None:
    # Reference: a key is present if it was added (not refused) less than max_age ago and
    # is among the last `capacity` keys added.
    clock = Clock()
    keys = RecentKeys(capacity, 2.0, clock=clock)
    added: list[tuple[float, int]] = []
    for key, step in ops:
        clock.now += step
        live = [(at, k) for at, k in added if at + 2.0 > clock.now][-capacity:]
        expected = all(k != key for _, k in live)
        assert keys.add(key) is expected
        added = [*live, (clock.now, key)] if expected else live
        assert len(keys) <= capacity


# -- the session --------------------------------------------------------------------------------


async def test_a_new_call_reusing_a_seen_seq_is_answered(make_harness: MakeHarness) -> None:
    # A tool call with a tool_call_id is deduplicated by that id alone: before, the second
    # call was dropped as a duplicate seq and never answered.
    h = make_harness(note)
    sent = await h.run(
        tool_call("note", {"text": "a"}, tcid="t1", seq=5),
        tool_call("note", {"text": "b"}, tcid="t2", seq=5),
    )
    assert sent == [tool_result("t1", "noted a"), tool_result("t2", "noted b")]
    assert h.rec.drops == []
    # The same id again, with yet another seq: still one answer.
    await h.run(tool_call("note", {"text": "b"}, tcid="t2", seq=9))
    assert h.answers_per_call() == Counter(t1=1, t2=1)
    assert h.rec.drop_reasons() == ["duplicate"]


async def test_seq_still_dedupes_calls_without_an_id_and_other_events(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(note)
    await h.run(
        tool_call("note", {"text": "a"}, tcid="t1", seq=3),
        tool_call("note", {"text": "x"}, seq=4),
        tool_call("note", {"text": "y"}, seq=4),  # same seq, no id: a duplicate
    )
    assert h.sent == [tool_result("t1", "noted a"), echo("noted x")]
    assert runs == Counter(a=1, x=1)
    assert h.rec.drop_reasons() == ["duplicate"]


async def test_the_session_window_forgets_after_ten_minutes(
    executor: ThreadPoolExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    monkeypatch.setattr("cvibot._session.RecentKeys", functools.partial(RecentKeys, clock=clock))
    transport = MemoryTransport()
    session = Session(
        transport=transport,
        tools=ToolRegistry.build([spec_of(note)]),
        policy=DispatchPolicy(),
        executor=executor,
        conversation_id="c1",
    )
    call = tool_call("note", {"text": "a"}, tcid="t1", seq=1)
    with structlog.testing.capture_logs():
        session.on_message(call)
        await asyncio.wait_for(session.settled(), 5)
        clock.now += 599.0
        session.on_message(call)  # a redelivery within the window
        await asyncio.wait_for(session.settled(), 5)
        assert len(transport.sent) == 1
        clock.now += 1.0
        session.on_message(call)  # ten minutes on: no longer remembered
        await asyncio.wait_for(session.settled(), 5)
    assert len(transport.sent) == 2
    assert session.stats.drops == Counter(duplicate=1)


async def _calls_with_ids(calls: list[tuple[int, int | None]]) -> None:
    transport = MemoryTransport()
    rec = Recorder()
    with ThreadPoolExecutor(max_workers=2) as pool:
        session = Session(
            transport=transport,
            tools=ToolRegistry.build([spec_of(note)]),
            policy=DispatchPolicy(),
            executor=pool,
            conversation_id="c1",
            listeners=(rec,),
        )
        for tcid, seq in calls:
            session.on_message(tool_call("note", {"text": f"t{tcid}"}, tcid=f"t{tcid}", seq=seq))
        await asyncio.wait_for(session.settled(), 5)
    ids = {f"t{tcid}" for tcid, _ in calls}
    per_call = Counter(m["properties"]["tool_call_id"] for m in transport.sent)
    assert per_call == Counter(dict.fromkeys(ids, 1))
    assert runs == Counter(dict.fromkeys(ids, 1))  # no handler ran twice for one id


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    calls=st.lists(
        st.tuples(st.integers(0, 8), st.one_of(st.none(), st.integers(0, 4))),
        min_size=1,
        max_size=20,
    )
)
def test_every_id_is_answered_once_whatever_the_seqs(calls: list[tuple[int, int | None]]) -> None:
    runs.clear()
    with structlog.testing.capture_logs():
        asyncio.run(_calls_with_ids(calls))
