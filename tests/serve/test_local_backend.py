"""The local backend: idempotent enqueue, HostFull, stop, bounded history, answer-once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from serve_helpers import job

from cvibot.serve._backend import AlreadyEnded, HostFull
from cvibot.serve._local import LocalBackend


class Slots:
    def __init__(self, free: int) -> None:
        self.n = free

    def free(self) -> int:
        return self.n

    async def wait_free(self) -> None:
        await asyncio.sleep(3600)


async def started(backend: LocalBackend, free: int) -> tuple[Slots, Any]:
    slots = Slots(free)
    stream = backend.jobs(slots)
    first = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0)
    return slots, (stream, first)


async def test_nothing_is_accepted_before_the_host_takes_jobs() -> None:
    with pytest.raises(HostFull, match="not taking conversations yet"):
        await LocalBackend().enqueue(job("c1"))


async def test_enqueue_is_idempotent_and_refuses_past_the_free_slots() -> None:
    backend = LocalBackend()
    slots, (stream, first) = await started(backend, 0)
    with pytest.raises(HostFull) as full:
        await backend.enqueue(job("c1"))
    assert full.value.retry_after == 5.0
    slots.n = 2
    one = await backend.enqueue(job("c1"))
    assert (one.state, one.enqueued_at is not None) == ("queued", True)
    given_job, hold = await asyncio.wait_for(first, 2)
    assert given_job.conversation_id == "c1"
    again = await backend.enqueue(job("c1"))
    assert (again.state, again.owner, again.attempts) == ("joining", "local", 1)
    await hold.joined()
    assert (await backend.get("c1")).state == "active"  # type: ignore[union-attr]
    await hold.complete("ended", "end_call")
    with pytest.raises(AlreadyEnded) as ended:
        await backend.enqueue(job("c1"))
    assert ended.value.record.reason == "end_call"
    backend.drain()
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()
    with pytest.raises(HostFull, match="draining"):
        await backend.enqueue(job("c2"))


async def test_stop_of_a_queued_job_never_hands_it_out_and_of_a_held_one_asks_the_host() -> None:
    backend = LocalBackend()
    _, (stream, first) = await started(backend, 2)
    await backend.enqueue(job("held"))
    _, hold = await asyncio.wait_for(first, 2)
    # Nobody asks for the next job yet: this one waits in the queue.
    await backend.enqueue(job("queued"))
    assert len(backend._queue) == 1
    stopped = await backend.stop("queued", "not wanted")
    assert (stopped.state, stopped.reason) == ("stopped", "not wanted")  # type: ignore[union-attr]
    assert not backend._queue
    record = await backend.stop("held", "hang up")
    assert record is not None and record.state == "joining"
    assert hold.stop_requested.is_set() and hold.stop_reason == "hang up"
    assert await backend.stop("unknown", "x") is None
    backend.drain()
    await stream.aclose()


async def test_claim_call_answers_once_and_not_after_the_hold_ended() -> None:
    backend = LocalBackend()
    _, (stream, first) = await started(backend, 1)
    await backend.enqueue(job("c1"))
    _, hold = await asyncio.wait_for(first, 2)
    assert await hold.claim_call("call-1") is True
    assert await hold.claim_call("call-1") is False
    assert (await backend.get("c1")).tool_calls == 1  # type: ignore[union-attr]
    await hold.release()
    assert (await backend.get("c1")).state == "queued"  # type: ignore[union-attr]
    assert await hold.claim_call("call-2") is False
    backend.drain()
    await stream.aclose()


async def test_ended_records_are_kept_up_to_the_history_then_dropped_oldest_first() -> None:
    backend = LocalBackend(history=2)
    _, (stream, first) = await started(backend, 1)
    for n in range(4):
        await backend.enqueue(job(f"c{n}"))
        await backend.stop(f"c{n}", "x") if n else None
        if n == 0:
            _, hold = await asyncio.wait_for(first, 2)
            await hold.complete("failed", "boom")
    assert [r.conversation_id for r in await backend.list()] == ["c3", "c2"]
    assert await backend.get("c0") is None
    backend.drain()
    await stream.aclose()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d", "e"]), st.integers(0, 3))))
def test_the_queue_never_holds_more_than_the_free_slots(steps: list[tuple[str, int]]) -> None:
    async def run() -> None:
        backend = LocalBackend()
        slots = Slots(0)
        backend._slots = slots
        for cid, free in steps:
            slots.n = free
            before = len(backend._queue)
            try:
                await backend.enqueue(job(cid))
            except (HostFull, AlreadyEnded):
                assert len(backend._queue) == before
                continue
            # Accepted as new only into a free slot not promised to a queued job.
            assert len(backend._queue) == before or len(backend._queue) <= free

    asyncio.run(run())
