"""Nothing blocks the loop: slow observers, blocking handlers, zombie threads, slow tools
and floods of calls never delay the answers of other calls (issue 9).

Timings here are relative (one thing happens before another) with wide margins, so a
loaded machine does not make them flaky.
"""

from __future__ import annotations

import asyncio
import contextlib
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError
from pathlib import Path
from typing import Any

import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runtime_helpers import CID, Recorder, spec_of, tool_call

from cvibot import tool
from cvibot._dispatch import DispatchPolicy, ErrorKind, OutcomeKind
from cvibot._dispatch.admission import WaitingBound
from cvibot._dispatch.pool import PoolBusy, ToolPool
from cvibot._runtime import Bot
from cvibot._session import Session
from cvibot._watchdog import LoopWatchdog, code_labels
from cvibot.config import load_config
from cvibot.plugins._workers import HookWorkers
from cvibot.tools import ToolRegistry, ToolSpec
from cvibot.transports._memory import MemoryTransport

# Set at the end of each test: handlers that wait on it let their threads go.
RELEASE = threading.Event()


@pytest.fixture(autouse=True)
def _release_threads() -> Iterator[None]:
    RELEASE.clear()
    yield
    RELEASE.set()


def _session(
    *tools: Callable[..., Any] | ToolSpec,
    executor: Any,
    transport: MemoryTransport | None = None,
    **policy: Any,
) -> tuple[Session, MemoryTransport, Recorder]:
    transport = transport or MemoryTransport()
    rec = Recorder()
    session = Session(
        transport=transport,
        tools=ToolRegistry.build(t if isinstance(t, ToolSpec) else spec_of(t) for t in tools),
        policy=DispatchPolicy(**policy),
        executor=executor,
        conversation_id=CID,
        listeners=(rec,),
    )
    return session, transport, rec


def _answers(transport: MemoryTransport) -> dict[str, dict[str, Any]]:
    return {m["properties"]["tool_call_id"]: m["properties"] for m in transport.sent}


async def _until(condition: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


# -- the sync pool: zombies ---------------------------------------------------------------


def _blocker(running: threading.Semaphore) -> bool:
    running.release()
    return RELEASE.wait(10)


def test_abandoned_threads_do_not_take_the_live_slots() -> None:
    pool = ToolPool(2, 4)
    running = threading.Semaphore(0)
    stuck = [pool.submit(_blocker, running) for _ in range(2)]
    for _ in stuck:
        assert running.acquire(timeout=5)
    for future in stuck:
        pool.abandon(future)
    assert pool.stats.zombies == 2
    assert pool.submit(lambda: "served").result(timeout=5) == "served"
    # Two more zombies reach the cap of 4 threads: the next call is refused at once.
    more = [pool.submit(_blocker, running) for _ in range(2)]
    for _ in more:
        assert running.acquire(timeout=5)
    for future in more:
        pool.abandon(future)
    refused = pool.submit(lambda: "never")
    assert isinstance(refused.exception(timeout=0), PoolBusy)
    assert pool.stats.busy_refusals == 1
    RELEASE.set()
    for future in (*stuck, *more):
        assert future.result(timeout=5) is True
    # The zombies' threads serve again once their handlers return.
    assert pool.submit(lambda: "again").result(timeout=5) == "again"
    assert pool.stats.zombies == 0
    pool.shutdown()


def test_calls_past_the_workers_wait_their_turn() -> None:
    pool = ToolPool(1, 4)
    first = pool.submit(RELEASE.wait, 10)
    second = pool.submit(lambda: "second")
    time.sleep(0.05)
    assert not second.done()  # one live call at a time, though threads are free
    RELEASE.set()
    assert second.result(timeout=5) == "second"
    assert first.result(timeout=5) is True
    pool.shutdown()


def test_shutdown_never_joins_a_stuck_thread() -> None:
    pool = ToolPool(1, 1)
    pool.submit(RELEASE.wait, 30)
    time.sleep(0.02)
    started = time.monotonic()
    pool.shutdown(wait=True)
    assert time.monotonic() - started < 1
    threads = [t for t in threading.enumerate() if t.name.startswith("cvibot-tool")]
    assert threads and all(t.daemon for t in threads)
    with pytest.raises(RuntimeError):
        pool.submit(print)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    plan=st.lists(st.tuples(st.sampled_from([0.0, 0.001, 0.01]), st.booleans()), max_size=30),
    workers=st.integers(1, 3),
    extra=st.integers(0, 3),
)
def test_the_pool_settles_whatever_is_abandoned(
    plan: list[tuple[float, bool]], workers: int, extra: int
) -> None:
    pool = ToolPool(workers, workers + extra)
    futures = []
    for delay, abandon in plan:
        future = pool.submit(time.sleep, delay)
        futures.append(future)
        if abandon:
            pool.abandon(future)
    for future in futures:
        with contextlib.suppress(CancelledError, PoolBusy):
            future.result(timeout=10)
    deadline = time.monotonic() + 10
    while (stats := pool.stats).live or stats.zombies or stats.pending:
        assert time.monotonic() < deadline, stats
        time.sleep(0.001)
    assert stats.threads <= workers + extra and stats.idle <= workers
    refused = sum(isinstance(f.exception(), PoolBusy) for f in futures if not f.cancelled())
    assert refused == stats.busy_refusals
    pool.shutdown()


async def test_eight_sync_handlers_past_their_timeout_do_not_starve_later_ones() -> None:
    # Before: eight timed-out handlers kept the eight pool threads, and every later sync
    # call timed out too.
    @tool(timeout=0.1)
    def stuck(i: int) -> str:
        RELEASE.wait(30)
        return "late"

    @tool(timeout=5)
    def quick() -> str:
        return "quick"

    pool = ToolPool(8, 32)
    session, transport, rec = _session(stuck, quick, executor=pool)
    for i in range(8):
        session.on_message(tool_call("stuck", {"i": i}, tcid=f"s{i}", seq=i + 1))
    await _until(lambda: len(transport.sent) == 8)
    assert pool.stats.zombies == 8
    session.on_message(tool_call("quick", tcid="q", seq=20))
    await _until(lambda: "q" in _answers(transport))
    assert _answers(transport)["q"] == {"tool_call_id": "q", "output": "quick", "status": "success"}
    assert {o.kind for o in rec.outcomes if o.tool == "stuck"} == {OutcomeKind.TIMEOUT}
    await session.drain(0)
    pool.shutdown()


async def test_a_sync_call_with_no_thread_left_is_answered_busy_at_once() -> None:
    @tool(timeout=0.1)
    def stuck() -> str:
        RELEASE.wait(30)
        return "late"

    pool = ToolPool(1, 1)
    session, transport, rec = _session(stuck, executor=pool)
    session.on_message(tool_call("stuck", tcid="zombie", seq=1))
    await _until(lambda: "zombie" in _answers(transport))
    session.on_message(tool_call("stuck", tcid="next", seq=2))
    await _until(lambda: "next" in _answers(transport), within=5)
    answer = _answers(transport)["next"]
    assert answer["status"] == "error" and "busy" in answer["output"]
    [outcome] = [o for o in rec.outcomes if o.tool_call_id == "next"]
    assert outcome.error is ErrorKind.BUSY
    assert outcome.latency < 0.1 + 5  # not its timeout: refused when it could not start
    await session.drain(0)
    pool.shutdown()


# -- per-tool limits and backpressure ---------------------------------------------------


async def test_instant_calls_do_not_wait_behind_slow_ones_under_the_defaults() -> None:
    # Before: sixteen slow calls took every slot, and instant calls queued behind them.
    gate = asyncio.Event()

    @tool(timeout=30)
    async def slow(i: int) -> str:
        await gate.wait()
        return f"slow {i}"

    @tool(timeout=30)
    async def instant(i: int) -> str:
        return f"instant {i}"

    session, transport, _ = _session(slow, instant, executor=None)
    for i in range(40):
        session.on_message(tool_call("slow", {"i": i}, tcid=f"s{i}", seq=i + 1))
    for i in range(5):
        session.on_message(tool_call("instant", {"i": i}, tcid=f"i{i}", seq=100 + i))
    await _until(lambda: len(transport.sent) == 5)
    assert sorted(_answers(transport)) == [f"i{i}" for i in range(5)]
    assert session.dispatcher.waiting == 40 - 8  # the slow tool's own limit: half of 16
    gate.set()
    await asyncio.wait_for(session.settled(), 10)
    assert len(transport.sent) == 45
    assert all(a["status"] == "success" for a in _answers(transport).values())


async def test_a_tool_limit_from_the_decorator_holds_and_frees_in_order() -> None:
    running = 0
    peak = 0

    @tool(timeout=30, max_concurrent=2)
    async def limited(i: int) -> str:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        return f"done {i}"

    session, transport, _ = _session(limited, executor=None)
    for i in range(10):
        session.on_message(tool_call("limited", {"i": i}, tcid=f"t{i}", seq=i + 1))
    await asyncio.wait_for(session.settled(), 10)
    assert peak == 2
    assert [m["properties"]["tool_call_id"] for m in transport.sent] == [f"t{i}" for i in range(10)]


async def test_calls_past_the_waiting_bound_are_answered_busy_at_once() -> None:
    # Before: every call waited for a slot, however many came.
    gate = asyncio.Event()

    @tool(timeout=30)
    async def slow(i: int) -> str:
        await gate.wait()
        return f"slow {i}"

    session, transport, rec = _session(
        slow, executor=None, max_concurrent_calls=1, max_waiting_calls=2
    )
    for i in range(6):
        session.on_message(tool_call("slow", {"i": i}, tcid=f"t{i}", seq=i + 1))
    await _until(lambda: len(transport.sent) == 3)
    busy = _answers(transport)
    assert sorted(busy) == ["t3", "t4", "t5"]
    assert all(a["status"] == "error" and "busy" in a["output"] for a in busy.values())
    assert session.dispatcher.waiting == 2
    gate.set()
    await asyncio.wait_for(session.settled(), 10)
    answers = _answers(transport)
    assert [answers[f"t{i}"]["output"] for i in range(3)] == ["slow 0", "slow 1", "slow 2"]
    assert [o.error for o in rec.outcomes].count(ErrorKind.BUSY) == 3


async def test_a_flood_of_busy_answers_logs_one_line_a_second_with_the_count() -> None:
    from structlog.testing import capture_logs

    gate = asyncio.Event()

    @tool(timeout=30)
    async def slow() -> str:
        await gate.wait()
        return "slow"

    session, transport, rec = _session(
        slow, executor=None, max_concurrent_calls=1, max_waiting_calls=1
    )
    with capture_logs() as logs:
        for i in range(200):
            session.on_message(tool_call("slow", {}, tcid=f"t{i}", seq=i + 1))
        await _until(lambda: len(transport.sent) == 198)
    busy_lines = [e for e in logs if e.get("error") == "busy"]
    assert [o.error for o in rec.outcomes].count(ErrorKind.BUSY) == 198  # each is an outcome
    assert 1 <= len(busy_lines) <= 2  # not one line per refused call
    gate.set()
    await asyncio.wait_for(session.settled(), 10)


async def test_the_waiting_bound_is_shared_by_the_conversations_of_a_process() -> None:
    gate = asyncio.Event()

    @tool(timeout=30)
    async def slow() -> str:
        await gate.wait()
        return "slow"

    shared = WaitingBound(1)
    sessions = [
        _session(slow, executor=None, max_concurrent_calls=1, waiting=shared) for _ in range(2)
    ]
    for session, _, _ in sessions:
        for i in range(2):
            session.on_message(tool_call("slow", tcid=f"t{i}", seq=i + 1))
    (_, first, _), (_, second, _) = sessions
    await _until(lambda: len(second.sent) == 1)
    assert first.sent == [] and second.sent[0]["properties"]["tool_call_id"] == "t1"
    assert shared.waiting == 1
    gate.set()
    for session, _, _ in sessions:
        await asyncio.wait_for(session.settled(), 10)
    assert shared.waiting == 0


async def test_waiting_calls_time_out_and_are_cancelled_like_running_ones() -> None:
    gate = asyncio.Event()

    @tool(timeout=30, cancel_on_interrupt=True)
    async def holder() -> str:
        await gate.wait()
        return "held"

    @tool(timeout=0.05)
    async def short() -> str:
        return "never runs"

    session, transport, rec = _session(holder, short, executor=None, max_concurrent_calls=1)
    session.on_message(tool_call("holder", tcid="h", seq=1))
    session.on_message(tool_call("short", tcid="w", seq=2))
    await _until(lambda: "w" in _answers(transport))
    assert _answers(transport)["w"]["output"] == "short timed out after 0.05 s"
    await session.drain(0)
    assert _answers(transport)["h"]["status"] == "error"
    assert {o.tool_call_id: o.kind for o in rec.outcomes} == {
        "w": OutcomeKind.TIMEOUT,
        "h": OutcomeKind.CANCELLED,
    }
    assert session.dispatcher.in_flight == 0


# -- shutdown within the grace -----------------------------------------------------------


async def test_drain_answers_a_stuck_sync_call_when_the_grace_runs_out() -> None:
    @tool(timeout=60)
    def stuck() -> str:
        RELEASE.wait(60)
        return "late"

    pool = ToolPool(2, 4)
    session, transport, rec = _session(stuck, executor=pool)
    session.on_message(tool_call("stuck", tcid="s", seq=1))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await asyncio.wait_for(session.drain(0.2), 10)
    assert time.monotonic() - started < 5  # not the handler's 60 s
    assert _answers(transport)["s"]["status"] == "error"
    assert [o.error for o in rec.outcomes] == [ErrorKind.SHUTDOWN]
    assert pool.stats.zombies == 1
    pool.shutdown()


async def test_drain_answers_an_async_call_that_ignores_its_cancellation() -> None:
    give_up = asyncio.Event()  # set once the test has seen the answer

    @tool(timeout=60)
    async def stubborn() -> str:
        while not give_up.is_set():
            try:
                await asyncio.sleep(1)
            except asyncio.CancelledError:
                continue
        return "late"

    session, transport, rec = _session(stubborn, executor=None)
    session.on_message(tool_call("stubborn", tcid="s", seq=1))
    await asyncio.sleep(0.02)
    await asyncio.wait_for(session.dispatcher.drain(0.05), 5)
    assert _answers(transport)["s"]["status"] == "error"
    assert [o.error for o in rec.outcomes] == [ErrorKind.SHUTDOWN]
    # The handler ends now; its late return changes nothing: the call had its one answer.
    give_up.set()
    tasks = list(session.dispatcher._tasks)
    for task in tasks:
        task.cancel()
    await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 5)
    assert [o.error for o in rec.outcomes] == [ErrorKind.SHUTDOWN]
    assert len(transport.sent) == 1


# -- sync hooks off the loop and the watchdog (through the Bot) --------------------------

SLOW_OBSERVER = """
import threading
import time

from cvibot import hookimpl, tool

SEEN = []
THREADS = set()

@hookimpl
def cvibot_event(event):
    THREADS.add(threading.current_thread().name)
    time.sleep(0.3)
    SEEN.append(event.event_type)

@tool(timeout=5)
async def ping(i: int) -> str:
    return f"pong {i}"

@tool(timeout=5)
async def blocker() -> str:
    time.sleep(0.8)
    return "unblocked"
"""


def _bot(folder: Path, *dispatch: str) -> Bot:
    (folder / "slow_observer.py").write_text(SLOW_OBSERVER)
    config = folder / "bot.yaml"
    config.write_text(
        f"conversation: {{id: {CID}}}\n"
        "transport: {type: replay, path: rec.jsonl}\n"
        "plugins: [slow_observer]\n"
        "dispatch:\n  shutdown_grace: 1\n" + "".join(f"  {line}\n" for line in dispatch)
    )
    return Bot.from_config(load_config(config), autoload=False)


async def test_a_slow_sync_event_hook_does_not_delay_answers(tmp_path: Path) -> None:
    # Before: the hook ran on the loop, and ten calls 0.1 s apart were answered up to
    # 3 s late.
    bot = _bot(tmp_path)
    plugin = bot.host.plugins[0].plugin
    sent_at: dict[str, float] = {}
    answered_at: dict[str, float] = {}
    transport = MemoryTransport(
        on_send=lambda m: answered_at.setdefault(m["properties"]["tool_call_id"], time.monotonic())
    )
    run = asyncio.create_task(bot.run(transport))
    for i in range(10):
        sent_at[f"t{i}"] = time.monotonic()
        transport.push(tool_call("ping", {"i": i}, tcid=f"t{i}", seq=i + 1))
        await asyncio.sleep(0.1)
    await _until(lambda: len(answered_at) == 10)
    delays = [answered_at[t] - sent_at[t] for t in sent_at]
    # The hook takes 0.3 s per event: on the loop, the last answer would wait ~1.8 s.
    assert max(delays) < 1.0, delays
    assert len(plugin.SEEN) < 10  # type: ignore[attr-defined]  # the hook lags behind
    transport.end()
    await asyncio.wait_for(run, 10)
    threads: set[str] = plugin.THREADS  # type: ignore[attr-defined]
    assert threads == {"cvibot-hooks-slow_observer"}


def test_a_full_observer_queue_drops_and_warns_once_naming_the_plugin() -> None:
    workers = HookWorkers(capacity=2)
    started = threading.Event()
    seen: list[int] = []

    def observer(n: int) -> None:
        started.set()
        RELEASE.wait(10)
        seen.append(n)

    async def main() -> list[str]:
        workers.submit("slowpoke", observer, "cvibot_event", {"n": 0})
        assert started.wait(5)
        for n in range(1, 11):
            workers.submit("slowpoke", observer, "cvibot_event", {"n": n})
        RELEASE.set()
        return await workers.close(5)

    with structlog.testing.capture_logs() as logs:
        assert asyncio.run(main()) == []
    assert seen == [0, 1, 2]  # in order; the rest did not fit the queue
    assert workers.dropped == {"slowpoke": 8}
    warnings = [e for e in logs if e["event"] == "plugin observer queue full: events dropped"]
    assert len(warnings) == 1 and warnings[0]["plugin"] == "slowpoke"


async def test_an_async_handler_that_blocks_the_loop_is_reported_by_name(tmp_path: Path) -> None:
    # Before: the bot froze without a word.
    bot = _bot(tmp_path, "loop_warn_after: 0.1")
    transport = MemoryTransport()
    with structlog.testing.capture_logs() as logs:
        run = asyncio.create_task(bot.run(transport))
        await asyncio.sleep(0.2)
        transport.push(tool_call("blocker", tcid="b", seq=1))
        await _until(lambda: len(transport.sent) == 1)
        await asyncio.sleep(0.2)
        transport.end()
        await asyncio.wait_for(run, 10)
    assert bot.watchdog is not None and not bot.watchdog.running
    # (A loaded machine may add holds of its own: look for the blocker's.)
    during = [e for e in logs if e["event"] == "event loop blocked" and e["by"] == "tool blocker"]
    after = [
        e for e in logs if e["event"] == "event loop was blocked" and e["by"] == "tool blocker"
    ]
    assert during and after, [(e["event"], e.get("by")) for e in logs]
    assert "slow_observer.py" in during[0]["at"] and "in blocker" in during[0]["at"]
    assert max(e["held_s"] for e in after) >= 0.5
    assert bot.watchdog.max_lag >= 0.5


async def test_the_watchdog_names_the_innermost_user_frame_without_labels() -> None:
    watchdog = LoopWatchdog(0.15)
    with structlog.testing.capture_logs() as logs:
        watchdog.start()
        await asyncio.sleep(0.1)
        _hold_the_loop(0.8)
        await asyncio.sleep(0.1)
        watchdog.stop()
    held_by = [e["by"] for e in logs if e["event"] == "event loop blocked"]
    assert "_hold_the_loop" in held_by
    assert watchdog.holds >= 1 and watchdog.max_lag >= 0.5 and not watchdog.running


def _hold_the_loop(seconds: float) -> None:
    time.sleep(seconds)


async def test_a_sync_responder_runs_off_the_loop() -> None:
    from cvibot import hookimpl
    from cvibot.plugins import PluginHost

    class Responder:
        @hookimpl
        def cvibot_respond_to_utterance(self, utterance: Any) -> str:
            time.sleep(0.3)
            return f"{threading.current_thread().name}: {utterance}"

    host = PluginHost()
    host.pm.register(Responder(), name="responder")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0)
    answer = await host.call_first(
        "cvibot_respond_to_utterance", in_thread=True, utterance="hi", session=None
    )
    ticker.cancel()
    assert answer.startswith("cvibot-hook-") and answer.endswith(": hi")
    assert ticks >= 5  # the loop ran while the responder slept


def test_code_labels_name_tools_and_hooks() -> None:
    @tool
    def lookup() -> str:
        return ""

    def hook() -> None:
        pass

    labels = code_labels({"lookup": spec_of(lookup)}, [("cvibot_event", "audit", hook)])
    assert labels[lookup.__code__] == "tool lookup"
    assert labels[hook.__code__] == "hook cvibot_event of plugin audit"


async def test_bot_threads_are_daemons_and_never_joined(tmp_path: Path) -> None:
    (tmp_path / "stuck_tool.py").write_text(
        textwrap.dedent(
            """
            import threading
            from cvibot import tool
            RELEASE = threading.Event()

            @tool(timeout=60)
            def stuck() -> str:
                RELEASE.wait(60)
                return "late"
            """
        )
    )
    config = tmp_path / "bot.yaml"
    config.write_text(
        "transport: {type: replay, path: rec.jsonl}\nplugins: [stuck_tool]\n"
        "dispatch: {shutdown_grace: 0.2}\n"
    )
    bot = Bot.from_config(load_config(config), autoload=False)
    transport = MemoryTransport()
    run = asyncio.create_task(bot.run(transport, conversation_id=CID))
    transport.push(tool_call("stuck", tcid="s", seq=1))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    bot.stop("signal SIGTERM")
    session = await asyncio.wait_for(run, 10)
    assert time.monotonic() - started < 5
    assert session.stats.outcomes == {"cancelled": 1}
    assert _answers(transport)["s"]["status"] == "error"
    stuck = [t for t in threading.enumerate() if t.name.startswith("cvibot-tool")]
    assert stuck and all(t.daemon for t in stuck)
    bot.host.plugins[0].plugin.RELEASE.set()  # type: ignore[attr-defined]


# -- property: whatever the limits, every call ends in exactly one answer -----------------


@tool(timeout=5)
async def p_fast(i: int) -> str:
    await asyncio.sleep(0.001 * (i % 3))
    return f"ok {i}"


@tool(timeout=0.03, cancel_on_interrupt=True)
async def p_slow(i: int) -> str:
    await asyncio.sleep(5)
    return "late"


@tool(timeout=0.03, cancel_on_interrupt=True)
def p_sync_stuck(i: int) -> str:
    RELEASE.wait(0.3)  # outlives its timeout: a zombie for a while
    return "late"


@tool(timeout=5, max_concurrent=1)
def p_sync_one(i: int) -> str:
    time.sleep(0.002)
    return f"one {i}"


P_TOOLS = {"fast": p_fast, "slow": p_slow, "stuck": p_sync_stuck, "one": p_sync_one}
P_ACTIONS = (*P_TOOLS, "interrupt", "pause", "bad_args")


async def _answered_once(
    actions: list[str], limit: int, per_tool: int | None, waiting: int, total: int, drain: float
) -> None:
    pool = ToolPool(2, 3)
    bound = WaitingBound(total)
    session, transport, rec = _session(
        *P_TOOLS.values(),
        executor=pool,
        max_concurrent_calls=limit,
        max_concurrent_per_tool=per_tool,
        max_waiting_calls=waiting,
        waiting=bound,
    )
    ids = []
    for i, action in enumerate(actions):
        if action == "pause":
            await asyncio.sleep(0.005)
        elif action == "interrupt":
            session.on_message(
                {"message_type": "conversation", "conversation_id": CID, "seq": i + 1,
                 "event_type": "conversation.stopped_speaking",
                 "properties": {"role": "replica", "interrupted": True}}
            )  # fmt: skip
        else:
            name = "fast" if action == "bad_args" else action
            args: dict[str, Any] = {"i": "x"} if action == "bad_args" else {"i": i}
            ids.append(f"t{i}")
            session.on_message(
                tool_call(spec_of(P_TOOLS[name]).name, args, tcid=f"t{i}", seq=i + 1)
            )
    if drain:
        await asyncio.wait_for(session.drain(drain), 10)
    else:
        await asyncio.wait_for(session.settled(), 10)
    answered = [m["properties"]["tool_call_id"] for m in transport.sent]
    assert sorted(answered) == sorted(ids)
    assert sorted(o.tool_call_id for o in rec.outcomes) == sorted(ids)  # type: ignore[type-var]
    assert session.dispatcher.waiting == 0 and bound.waiting == 0
    assert session.dispatcher._active == 0
    pool.shutdown()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    actions=st.lists(st.sampled_from(P_ACTIONS), min_size=1, max_size=16),
    limit=st.sampled_from([1, 2, 16]),
    per_tool=st.sampled_from([None, 1, 3]),
    waiting=st.sampled_from([0, 1, 3, 64]),
    total=st.sampled_from([0, 2, 1024]),
    drain=st.sampled_from([0.0, 0.0, 0.02]),
)
def test_every_call_is_answered_once_whatever_the_limits(
    actions: list[str], limit: int, per_tool: int | None, waiting: int, total: int, drain: float
) -> None:
    with structlog.testing.capture_logs():
        asyncio.run(_answered_once(actions, limit, per_tool, waiting, total, drain))


def test_calls_still_waiting_when_the_loop_shuts_down_are_answered() -> None:
    @tool(timeout=30)
    async def forever(i: int) -> str:
        await asyncio.sleep(60)
        return "late"

    transport = MemoryTransport()

    async def main() -> None:
        session, _, _ = _session(
            forever,
            executor=None,
            transport=transport,
            max_concurrent_calls=2,
            max_concurrent_per_tool=2,
        )
        for i in range(10):
            session.on_message(tool_call("forever", {"i": i}, tcid=f"t{i}", seq=i + 1))
        await asyncio.sleep(0.01)
        assert session.dispatcher.waiting == 8
        # Return without draining: asyncio.run cancels the running calls' tasks.

    with structlog.testing.capture_logs():
        asyncio.run(main())
    answers = _answers(transport)
    assert sorted(answers) == sorted(f"t{i}" for i in range(10))
    assert all(a["status"] == "error" for a in answers.values())


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "2"])
def test_max_concurrent_must_be_a_positive_integer(bad: Any) -> None:
    from cvibot._errors import ToolDefinitionError

    with pytest.raises(ToolDefinitionError, match="max_concurrent must be an integer >= 1"):

        @tool(max_concurrent=bad)
        def nope() -> str:
            return ""


def test_the_config_sets_a_tools_limit_and_the_dispatch_defaults(tmp_path: Path) -> None:
    (tmp_path / "slow_observer.py").write_text(SLOW_OBSERVER)
    config = tmp_path / "bot.yaml"
    config.write_text(
        "transport: {type: replay, path: rec.jsonl}\nplugins: [slow_observer]\n"
        "tools: {ping: {max_concurrent: 3}}\n"
        "dispatch: {max_concurrent_calls: 5, max_waiting_calls: 7, max_waiting_calls_total: 9}\n"
    )
    bot = Bot.from_config(load_config(config), autoload=False)
    assert bot.tools["ping"].max_concurrent == 3
    assert bot.tools["blocker"].max_concurrent is None
    assert bot.policy.per_tool_limit == 3  # half of 5, rounded up
    assert bot.policy.max_waiting_calls == 7 and bot.policy.waiting.limit == 9


def test_max_sync_threads_below_the_workers_is_a_config_error(tmp_path: Path) -> None:
    from cvibot._errors import ConfigError

    config = tmp_path / "bot.yaml"
    config.write_text(
        "transport: {type: replay, path: rec.jsonl}\n"
        "dispatch:\n  sync_workers: 8\n  max_sync_threads: 4\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert caught.value.key == "dispatch.max_sync_threads"
    assert caught.value.line == 4
    assert "at least sync_workers (8)" in caught.value.message
