"""Every call ends with exactly one outcome and at most one answer, whatever happens to it."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runtime_helpers import (
    Harness,
    MakeHarness,
    Recorder,
    echo,
    event,
    spec_of,
    stopped_speaking,
    tool_call,
    tool_result,
)

from cvibot import ToolContext, ToolError, tool
from cvibot._dispatch import DispatchPolicy, ErrorKind, OutcomeKind
from cvibot._session import Session
from cvibot.tools import ToolRegistry
from cvibot.transports._memory import MemoryTransport

INTERRUPTED = "cancelled: the replica was interrupted"
STOPPING = "cancelled: the bot is stopping"


def assert_one_answer_each(h: Harness, *tcids: str) -> None:
    """Exactly one outbound message and one outcome for each id, and nothing else."""
    assert h.answers_per_call() == Counter(dict.fromkeys(tcids, 1))
    assert len(h.sent) == len(tcids)
    assert h.outcomes_per_call() == Counter(dict.fromkeys(tcids, 1))


# -- the terminal outcomes ---------------------------------------------------------------------


async def test_success(make_harness: MakeHarness) -> None:
    @tool
    async def ok() -> str:
        return "done"

    h = make_harness(ok)
    assert await h.run(tool_call("ok", tcid="t1")) == [tool_result("t1", "done")]
    assert_one_answer_each(h, "t1")
    outcome = h.rec.outcome("t1")
    assert (outcome.kind, outcome.error) == (OutcomeKind.SUCCESS, None)
    assert 0 <= outcome.latency < 1
    assert h.session.stats.outcomes == Counter(success=1)
    assert h.session.stats.sent == Counter({"conversation.tool_result": 1})


@pytest.mark.parametrize("is_async", [True, False], ids=["async", "sync"])
async def test_tool_error_message_is_sent_verbatim(
    make_harness: MakeHarness, is_async: bool
) -> None:
    message = 'Order #7 was not found; ask for the number on the receipt "A-…".'

    if is_async:

        @tool
        async def find() -> str:
            raise ToolError(message)
    else:

        @tool
        def find() -> str:
            raise ToolError(message)

    h = make_harness(find)
    assert await h.run(tool_call("find", tcid="t1")) == [tool_result("t1", message, "error")]
    assert_one_answer_each(h, "t1")
    outcome = h.rec.outcome("t1")
    assert (outcome.kind, outcome.error, outcome.text) == (
        OutcomeKind.ERROR,
        ErrorKind.TOOL_ERROR,
        message,
    )


@pytest.mark.parametrize("is_async", [True, False], ids=["async", "sync"])
async def test_other_exception_is_hidden_and_logged(
    make_harness: MakeHarness, logs: list[dict[str, Any]], is_async: bool
) -> None:
    secret = "password=hunter2 at db.internal:5432"

    if is_async:

        @tool
        async def leaky() -> str:
            raise RuntimeError(secret)
    else:

        @tool
        def leaky() -> str:
            raise RuntimeError(secret)

    h = make_harness(leaky)
    sent = await h.run(tool_call("leaky", tcid="t1", seq=3))
    assert sent == [tool_result("t1", "leaky failed with an internal error", "error")]
    assert "hunter2" not in json.dumps(sent)
    assert_one_answer_each(h, "t1")
    outcome = h.rec.outcome("t1")
    assert (outcome.kind, outcome.error) == (OutcomeKind.ERROR, ErrorKind.EXCEPTION)
    assert "hunter2" not in (outcome.text or "")
    [entry] = [e for e in logs if e["event"] == "tool handler raised"]
    assert entry["log_level"] == "error"
    assert entry["exc_info"] is True
    assert (entry["tool"], entry["tool_call_id"], entry["seq"]) == ("leaky", "t1", 3)


async def test_handler_timeout_error_is_an_ordinary_failure(make_harness: MakeHarness) -> None:
    @tool(timeout=5)
    async def upstream() -> str:
        raise TimeoutError("upstream took too long")

    h = make_harness(upstream)
    assert await h.run(tool_call("upstream", tcid="t1")) == [
        tool_result("t1", "upstream failed with an internal error", "error")
    ]
    outcome = h.rec.outcome("t1")
    assert (outcome.kind, outcome.error) == (OutcomeKind.ERROR, ErrorKind.EXCEPTION)


async def test_async_timeout(make_harness: MakeHarness) -> None:
    @tool(timeout=0.05)
    async def slow() -> str:
        await asyncio.sleep(5)
        return "too late"

    h = make_harness(slow)
    started = time.perf_counter()
    sent = await h.run(tool_call("slow", tcid="t1"))
    assert time.perf_counter() - started < 1
    assert sent == [tool_result("t1", "slow timed out after 0.05 s", "error")]
    assert_one_answer_each(h, "t1")
    outcome = h.rec.outcome("t1")
    assert outcome.kind is OutcomeKind.TIMEOUT
    assert 0.04 <= outcome.latency < 1


async def test_policy_default_timeout(make_harness: MakeHarness) -> None:
    @tool
    async def slow() -> str:
        await asyncio.sleep(5)
        return "too late"

    h = make_harness(slow, default_timeout=0.05)
    assert await h.run(tool_call("slow", tcid="t1")) == [
        tool_result("t1", "slow timed out after 0.05 s", "error")
    ]


async def test_sync_timeout_answers_on_time_while_thread_runs(make_harness: MakeHarness) -> None:
    release = threading.Event()
    finished = threading.Event()
    seen_cancelled: list[bool] = []

    @tool(timeout=0.05)
    def stuck(ctx: ToolContext) -> str:
        release.wait(2)
        seen_cancelled.append(ctx.cancelled)
        finished.set()
        return "too late"

    h = make_harness(stuck)
    started = time.perf_counter()
    sent = await h.run(tool_call("stuck", tcid="t1"))
    assert time.perf_counter() - started < 0.5
    assert sent == [tool_result("t1", "stuck timed out after 0.05 s", "error")]
    assert not finished.is_set()  # the thread is still running, the call is answered
    assert h.rec.outcome("t1").kind is OutcomeKind.TIMEOUT
    release.set()
    assert await asyncio.to_thread(finished.wait, 2)
    assert seen_cancelled == [True]
    await asyncio.sleep(0.02)
    assert_one_answer_each(h, "t1")  # the late return value is not sent


async def test_sync_handler_sees_cancelled_after_timeout(make_harness: MakeHarness) -> None:
    polls: list[int] = []

    @tool(timeout=0.05)
    def cooperative(ctx: ToolContext) -> str:
        count = 0
        while not ctx.cancelled and count < 200:
            time.sleep(0.005)
            count += 1
        polls.append(count)
        return "stopped"

    h = make_harness(cooperative)
    await h.run(tool_call("cooperative", tcid="t1"))
    await asyncio.sleep(0.05)
    assert len(polls) == 1 and polls[0] < 100  # returned early, well before 1 s


# -- interruption ------------------------------------------------------------------------------

runs = Counter[str]()


@pytest.fixture(autouse=True)
def reset_runs() -> None:
    runs.clear()


@tool(cancel_on_interrupt=True, timeout=5)
async def long_lookup() -> str:
    runs["long_lookup"] += 1
    await asyncio.sleep(5)
    return "finished"


@tool(cancel_on_interrupt=False, timeout=5)
async def keep_going() -> str:
    runs["keep_going"] += 1
    await asyncio.sleep(0.1)
    return "kept going"


@tool(timeout=5)
async def undecided() -> str:
    runs["undecided"] += 1
    await asyncio.sleep(0.1)
    return "undecided finished"


INTERRUPTIONS = {
    "stopped_speaking-replica": stopped_speaking("replica", seq=10),
    "stopped_speaking-pal": stopped_speaking("pal", seq=10),
    "stopped_speaking-string-flag": event(
        "conversation.stopped_speaking", seq=10, role="pal", interrupted="true"
    ),
    "replica.stopped_speaking": event(
        "conversation.replica.stopped_speaking", seq=10, interrupted=True
    ),
    "replica_interrupted": event("conversation.replica_interrupted", seq=10),
    "replica.interrupted": event("conversation.replica.interrupted", seq=10),
    "replica_interrupted-no-seq": event("conversation.replica_interrupted"),
}


@pytest.mark.parametrize("interruption", INTERRUPTIONS.values(), ids=INTERRUPTIONS.keys())
async def test_interruption_cancels_running_call(
    make_harness: MakeHarness, interruption: dict[str, Any]
) -> None:
    h = make_harness(long_lookup)
    h.feed(tool_call("long_lookup", tcid="t1", seq=1))
    await asyncio.sleep(0.02)
    assert runs["long_lookup"] == 1
    started = time.perf_counter()
    sent = await h.run(interruption)
    assert time.perf_counter() - started < 0.5
    assert sent == [tool_result("t1", INTERRUPTED, "error")]
    assert_one_answer_each(h, "t1")
    outcome = h.rec.outcome("t1")
    assert (outcome.kind, outcome.error) == (OutcomeKind.CANCELLED, ErrorKind.INTERRUPTED)


NOT_INTERRUPTIONS = {
    "not-interrupted": stopped_speaking("replica", interrupted=False, seq=10),
    "user-stopped": stopped_speaking("user", seq=10),
    "replica.stopped_speaking-plain": event("conversation.replica.stopped_speaking", seq=10),
}


@pytest.mark.parametrize(
    "not_interruption", NOT_INTERRUPTIONS.values(), ids=NOT_INTERRUPTIONS.keys()
)
async def test_other_stops_do_not_cancel(
    make_harness: MakeHarness, not_interruption: dict[str, Any]
) -> None:
    h = make_harness(keep_going, spec_of(long_lookup).with_options(timeout=0.15))
    h.feed(tool_call("keep_going", tcid="t1", seq=1), tool_call("long_lookup", tcid="t2", seq=2))
    await asyncio.sleep(0.02)
    await h.run(not_interruption)
    assert h.rec.outcome("t1").kind is OutcomeKind.SUCCESS
    assert h.rec.outcome("t2").kind is OutcomeKind.TIMEOUT
    assert_one_answer_each(h, "t1", "t2")


async def test_cancel_on_interrupt_false_is_not_cancelled(make_harness: MakeHarness) -> None:
    h = make_harness(keep_going, long_lookup, cancel_on_interrupt=True)
    h.feed(tool_call("keep_going", tcid="t1", seq=1), tool_call("long_lookup", tcid="t2", seq=2))
    await asyncio.sleep(0.02)
    await h.run(stopped_speaking("pal", seq=3))
    assert h.sent == [tool_result("t2", INTERRUPTED, "error"), tool_result("t1", "kept going")]
    assert_one_answer_each(h, "t1", "t2")


@pytest.mark.parametrize(("policy", "cancelled"), [(True, True), (False, False)])
async def test_policy_decides_for_tools_that_set_nothing(
    make_harness: MakeHarness, policy: bool, cancelled: bool
) -> None:
    h = make_harness(undecided, cancel_on_interrupt=policy)
    h.feed(tool_call("undecided", tcid="t1", seq=1))
    await asyncio.sleep(0.02)
    await h.run(event("conversation.replica_interrupted", seq=2))
    expected = (
        tool_result("t1", INTERRUPTED, "error")
        if cancelled
        else tool_result("t1", "undecided finished")
    )
    assert h.sent == [expected]


async def test_call_emitted_after_the_interruption_is_not_cancelled(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(spec_of(long_lookup).with_options(timeout=0.15))
    h.feed(tool_call("long_lookup", tcid="t5", seq=5))
    await asyncio.sleep(0.02)
    await h.run(stopped_speaking("replica", seq=3))  # late interruption, emitted earlier
    assert h.sent == [tool_result("t5", "long_lookup timed out after 0.15 s", "error")]
    assert h.rec.outcome("t5").kind is OutcomeKind.TIMEOUT
    assert h.session.stats.late == 1


async def test_late_call_before_the_interruption_is_cancelled_on_arrival(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(long_lookup)
    await h.run(stopped_speaking("replica", seq=3))
    sent = await h.run(tool_call("long_lookup", tcid="t1", seq=1))
    assert sent == [tool_result("t1", INTERRUPTED, "error")]
    assert runs["long_lookup"] == 0
    outcome = h.rec.outcome("t1")
    assert (outcome.kind, outcome.error) == (OutcomeKind.CANCELLED, ErrorKind.INTERRUPTED)
    assert h.rec.events[-1][1] is True  # flagged late


async def test_interruption_in_the_same_burst_as_the_call(make_harness: MakeHarness) -> None:
    """The call's task has not started when the interruption arrives: still one answer."""
    h = make_harness(long_lookup)
    started = time.perf_counter()
    sent = await h.run(tool_call("long_lookup", tcid="t1", seq=1), stopped_speaking("pal", seq=2))
    assert time.perf_counter() - started < 0.5
    assert sent == [tool_result("t1", INTERRUPTED, "error")]
    assert_one_answer_each(h, "t1")
    assert h.rec.outcome("t1").error is ErrorKind.INTERRUPTED
    assert runs["long_lookup"] == 0


async def test_cancelled_spoken_call_sends_nothing(make_harness: MakeHarness) -> None:
    h = make_harness(spec_of(long_lookup).with_options(reply="echo"))
    h.feed(tool_call("long_lookup", tcid="t1", seq=1))
    await asyncio.sleep(0.02)
    assert await h.run(stopped_speaking("pal", seq=2)) == []
    outcome = h.rec.outcome("t1")
    assert (outcome.kind, outcome.answer) == (OutcomeKind.CANCELLED, None)


async def test_interrupted_sync_handler(make_harness: MakeHarness) -> None:
    flags: list[bool] = []

    @tool(cancel_on_interrupt=True, timeout=5)
    def crunch(ctx: ToolContext) -> str:
        for _ in range(400):
            if ctx.cancelled:
                break
            time.sleep(0.005)
        flags.append(ctx.cancelled)
        return "crunched"

    h = make_harness(crunch)
    h.feed(tool_call("crunch", tcid="t1", seq=1))
    await asyncio.sleep(0.03)
    started = time.perf_counter()
    sent = await h.run(stopped_speaking("replica", seq=2))
    assert time.perf_counter() - started < 0.3
    assert sent == [tool_result("t1", INTERRUPTED, "error")]
    await asyncio.sleep(0.05)
    assert flags == [True]
    assert_one_answer_each(h, "t1")


async def test_interruption_without_calls_is_harmless(make_harness: MakeHarness) -> None:
    h = make_harness(long_lookup)
    assert await h.run(stopped_speaking("replica", seq=1)) == []
    assert h.rec.outcomes == []


# -- drain -----------------------------------------------------------------------------------


async def test_drain_cancels_running_calls_with_shutdown(make_harness: MakeHarness) -> None:
    @tool(timeout=5)
    async def quick() -> str:
        await asyncio.sleep(0.01)
        return "quick"

    h = make_harness(keep_going, quick, spec_of(long_lookup).with_options(reply="tool_result"))
    h.feed(
        tool_call("long_lookup", tcid="t1", seq=1),
        tool_call("quick", tcid="t2", seq=2),
    )
    await asyncio.sleep(0)
    started = time.perf_counter()
    await asyncio.wait_for(h.session.drain(0.1), 2)
    assert time.perf_counter() - started < 0.5
    assert h.sent == [tool_result("t2", "quick"), tool_result("t1", STOPPING, "error")]
    outcome = h.rec.outcome("t1")
    assert (outcome.kind, outcome.error) == (OutcomeKind.CANCELLED, ErrorKind.SHUTDOWN)
    assert h.rec.outcome("t2").kind is OutcomeKind.SUCCESS

    # A call arriving after the drain is answered as cancelled without running.
    sent = await h.run(tool_call("keep_going", tcid="t3", seq=3))
    assert sent[-1] == tool_result("t3", STOPPING, "error")
    assert runs["keep_going"] == 0
    assert_one_answer_each(h, "t1", "t2", "t3")


async def test_drain_lets_calls_finish_within_grace(make_harness: MakeHarness) -> None:
    h = make_harness(keep_going)
    h.feed(tool_call("keep_going", tcid="t1"))
    await h.session.drain(1.0)
    assert h.sent == [tool_result("t1", "kept going")]


async def test_drain_of_a_sync_handler(make_harness: MakeHarness) -> None:
    @tool(timeout=5)
    def grind(ctx: ToolContext) -> str:
        while not ctx.cancelled:
            time.sleep(0.005)
        return "ground"

    h = make_harness(grind)
    h.feed(tool_call("grind", tcid="t1"))
    await asyncio.sleep(0.02)
    await asyncio.wait_for(h.session.drain(0.02), 2)
    assert h.sent == [tool_result("t1", STOPPING, "error")]
    assert h.rec.outcome("t1").error is ErrorKind.SHUTDOWN


# -- stress: N concurrent calls with random fates ----------------------------------------------

KINDS = (
    "success",
    "tool_error",
    "exception",
    "timeout",
    "cancel",
    "sync_success",
    "sync_timeout",
    "sync_cancel",
)


@tool(timeout=5)
async def s_success(i: int) -> str:
    await asyncio.sleep(0.001 * (i % 3))
    return f"ok {i}"


@tool(timeout=5)
async def s_tool_error(i: int) -> str:
    await asyncio.sleep(0)
    raise ToolError(f"no {i}")


@tool(timeout=5)
async def s_exception(i: int) -> str:
    raise ValueError(f"secret {i}")


@tool(timeout=0.03)
async def s_timeout(i: int) -> str:
    await asyncio.sleep(5)
    return "late"


@tool(timeout=5, cancel_on_interrupt=True)
async def s_cancel(i: int) -> str:
    await asyncio.sleep(5)
    return "late"


@tool(timeout=5)
def s_sync_success(i: int) -> str:
    time.sleep(0.002)
    return f"ok {i}"


@tool(timeout=0.03)
def s_sync_timeout(i: int, ctx: ToolContext) -> str:
    while not ctx.cancelled:
        time.sleep(0.002)
    return "late"


@tool(timeout=5, cancel_on_interrupt=True)
def s_sync_cancel(i: int, ctx: ToolContext) -> str:
    while not ctx.cancelled:
        time.sleep(0.002)
    return "late"


STRESS_TOOLS = [
    s_success,
    s_tool_error,
    s_exception,
    s_timeout,
    s_cancel,
    s_sync_success,
    s_sync_timeout,
    s_sync_cancel,
]

EXPECTED: dict[str, tuple[OutcomeKind, str, Any]] = {
    "success": (OutcomeKind.SUCCESS, "success", lambda i: f"ok {i}"),
    "tool_error": (OutcomeKind.ERROR, "error", lambda i: f"no {i}"),
    "exception": (
        OutcomeKind.ERROR,
        "error",
        lambda i: "s_exception failed with an internal error",
    ),
    "timeout": (OutcomeKind.TIMEOUT, "error", lambda i: "s_timeout timed out after 0.03 s"),
    "cancel": (OutcomeKind.CANCELLED, "error", lambda i: INTERRUPTED),
    "sync_success": (OutcomeKind.SUCCESS, "success", lambda i: f"ok {i}"),
    "sync_timeout": (
        OutcomeKind.TIMEOUT,
        "error",
        lambda i: "s_sync_timeout timed out after 0.03 s",
    ),
    "sync_cancel": (OutcomeKind.CANCELLED, "error", lambda i: INTERRUPTED),
}


async def _stress(kinds: list[str], burst: bool, duplicates: bool, limit: int) -> None:
    transport = MemoryTransport()
    rec = Recorder()
    with ThreadPoolExecutor(max_workers=4) as pool:
        session = Session(
            transport=transport,
            tools=ToolRegistry.build(spec_of(fn) for fn in STRESS_TOOLS),
            policy=DispatchPolicy(max_concurrent_calls=limit),
            executor=pool,
            conversation_id="c1",
            listeners=(rec,),
        )
        for i, kind in enumerate(kinds):
            message = tool_call(f"s_{kind}", {"i": i}, tcid=f"t{i}", seq=i + 1)
            session.on_message(message)
            if duplicates:
                session.on_message(message)
        if not burst:
            await asyncio.sleep(0.005)
        session.on_message(stopped_speaking("pal", seq=len(kinds) + 1))
        if duplicates:
            session.on_message(stopped_speaking("replica", seq=len(kinds) + 2))
        await asyncio.wait_for(session.settled(), 5)
        await session.drain(0)

    per_call = Counter(m["properties"]["tool_call_id"] for m in transport.sent)
    assert per_call == Counter({f"t{i}": 1 for i in range(len(kinds))})
    assert len(transport.sent) == len(kinds)
    assert Counter(o.tool_call_id for o in rec.outcomes) == per_call
    by_id = {m["properties"]["tool_call_id"]: m for m in transport.sent}
    for i, kind in enumerate(kinds):
        expected_kind, status, output = EXPECTED[kind]
        [outcome] = [o for o in rec.outcomes if o.tool_call_id == f"t{i}"]
        assert outcome.kind is expected_kind, (i, kind, outcome)
        assert by_id[f"t{i}"] == tool_result(f"t{i}", output(i), status)
        assert "secret" not in json.dumps(by_id[f"t{i}"])


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=12),
    burst=st.booleans(),
    duplicates=st.booleans(),
    limit=st.sampled_from([2, 16]),
)
def test_each_call_answered_exactly_once(
    kinds: list[str], burst: bool, duplicates: bool, limit: int
) -> None:
    with structlog.testing.capture_logs():
        asyncio.run(_stress(kinds, burst, duplicates, limit))


@pytest.mark.parametrize("seed_kinds", [list(KINDS) * 3], ids=["all-kinds-x3"])
async def test_every_kind_at_once(seed_kinds: list[str]) -> None:
    with structlog.testing.capture_logs():
        await _stress(seed_kinds, burst=False, duplicates=True, limit=16)


# -- the loop stays free -------------------------------------------------------------------------


async def test_sync_handler_does_not_block_the_loop(make_harness: MakeHarness) -> None:
    @tool(timeout=5)
    def blocking() -> str:
        time.sleep(0.5)
        return "slept"

    @tool
    async def quick() -> str:
        return "quick"

    h = make_harness(blocking, quick)
    answered: dict[str, float] = {}

    def on_send(message: Any) -> None:
        answered[message["properties"]["tool_call_id"]] = time.perf_counter()

    h.transport.on_send = on_send
    ticks: list[float] = []

    async def heartbeat() -> None:
        while True:
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.01)

    beat = asyncio.create_task(heartbeat())
    try:
        h.feed(tool_call("blocking", tcid="t1", seq=1))
        await asyncio.sleep(0.05)
        sent_at = time.perf_counter()
        h.feed(tool_call("quick", tcid="t2", seq=2))
        await asyncio.wait_for(h.session.settled(), 3)
    finally:
        beat.cancel()
    assert answered["t2"] - sent_at < 0.2  # ~immediate, while the thread sleeps
    assert answered["t1"] - answered["t2"] > 0.2
    assert [m["properties"]["tool_call_id"] for m in h.sent] == ["t2", "t1"]
    during = [t for t in ticks if sent_at <= t <= answered["t1"]]
    assert len(during) >= 10
    assert max(b - a for a, b in itertools.pairwise(during)) < 0.2


@pytest.mark.parametrize("is_async", [True, False], ids=["async", "sync"])
async def test_concurrency_limit(make_harness: MakeHarness, is_async: bool) -> None:
    lock = threading.Lock()
    state = {"running": 0, "peak": 0}

    def enter() -> None:
        with lock:
            state["running"] += 1
            state["peak"] = max(state["peak"], state["running"])

    def leave() -> None:
        with lock:
            state["running"] -= 1

    if is_async:

        @tool(timeout=5)
        async def work(i: int) -> str:
            enter()
            await asyncio.sleep(0.03)
            leave()
            return f"done {i}"
    else:

        @tool(timeout=5)
        def work(i: int) -> str:
            enter()
            time.sleep(0.03)
            leave()
            return f"done {i}"

    # One tool alone may take every slot only when its own limit allows.
    h = make_harness(work, max_concurrent_calls=2, max_concurrent_per_tool=2)
    sent = await h.run(*(tool_call("work", {"i": i}, tcid=f"t{i}", seq=i) for i in range(6)))
    assert state["peak"] == 2
    assert sorted(m["properties"]["output"] for m in sent) == [f"done {i}" for i in range(6)]
    assert_one_answer_each(h, *(f"t{i}" for i in range(6)))


# -- ToolContext ------------------------------------------------------------------------------


async def test_context_carries_the_call_ids_and_settings(make_harness: MakeHarness) -> None:
    seen: list[ToolContext] = []

    @tool(timeout=3)
    async def whoami(ctx: ToolContext, size: int = 1) -> str:
        seen.append(ctx)
        return f"{ctx.tool} {size}"

    message = tool_call("whoami", {"size": 2}, tcid="t1", seq=7, inference_id="inf-1")
    message["turn_idx"] = 4
    message["timestamp"] = 1_760_000_000.5

    asked: list[str | None] = []

    def settings_for(plugin: str | None) -> dict[str, Any]:
        asked.append(plugin)
        return {"greeting": "hi", "plugin": plugin}

    h = make_harness(spec_of(whoami).with_options(plugin="shop"), settings_for=settings_for)
    assert await h.run(message) == [tool_result("t1", "whoami 2")]
    [ctx] = seen
    assert (ctx.conversation_id, ctx.tool_call_id, ctx.inference_id, ctx.seq, ctx.turn_idx) == (
        "c1",
        "t1",
        "inf-1",
        7,
        4,
    )
    assert ctx.tool == "whoami"
    assert ctx.call.arguments == {"size": 2}
    assert ctx.timestamp == 1_760_000_000.5
    assert dict(ctx.settings) == {"greeting": "hi", "plugin": "shop"}
    assert asked == ["shop"]
    assert ctx.cancelled is False
    assert 0 < ctx.remaining <= 3


async def test_context_echo_is_sent_immediately(make_harness: MakeHarness) -> None:
    release = asyncio.Event()

    @tool(timeout=3)
    async def lookup(ctx: ToolContext) -> str:
        await ctx.echo("One moment, let me check.")
        await release.wait()
        return "in stock"

    h = make_harness(lookup)
    h.feed(tool_call("lookup", tcid="t1"))
    for _ in range(50):
        if h.sent:
            break
        await asyncio.sleep(0.001)
    assert h.sent == [echo("One moment, let me check.")]
    assert h.rec.outcomes == []
    release.set()
    await h.session.settled()
    assert h.sent == [echo("One moment, let me check."), tool_result("t1", "in stock")]
    assert len(h.rec.outcomes) == 1


async def test_context_outbound_helpers(make_harness: MakeHarness) -> None:
    @tool(reply="none")
    async def chatty(ctx: ToolContext) -> None:
        await ctx.append_context("fact", job_status="completed")
        await ctx.respond("tell me more")
        await ctx.interrupt()
        await ctx.set_sensitivity(pause="low")

    h = make_harness(chatty)
    sent = await h.run(tool_call("chatty", tcid="t1"))
    assert [m["event_type"] for m in sent] == [
        "conversation.append_llm_context",
        "conversation.respond",
        "conversation.interrupt",
        "conversation.sensitivity",
    ]
    assert sent[2] == {
        "message_type": "conversation",
        "event_type": "conversation.interrupt",
        "conversation_id": "c1",
    }
    assert sent[3]["properties"] == {"participant_pause_sensitivity": "low"}


async def test_context_oversize_echo_raises_inside_handler(make_harness: MakeHarness) -> None:
    @tool
    async def shout(ctx: ToolContext) -> str:
        await ctx.echo("a" * 1000)
        return "unreachable"

    h = make_harness(shout, message_limit=300)
    assert await h.run(tool_call("shout", tcid="t1")) == [
        tool_result("t1", "shout failed with an internal error", "error")
    ]
