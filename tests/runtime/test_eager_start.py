"""A call's task started within the loop pass that received the call (``start_task``)."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from cvibot._dispatch.eager import start_task


def _run_loop(main: Any) -> list[dict[str, Any]]:
    """Run ``main(loop, done)`` on a fresh loop until ``done`` is set; return what the
    loop's exception handler saw."""
    loop = asyncio.new_event_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: errors.append(context))
    done = asyncio.Event()
    try:
        loop.call_soon(main, loop, done)
        loop.run_until_complete(asyncio.wait_for(done.wait(), 10))
    finally:
        loop.close()
    return errors


async def _record(seen: list[int], i: int) -> int:
    seen.append(i)
    return i


def test_from_a_callback_the_first_step_has_run_on_return() -> None:
    seen: list[int] = []
    results: list[bool] = []

    def main(loop: asyncio.AbstractEventLoop, done: asyncio.Event) -> None:
        task = start_task(loop, _record(seen, 1))
        results.append(task.done() and task.result() == 1)
        done.set()

    assert _run_loop(main) == []
    assert results == [True] and seen == [1]


def test_on_a_busy_loop_the_step_waits_its_turn_after_the_work_already_waiting() -> None:
    order: list[str] = []
    results: list[bool] = []

    async def body() -> None:
        order.append("task")

    def main(loop: asyncio.AbstractEventLoop, done: asyncio.Event) -> None:
        for name in ("first", "second", "third"):
            loop.call_soon(order.append, name)
        task = start_task(loop, body())
        results.append(task.done())
        loop.call_soon(done.set)

    assert _run_loop(main) == []
    assert results == [False]
    assert order == ["first", "second", "third", "task"]


async def test_inside_a_task_the_step_is_eager_only_where_python_allows_it() -> None:
    # 3.11 cannot step a task from inside another: the step runs on the next pass.
    seen: list[int] = []
    task = start_task(asyncio.get_running_loop(), _record(seen, 2))
    eager = sys.version_info >= (3, 12)
    assert task.done() is eager and seen == ([2] if eager else [])
    assert await task == 2 and seen == [2]


@pytest.fixture
def eager_thread_switches() -> Iterator[None]:
    """Let threads take turns every microsecond, so that the other thread's appends
    land between any two steps of the loop's code."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


@pytest.mark.usefixtures("eager_thread_switches")
def test_other_threads_scheduling_at_once_lose_nothing_and_run_nothing_twice() -> None:
    # A thread appends to the loop's ready queue (call_soon_threadsafe) while callbacks
    # on the loop start tasks eagerly: every task body runs once, every callback once.
    n = 20_000
    seen: list[int] = []
    foreign: list[int] = []

    def main(loop: asyncio.AbstractEventLoop, done: asyncio.Event) -> None:
        started = 0

        def start_one() -> None:  # one a pass: the loop is idle, so the start is eager
            nonlocal started
            start_task(loop, _record(seen, started))
            started += 1
            if started < n:
                loop.call_soon(start_one)

        def spam() -> None:
            for i in range(n):
                loop.call_soon_threadsafe(foreign.append, i)
                time.sleep(0)  # let the loop thread run between two appends

        def check() -> None:
            if len(seen) == n and len(foreign) == n:
                done.set()
            else:
                loop.call_later(0.01, check)

        threading.Thread(target=spam, daemon=True).start()
        start_one()
        check()

    assert _run_loop(main) == []
    assert sorted(seen) == list(range(n))
    assert foreign == list(range(n))  # one thread's callbacks keep their order
