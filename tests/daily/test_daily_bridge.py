"""The emitter-thread hand-off: one loop wake-up per batch, in order, failures isolated."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from cvibot.transports._daily import bridge


async def test_a_burst_from_another_thread_wakes_the_loop_once_and_runs_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop = asyncio.get_running_loop()
    wakeups: list[Any] = []
    real = loop.call_soon_threadsafe

    def counting(*args: Any) -> Any:
        wakeups.append(args)
        return real(*args)

    monkeypatch.setattr(loop, "call_soon_threadsafe", counting)
    box = bridge._Mailbox(loop)
    seen: list[int] = []
    done = loop.create_future()

    def burst() -> None:  # the loop is busy in this coroutine meanwhile: nothing drains
        for n in range(200):
            box.post(seen.append, n)
        box.post(done.set_result, None)

    thread = threading.Thread(target=burst)
    thread.start()
    thread.join()
    await asyncio.wait_for(done, 5)

    assert seen == list(range(200))
    assert len(wakeups) == 1
    box.post(seen.append, 200)  # the next batch wakes the loop again
    await asyncio.sleep(0)
    assert seen[-1] == 200 and len(wakeups) == 2


async def test_a_raising_call_is_reported_and_the_rest_still_run() -> None:
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        box = bridge._Mailbox(loop)
        seen: list[str] = []

        def boom() -> None:
            raise RuntimeError("boom")

        box.post(seen.append, "a")
        box.post(boom)
        box.post(seen.append, "b")
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(None)

    assert seen == ["a", "b"]
    assert [str(c["exception"]) for c in reported] == ["boom"]


def test_posting_to_a_closed_loop_is_a_silent_no_op() -> None:
    loop = asyncio.new_event_loop()
    box = bridge._Mailbox(loop)
    loop.close()

    box.post(print, "never")  # no exception, nothing kept
    box.post(print, "never")

    assert not box._calls
