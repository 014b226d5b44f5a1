"""Every step after a message arrives is guarded: an exception still ends in one answer."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runtime_helpers import MakeHarness, Recorder, spec_of, tool_call, tool_result

from cvibot import tool
from cvibot._dispatch import DispatchPolicy, ErrorKind, OutcomeKind, ToolOutcome
from cvibot._participants import Participant, ParticipantChange
from cvibot._protocol.events import Event, ToolCall
from cvibot._protocol.parse import Rejection
from cvibot._session import Session
from cvibot.tools import ToolRegistry
from cvibot.transports._memory import MemoryTransport

REPLICA = Participant(id="replica-1", user_id="tavus-replica-r1")


@tool
async def lookup(order_id: str) -> str:
    """Look up an order."""
    return f"order {order_id} shipped"


class Boom(RuntimeError):
    pass


class FailingListener(Recorder):
    """Raises in the hooks named in ``fail`` for tool calls whose id is in ``ids``."""

    def __init__(self, *fail: str, ids: tuple[str, ...] = ("bad",)) -> None:
        super().__init__()
        self.fail = set(fail)
        self.ids = ids

    def on_event(self, event: Event, *, late: bool) -> None:
        if "event" in self.fail and isinstance(event, ToolCall) and event.tool_call_id in self.ids:
            raise Boom("listener broke on the event")

    def on_rejection(self, rejection: Rejection) -> None:
        if "rejection" in self.fail:
            raise Boom("listener broke on the rejection")

    def on_drop(self, event: Event, reason: Any) -> None:
        if "drop" in self.fail:
            raise Boom("listener broke on the drop")

    def on_untrusted(self, message: Any, sender: str) -> None:
        if "untrusted" in self.fail:
            raise Boom("listener broke on the forgery")

    def on_sent(self, message: Mapping[str, Any]) -> None:
        if "sent" in self.fail:
            raise Boom("listener broke on the send")

    def on_outcome(self, outcome: ToolOutcome) -> None:
        if "outcome" in self.fail:
            raise Boom("listener broke on the outcome")

    def on_participant(
        self, change: ParticipantChange, participant: Participant, *, replica: bool
    ) -> None:
        if "participant" in self.fail:
            raise Boom("listener broke on the participant")


def failures(logs: list[dict[str, Any]], event: str = "message handling failed") -> list[Any]:
    return [e for e in logs if e["event"] == event]


async def test_a_listener_that_raises_still_ends_in_one_error_answer(
    make_harness: MakeHarness, logs: list[dict[str, Any]]
) -> None:
    h = make_harness(lookup, listeners=(FailingListener("event"),))
    h.session.on_message(tool_call("lookup", {"order_id": "A"}, tcid="bad", seq=1))
    h.session.on_message(tool_call("lookup", {"order_id": "B"}, tcid="next", seq=2))
    await asyncio.wait_for(h.session.settled(), 5)
    assert h.answers_per_call() == Counter(bad=1, next=1)
    by_id = {m["properties"]["tool_call_id"]: m for m in h.sent}
    assert by_id["bad"] == tool_result("bad", "lookup failed with an internal error", "error")
    assert by_id["next"] == tool_result("next", "order B shipped")
    outcome = h.rec.outcome("bad")
    assert (outcome.kind, outcome.error) == (OutcomeKind.ERROR, ErrorKind.EXCEPTION)
    assert h.session.stats.failures == Counter(message=1)
    [entry] = failures(logs)
    assert entry["reason"] == "Boom: listener broke on the event"
    assert entry["tool_call_id"] == "bad"
    assert isinstance(entry["exc_info"], Boom)
    # The handler never ran for the failed call, and a redelivery is not answered again.
    await h.run(tool_call("lookup", {"order_id": "A"}, tcid="bad", seq=3))
    assert h.answers_per_call() == Counter(bad=1, next=1)


async def test_a_plugin_observer_that_raises_does_not_lose_the_call(
    make_harness: MakeHarness, logs: list[dict[str, Any]]
) -> None:
    def observer(event: Event, session: Any) -> None:
        raise Boom("observer broke")

    async def async_observer(event: Event, session: Any) -> None:
        raise Boom("async observer broke")

    h = make_harness(lookup, event_observers=(observer, async_observer))
    await h.run(
        tool_call("lookup", {"order_id": "A"}, tcid="t1", seq=1),
        tool_call("lookup", {"order_id": "B"}, tcid="t2", seq=2),
    )
    assert h.sent == [tool_result("t1", "order A shipped"), tool_result("t2", "order B shipped")]
    assert len([e for e in logs if e["event"] == "plugin observer raised"]) == 4


async def test_an_internal_step_that_raises_still_ends_in_one_error_answer(
    make_harness: MakeHarness, monkeypatch: pytest.MonkeyPatch, logs: list[dict[str, Any]]
) -> None:
    h = make_harness(lookup)
    real = h.session.dispatcher.dispatch

    def dispatch(call: ToolCall, arrived: float) -> None:
        if call.tool_call_id == "bad":
            raise Boom("intake broke")
        real(call, arrived)

    monkeypatch.setattr(h.session.dispatcher, "dispatch", dispatch)
    await h.run(
        tool_call("lookup", {"order_id": "A"}, tcid="bad", seq=1),
        tool_call("lookup", {"order_id": "B"}, tcid="next", seq=2),
    )
    assert h.answers_per_call() == Counter(bad=1, next=1)
    assert h.rec.outcome("bad").error is ErrorKind.EXCEPTION
    assert failures(logs)[0]["reason"] == "Boom: intake broke"


async def test_a_step_that_raises_after_the_dispatcher_took_the_call_answers_once(
    make_harness: MakeHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = make_harness(lookup)
    real = h.session.dispatcher.dispatch

    def dispatch(call: ToolCall, arrived: float) -> None:
        real(call, arrived)
        raise Boom("broke after accepting")

    monkeypatch.setattr(h.session.dispatcher, "dispatch", dispatch)
    await h.run(tool_call("lookup", {"order_id": "A"}, tcid="t1", seq=1))
    assert h.sent == [tool_result("t1", "order A shipped")]
    assert h.session.stats.failures == Counter(message=1)


async def test_a_parser_that_raises_still_answers_a_trusted_call(
    make_harness: MakeHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    def parse_event(message: Any) -> Any:
        raise Boom("parser broke")

    h = make_harness(lookup)
    monkeypatch.setattr("cvibot._session.parse_event", parse_event)
    call = tool_call("lookup", {"order_id": "A"}, tcid="t1", seq=1)
    perception = tool_call(
        "saw", "{}", tcid="p1", seq=2, event_type="conversation.perception_tool_call"
    )
    other = tool_call("lookup", {"order_id": "A"}, tcid="t2", seq=3, cid="elsewhere")
    await h.run(call, call, perception, other, '{"event_type": "conversation.tool_call"', [1])
    # One answer for t1 (the redelivery is a duplicate), the perception call in its
    # reply mode (none: nothing sent), nothing for another conversation's call.
    assert h.sent == [tool_result("t1", "lookup failed with an internal error", "error")]
    assert h.outcomes_per_call() == Counter(t1=1, p1=1)
    assert h.session.stats.failures == Counter(message=6)


async def test_a_rejection_listener_that_raises_still_answers_the_rejected_call(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(lookup, listeners=(FailingListener("rejection"),))
    await h.run(
        tool_call("lookup", "{not json", tcid="t1", seq=1),
        tool_call("lookup", "{not json", tcid="t1", seq=2),
        tool_call("lookup", {"order_id": "B"}, tcid="t2", seq=3),
    )
    assert h.answers_per_call() == Counter(t1=1, t2=1)
    assert h.sent[0]["properties"]["status"] == "error"


async def test_a_failure_on_the_untrusted_or_drop_path_answers_nothing(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(lookup, listeners=(FailingListener("untrusted", "drop"),))
    h.session.on_participant("joined", REPLICA)
    h.session.on_message(tool_call("lookup", {"order_id": "A"}, tcid="forged"), "human-1")
    h.session.on_message(tool_call("lookup", {"order_id": "B"}, tcid="t1", seq=1), REPLICA.id)
    h.session.on_message(tool_call("lookup", {"order_id": "B"}, tcid="t1", seq=2), REPLICA.id)
    await asyncio.wait_for(h.session.settled(), 5)
    assert h.sent == [tool_result("t1", "order B shipped")]
    assert h.session.stats.failures == Counter(message=2)


async def test_listeners_of_sends_and_outcomes_that_raise_lose_nothing(
    make_harness: MakeHarness, logs: list[dict[str, Any]]
) -> None:
    listener = FailingListener("sent", "outcome")
    seen: list[ToolOutcome] = []

    def outcome_observer(outcome: ToolOutcome, session: Any) -> None:
        seen.append(outcome)

    h = make_harness(lookup, listeners=(listener,), outcome_observers=(outcome_observer,))
    await h.run(
        tool_call("lookup", {"order_id": "A"}, tcid="t1", seq=1),
        tool_call("lookup", {"order_id": "B"}, tcid="t2", seq=2),
    )
    assert h.answers_per_call() == Counter(t1=1, t2=1)
    # The answers went out: the recorder (listed first) saw them as sent, not failed.
    assert [o.answer is not None for o in h.rec.outcomes] == [True, True]
    assert [o.tool_call_id for o in seen] == ["t1", "t2"]
    assert h.session.stats.failures == Counter(sent=2, outcome=2)
    assert not [e for e in logs if e["event"] == "answer could not be sent"]


async def test_a_participant_listener_that_raises_is_contained(
    make_harness: MakeHarness, logs: list[dict[str, Any]]
) -> None:
    h = make_harness(lookup, listeners=(FailingListener("participant"),))
    h.session.on_participant("joined", REPLICA)
    assert h.session.roster.is_replica(REPLICA.id)
    assert h.session.ready.is_set()
    assert h.session.stats.failures == Counter(participant=1)
    assert failures(logs, "participant handling failed")
    h.session.on_message(tool_call("lookup", {"order_id": "A"}, tcid="t1"), REPLICA.id)
    await asyncio.wait_for(h.session.settled(), 5)
    assert h.sent == [tool_result("t1", "order A shipped")]


async def test_a_participant_step_that_raises_is_contained(
    make_harness: MakeHarness, monkeypatch: pytest.MonkeyPatch, logs: list[dict[str, Any]]
) -> None:
    h = make_harness(lookup)

    def update(self: Any, change: ParticipantChange, participant: Participant) -> None:
        raise Boom("roster broke")

    monkeypatch.setattr(type(h.session.roster), "update", update)
    h.session.on_participant("joined", REPLICA)  # does not raise
    assert h.session.stats.failures == Counter(participant=1)
    [entry] = failures(logs, "participant handling failed")
    assert (entry["reason"], entry["change"]) == ("Boom: roster broke", "joined")


class _RandomFailures(Recorder):
    """Raises in on_event / on_rejection / on_drop for the ids it was told to."""

    def __init__(self, failing: set[str]) -> None:
        super().__init__()
        self.failing = failing

    def _maybe(self, tcid: str | None) -> None:
        if tcid in self.failing:
            raise Boom(f"broke on {tcid}")

    def on_event(self, event: Event, *, late: bool) -> None:
        self._maybe(getattr(event, "tool_call_id", None))

    def on_rejection(self, rejection: Rejection) -> None:
        self._maybe(rejection.tool_call_id)

    def on_drop(self, event: Event, reason: Any) -> None:
        self._maybe(getattr(event, "tool_call_id", None))


async def _guarded(calls: list[tuple[int, int | None, bool]], failing: set[str]) -> None:
    ran = Counter[str]()

    @tool
    async def count(n: int) -> str:
        """Count a run."""
        ran[f"t{n}"] += 1
        return "ok"

    rec = _RandomFailures(failing)
    transport = MemoryTransport()
    with ThreadPoolExecutor(max_workers=2) as pool:
        session = Session(
            transport=transport,
            tools=ToolRegistry.build([spec_of(count)]),
            policy=DispatchPolicy(),
            executor=pool,
            conversation_id="c1",
            listeners=(rec,),
        )
        for n, seq, broken in calls:
            arguments: Any = "{broken" if broken else {"n": n}
            session.on_message(tool_call("count", arguments, tcid=f"t{n}", seq=seq))
        await asyncio.wait_for(session.settled(), 5)
    ids = {f"t{n}" for n, _, _ in calls}
    answers = Counter(m["properties"]["tool_call_id"] for m in transport.sent)
    assert answers == Counter(dict.fromkeys(ids, 1))
    assert Counter(o.tool_call_id for o in rec.outcomes) == answers
    assert all(runs == 1 for runs in ran.values())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    calls=st.lists(
        st.tuples(st.integers(0, 6), st.one_of(st.none(), st.integers(0, 3)), st.booleans()),
        min_size=1,
        max_size=16,
    ),
    failing=st.sets(st.sampled_from([f"t{n}" for n in range(7)])),
)
def test_whatever_raises_every_id_is_answered_exactly_once(
    calls: list[tuple[int, int | None, bool]], failing: set[str]
) -> None:
    with structlog.testing.capture_logs():
        asyncio.run(_guarded(calls, failing))
