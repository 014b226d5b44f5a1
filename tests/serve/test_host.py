"""The session host on the fake Daily SDK: capacity, a conversation end to end, stop,
drain (finish and handoff), lost ownership, the call fence."""

from __future__ import annotations

import asyncio
from typing import Any

from serve_helpers import Rooms, eventually, hosting, job, plugin, results, shutdown, tool_call

from cvibot._runtime import Bot
from cvibot.serve._backend import ConversationRecord
from cvibot.serve._local import LocalBackend


async def record(backend: Any, cid: str) -> ConversationRecord:
    found = await backend.get(cid)
    assert found is not None
    return found


async def _settled(backend: Any, cid: str) -> None:
    """Wait until ``cid``'s record is terminal."""
    async with asyncio.timeout(5):
        while not (await record(backend, cid)).terminal:  # noqa: ASYNC110 - no event to await
            await asyncio.sleep(0.01)


async def test_a_conversation_is_served_end_to_end_with_a_tool_call_answered(bot: Bot) -> None:
    async with hosting(bot, capacity=2) as running:
        backend, rooms = running.backend, running.rooms
        queued = await backend.enqueue(job("conv-1"))
        assert queued.state == "queued"
        await eventually(lambda: rooms.joined("conv-1"))
        await eventually(lambda: running.host.states() == {"conv-1": "active"})
        assert (await record(backend, "conv-1")).state == "active"

        rooms.say("conv-1", tool_call("conv-1", "call-1", order_id="A1"))
        await eventually(lambda: len(results(rooms.client("conv-1"))) == 1)
        assert results(rooms.client("conv-1")) == [
            {"tool_call_id": "call-1", "output": "order A1 has shipped", "status": "success"}
        ]
        rooms.say("conv-1", shutdown("conv-1"))
        await eventually(lambda: running.host.active == 0)
        ended = await record(backend, "conv-1")
        assert (ended.state, ended.reason, ended.tool_calls) == ("ended", "end_call", 1)
        assert not rooms.client("conv-1").joined
        metrics = running.metrics.render().decode()
        assert 'cvibot_tool_calls_total{outcome="success",tool="lookup_order"} 1.0' in metrics
        assert 'cvibot_session_ends_total{reason="ended"} 1.0' in metrics


async def test_capacity_is_exactly_respected_with_many_jobs_waiting(bot: Bot) -> None:
    backend = LocalBackend(host_id="h")
    async with hosting(bot, backend=backend, capacity=3) as running:
        rooms, host = running.rooms, running.host
        for n in range(3):
            await backend.enqueue(job(f"c{n}"))
        # The local backend queues no more than the free slots: the rest is refused.
        from cvibot.serve._backend import HostFull

        refused = 0
        for n in range(3, 20):
            try:
                await backend.enqueue(job(f"c{n}"))
            except HostFull:
                refused += 1
        assert refused == 17
        await eventually(lambda: all(rooms.joined(f"c{n}") for n in range(3)))
        assert host.active == 3 and host.free() == 0
        # One ends: exactly one more is taken.
        rooms.say("c0", shutdown("c0"))
        await eventually(lambda: host.free() == 1)
        await backend.enqueue(job("c3"))
        await eventually(lambda: rooms.joined("c3"))
        assert host.active == 3 and len(rooms.sdk.clients) == 4


async def test_load_threshold_lowers_the_limit(bot: Bot) -> None:
    async with hosting(bot, capacity=10, load_threshold=0.5) as running:
        assert running.host.limit == 5 and running.host.free() == 5


async def test_stop_leaves_an_active_conversation_and_records_it_stopped(bot: Bot) -> None:
    async with hosting(bot) as running:
        backend, rooms = running.backend, running.rooms
        await backend.enqueue(job("conv-1"))
        await eventually(lambda: running.host.states().get("conv-1") == "active")
        await backend.stop("conv-1", "the customer hung up")
        await eventually(lambda: running.host.active == 0)
        stopped = await record(backend, "conv-1")
        assert (stopped.state, stopped.reason) == ("stopped", "the customer hung up")
        assert not rooms.client("conv-1").joined


async def test_a_stopped_queued_conversation_is_never_joined(bot: Bot) -> None:
    rooms = Rooms(join_delay=0.3)
    async with hosting(bot, rooms=rooms, capacity=1) as running:
        backend = running.backend
        await backend.enqueue(job("first"))
        await eventually(lambda: running.host.active == 1)
        # Joining takes 0.3 s; stopping it meanwhile ends it without serving it.
        await backend.stop("first", "not wanted")
        await eventually(lambda: running.host.active == 0)
        assert (await record(backend, "first")).state == "stopped"


async def test_drain_finish_waits_for_the_conversation_then_run_returns(bot: Bot) -> None:
    async with hosting(bot, drain_timeout=5) as running:
        backend, rooms, host = running.backend, running.rooms, running.host
        await backend.enqueue(job("conv-1"))
        await eventually(lambda: host.states().get("conv-1") == "active")
        host.drain()
        assert host.draining and host.free() == 0
        await asyncio.sleep(0.1)
        assert not running.task.done() and rooms.client("conv-1").joined
        rooms.say("conv-1", shutdown("conv-1"))
        await asyncio.wait_for(running.task, 5)
        assert (await record(backend, "conv-1")).state == "ended"


async def test_drain_finish_gives_back_what_outlasts_the_drain_timeout(bot: Bot) -> None:
    async with hosting(bot, drain_timeout=0.2) as running:
        backend, rooms, host = running.backend, running.rooms, running.host
        await backend.enqueue(job("conv-1"))
        await eventually(lambda: host.states().get("conv-1") == "active")
        host.drain()
        await asyncio.wait_for(running.task, 5)
        assert (await record(backend, "conv-1")).state == "queued"  # released
        assert not rooms.client("conv-1").joined


async def test_drain_handoff_answers_running_calls_and_releases_at_once(bot: Bot) -> None:
    async with hosting(bot, on_drain="handoff", drain_timeout=600) as running:
        backend, rooms, host = running.backend, running.rooms, running.host
        await backend.enqueue(job("conv-1"))
        await eventually(lambda: host.states().get("conv-1") == "active")
        rooms.say("conv-1", tool_call("conv-1", "slow", name="wait_for_gate", label="x"))
        await eventually(lambda: plugin(bot).RUNS == ["x"])
        host.drain()
        await asyncio.wait_for(running.task, 5)  # shutdown_grace is 2 s
        # The running call got its one answer (a shutdown error) before the host left.
        answers = results(rooms.client("conv-1"))
        assert [a["tool_call_id"] for a in answers] == ["slow"]
        assert answers[0]["status"] == "error"
        assert (await record(backend, "conv-1")).state == "queued"


class _Hold:
    """An ownership the test controls: ``lost``, and the claims asked for."""

    def __init__(self, claims: bool = True) -> None:
        self.fence = 2
        self.lost = asyncio.Event()
        self.stop_requested = asyncio.Event()
        self.claims = claims
        self.asked: list[str] = []
        self.calls: list[str] = []

    async def joined(self) -> None:
        self.calls.append("joined")

    async def claim_call(self, key: str) -> bool:
        self.asked.append(key)
        return self.claims

    async def complete(self, state: str, reason: str) -> None:
        self.calls.append(f"complete {state}")

    async def release(self) -> None:
        self.calls.append("release")


class _OneJob:
    """A backend that hands out one job with a given hold."""

    name = "test"

    def __init__(self, hold: _Hold) -> None:
        self.hold = hold
        self._drained = asyncio.Event()

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def jobs(self, slots: Any) -> Any:
        yield job("conv-1"), self.hold
        await self._drained.wait()

    def drain(self) -> None:
        self._drained.set()


async def test_lost_ownership_leaves_at_once_without_completing(bot: Bot) -> None:
    hold = _Hold()
    async with hosting(bot, backend=_OneJob(hold)) as running:  # type: ignore[arg-type]
        rooms, host = running.rooms, running.host
        await eventually(lambda: host.states().get("conv-1") == "active")
        rooms.say("conv-1", tool_call("conv-1", "slow", name="wait_for_gate", label="x"))
        await eventually(lambda: plugin(bot).RUNS == ["x"])
        hold.lost.set()
        await eventually(lambda: host.active == 0, within=2)  # no 2 s grace
        assert hold.calls == ["joined"]  # neither completed nor released
        assert not rooms.client("conv-1").joined
        assert hold.asked == ["slow"]


async def test_a_fence_that_says_no_means_no_handler_and_no_answer(bot: Bot) -> None:
    hold = _Hold(claims=False)
    async with hosting(bot, backend=_OneJob(hold)) as running:  # type: ignore[arg-type]
        rooms, host = running.rooms, running.host
        await eventually(lambda: host.states().get("conv-1") == "active")
        rooms.say("conv-1", tool_call("conv-1", "call-1", order_id="A1"))
        rooms.say("conv-1", tool_call("conv-1", "call-2", name="nope"))  # no handler needed
        await eventually(lambda: hold.asked == ["call-1", "call-2"])
        rooms.say("conv-1", shutdown("conv-1"))
        await eventually(lambda: host.active == 0)
        assert plugin(bot).RUNS == []
        assert results(rooms.client("conv-1")) == []
        assert hold.calls == ["joined", "complete ended"]
        metrics = running.metrics.render().decode()
        assert "cvibot_call_fenced_total 2.0" in metrics


class _FakeTavus:
    def __init__(self, status: str = "active") -> None:
        self.status = status
        self.gets: list[str] = []
        self.created: list[dict[str, Any]] = []

    async def get_conversation(self, cid: str) -> Any:
        from cvibot.tavus import Conversation

        self.gets.append(cid)
        return Conversation(conversation_id=cid, status=self.status)

    async def create_conversation(self, **body: Any) -> Any:
        from cvibot.tavus import Conversation

        self.created.append(body)
        return Conversation(
            conversation_id="tavus-42",
            conversation_url="https://tavus.daily.co/tavus-42",
            status="active",
        )


class _TakenOver(_OneJob):
    async def jobs(self, slots: Any) -> Any:
        from dataclasses import replace

        yield replace(job("conv-1"), attempts=2), self.hold
        await self._drained.wait()


async def test_a_taken_over_conversation_that_ended_is_not_joined(bot: Bot) -> None:
    hold, tavus = _Hold(), _FakeTavus(status="ended")
    async with hosting(bot, backend=_TakenOver(hold), tavus=tavus) as running:  # type: ignore[arg-type]
        await eventually(lambda: hold.calls == ["complete ended"])
        assert tavus.gets == ["conv-1"] and running.rooms.sdk.clients == []


async def test_a_taken_over_conversation_still_active_is_joined(bot: Bot) -> None:
    hold, tavus = _Hold(), _FakeTavus(status="active")
    async with hosting(bot, backend=_TakenOver(hold), tavus=tavus) as running:  # type: ignore[arg-type]
        await eventually(lambda: running.rooms.joined("conv-1"))
        assert tavus.gets == ["conv-1"]


async def test_a_create_job_creates_the_conversation_then_joins_it(bot: Bot) -> None:
    tavus = _FakeTavus()
    async with hosting(bot, tavus=tavus) as running:
        from cvibot.serve._backend import Job

        await running.backend.enqueue(
            Job("create-1", "", source="create", create={"persona_id": "p1"})
        )
        await eventually(lambda: running.rooms.joined("tavus-42"))
        assert tavus.created == [{"persona_id": "p1"}]
        assert running.host.notes("create-1") == {
            "tavus_conversation_id": "tavus-42",
            "conversation_url": "https://tavus.daily.co/tavus-42",
        }


async def test_a_create_job_without_a_tavus_client_fails(bot: Bot) -> None:
    async with hosting(bot) as running:
        from cvibot.serve._backend import Job

        await running.backend.enqueue(Job("create-1", "", create={"persona_id": "p1"}))
        await _settled(running.backend, "create-1")
        failed = await record(running.backend, "create-1")
        assert failed.state == "failed" and "Tavus API key" in (failed.reason or "")


async def test_a_join_that_fails_records_the_conversation_failed(bot: Bot) -> None:
    rooms = Rooms(join_outcome="unreachable")
    async with hosting(bot, rooms=rooms) as running:
        await running.backend.enqueue(job("conv-1"))
        await _settled(running.backend, "conv-1")
        failed = await record(running.backend, "conv-1")
        assert failed.state == "failed" and failed.reason


class _Greedy:
    """A backend with many jobs queued that hands them all out at once, ignoring the
    host's free slots, and records what is given back."""

    name = "greedy"

    def __init__(self, count: int) -> None:
        self.count = count
        self.holds: dict[str, _Hold] = {}
        self._drained = asyncio.Event()

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def jobs(self, slots: Any) -> Any:
        for n in range(self.count):
            hold = self.holds[f"q{n}"] = _Hold()
            yield job(f"q{n}"), hold
        await self._drained.wait()

    def drain(self) -> None:
        self._drained.set()


async def test_capacity_holds_even_when_a_backend_hands_out_too_many(bot: Bot) -> None:
    backend = _Greedy(20)
    async with hosting(bot, backend=backend, capacity=3) as running:  # type: ignore[arg-type]
        host, rooms = running.host, running.rooms
        await eventually(lambda: len(backend.holds) == 20)
        assert host.active == 3
        await eventually(lambda: sum(rooms.joined(f"q{n}") for n in range(20)) == 3)
        released = [cid for cid, hold in backend.holds.items() if hold.calls == ["release"]]
        assert len(released) == 17 and len(rooms.sdk.clients) == 3
