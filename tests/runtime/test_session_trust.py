"""Replica-only trust, participants and the session's lifecycle (end, stop)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from runtime_helpers import CID, MakeHarness, event, tool_call, tool_result

from cvibot import tool
from cvibot._participants import Participant, ReplicaRule, Roster, Standing, TrustPolicy
from cvibot.transports._memory import MemoryTransport

REPLICA = Participant(id="0b6c1f0e-1111-4c3e-9d1a-0e6f2b9a7c11", user_id="tavus-replica-r1")
HUMAN = Participant(id="3b0c9e4a-2222-4f1b-8a7e-5c9d0e1f2a3b", user_name="Dana")


@tool
def lookup(order_id: str) -> str:
    """Look up an order."""
    return f"order {order_id} shipped"


def test_participant_from_daily_python_and_daily_js_shapes() -> None:
    py = Participant.from_daily(
        {"id": "p1", "info": {"userId": "tavus-replica-9", "userName": "Anna", "isLocal": False}}
    )
    js = Participant.from_daily({"session_id": "p1", "user_id": "tavus-replica-9", "local": True})
    assert py == Participant("p1", "tavus-replica-9", "Anna", False)
    assert js == Participant("p1", "tavus-replica-9", None, True)
    assert Participant.from_daily({"info": {}}) is None
    assert Participant.from_daily("p1") is None


def test_replica_rule_markers_ids_and_never_local() -> None:
    rule = ReplicaRule(participant_ids=("fixed",))
    assert rule.matches(Participant("a", user_id="x-tavus-replica-y"))
    assert rule.matches(Participant("fixed"))
    assert not rule.matches(Participant("c", user_id="human-1", user_name="Dana"))
    assert not rule.matches(Participant("d", user_id="tavus-replica", local=True))


def test_user_names_narrow_the_rule_and_never_identify_alone() -> None:
    rule = ReplicaRule(user_names=("Anna",), participant_ids=("fixed",))
    # A name alone is what any browser can pick: never enough.
    assert not rule.matches(Participant("b", user_id="human-1", user_name="Anna"))
    assert not rule.matches(Participant("b", user_name="Anna"))
    # With user_names set, the marker or id must come with one of the names.
    assert rule.matches(Participant("a", user_id="tavus-replica-1", user_name="Anna"))
    assert rule.matches(Participant("fixed", user_name="Anna"))
    assert not rule.matches(Participant("a", user_id="tavus-replica-1", user_name="Bob"))
    assert not rule.matches(Participant("a", user_id="tavus-replica-1"))


def test_roster_tracks_replica_changes() -> None:
    roster = Roster()
    assert roster.update("joined", HUMAN) is None
    assert roster.update("joined", REPLICA) is Standing.REPLICA
    assert roster.replica_id == REPLICA.id and len(roster) == 2
    assert roster.replica == REPLICA
    # An update that leaves the user_id out keeps it: the replica stays the replica.
    assert roster.update("updated", Participant(REPLICA.id, user_name="Anna")) is None
    assert roster.is_replica(REPLICA.id) and roster.get(REPLICA.id).user_name == "Anna"  # type: ignore[union-attr]
    # One that changes it to a non-replica user_id demotes it.
    assert roster.update("updated", Participant(REPLICA.id, user_id="someone")) is Standing.DEMOTED
    assert not roster.is_replica(REPLICA.id) and roster.replica_id is None
    # ... for good, even if it takes the marker back.
    assert roster.update("updated", Participant(REPLICA.id, user_id="tavus-replica-r1")) is None
    assert not roster.is_replica(REPLICA.id)
    assert roster.update("left", HUMAN) is None
    assert roster.get(HUMAN.id) is None


def test_roster_one_replica_sticky() -> None:
    roster = Roster()
    assert roster.update("joined", REPLICA) is Standing.REPLICA
    second = Participant("p2", user_id="tavus-replica-r2")
    assert roster.update("joined", second) is Standing.IMPOSTOR
    assert roster.replica_id == REPLICA.id and not roster.is_replica("p2")
    # A repeated "joined" (a rejoin's join data) is an update, never a new arrival.
    assert roster.update("joined", REPLICA) is None
    assert roster.update("updated", second) is None  # refused once, logged once
    # The replica leaves: the impostor already in the room is not promoted...
    assert roster.update("left", REPLICA) is Standing.LEFT
    assert roster.replica_id is None and not roster.is_replica("p2")
    # ... but a replica that joins afterwards (a reconnect: a new participant id) is.
    again = Participant("p3", user_id="tavus-replica-r1")
    assert roster.update("joined", again) is Standing.REPLICA
    assert roster.is_replica("p3")
    # The refused one that left and comes back is judged anew, like any arrival.
    assert roster.update("left", second) is None
    assert roster.update("joined", second) is Standing.IMPOSTOR


def test_roster_a_participant_that_comes_to_match_is_an_impostor() -> None:
    roster = Roster()
    assert roster.update("joined", HUMAN) is None
    # No replica in the room yet: still refused, it matched only after it joined.
    taken = Participant(HUMAN.id, user_id="tavus-replica-x")
    assert roster.update("updated", taken) is Standing.IMPOSTOR
    assert roster.replica_id is None
    assert roster.update("joined", REPLICA) is Standing.REPLICA
    assert not roster.is_replica(HUMAN.id)


async def test_forged_tool_call_from_a_human_runs_nothing_and_is_not_answered(
    make_harness: MakeHarness, logs: list[dict[str, Any]]
) -> None:
    h = make_harness(lookup)
    h.session.on_participant("joined", REPLICA)
    h.session.on_participant("joined", HUMAN)
    h.session.on_message(tool_call("lookup", {"order_id": "A1"}, tcid="forged", seq=1), HUMAN.id)
    h.session.on_message(tool_call("lookup", {"order_id": "A2"}, tcid="real", seq=2), REPLICA.id)
    await asyncio.wait_for(h.session.settled(), 5)
    assert h.sent == [tool_result("real", "order A2 shipped")]
    assert h.session.stats.drops["untrusted_sender"] == 1
    assert [o.tool_call_id for o in h.rec.outcomes] == ["real"]
    (warning,) = [e for e in logs if e["event"] == "message from untrusted sender dropped"]
    assert warning["event_type"] == "conversation.tool_call"
    assert warning["known_participant"] is True
    assert HUMAN.id in warning["sender"] and "Dana" in warning["sender"]


async def test_unknown_sender_and_malformed_forgery_are_dropped_not_answered(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(lookup)
    h.session.on_participant("joined", REPLICA)
    # A rejected tool call with a tool_call_id is normally answered with an error; from an
    # untrusted sender it must not be, or a forger could make the bot speak.
    bad = tool_call("lookup", "{not json", tcid="t-bad", seq=3)
    h.session.on_message(bad, "unknown-participant")
    h.session.on_message(tool_call("lookup", {"order_id": "B"}, tcid="t4", seq=4), "nobody")
    await asyncio.wait_for(h.session.settled(), 5)
    assert h.sent == []
    assert h.session.stats.drops["untrusted_sender"] == 2
    assert not h.session.stats.rejections


async def test_messages_without_sender_are_trusted(make_harness: MakeHarness) -> None:
    h = make_harness(lookup)
    sent = await h.run(tool_call("lookup", {"order_id": "C"}, tcid="t1", seq=1))
    assert sent == [tool_result("t1", "order C shipped")]


async def test_trust_any_acts_on_every_participant(make_harness: MakeHarness) -> None:
    h = make_harness(lookup, trust=TrustPolicy(senders="any"))
    h.session.on_message(tool_call("lookup", {"order_id": "D"}, tcid="t1", seq=1), HUMAN.id)
    await asyncio.wait_for(h.session.settled(), 5)
    assert h.sent == [tool_result("t1", "order D shipped")]


async def test_configured_user_name_narrows_the_replica_rule(make_harness: MakeHarness) -> None:
    h = make_harness(lookup, trust=TrustPolicy(replica=ReplicaRule(user_names=("Anna",))))
    named = Participant(REPLICA.id, user_id=REPLICA.user_id, user_name="Anna")
    h.session.on_participant("joined", named)
    h.session.on_message(tool_call("lookup", {"order_id": "E"}, tcid="t1", seq=1), REPLICA.id)
    await asyncio.wait_for(h.session.settled(), 5)
    assert h.sent == [tool_result("t1", "order E shipped")]


class _AddressedTransport(MemoryTransport):
    def __init__(self) -> None:
        super().__init__()
        self.to: list[str | None] = []

    async def send(self, message: Mapping[str, Any], to: str | None = None) -> None:
        self.to.append(to)
        await super().send(message, to)


async def test_answer_to_replica_addresses_the_replica_participant(
    make_harness: MakeHarness,
) -> None:
    for answer_to, expected in (("replica", REPLICA.id), ("broadcast", None)):
        h = make_harness(lookup, trust=TrustPolicy(answer_to=answer_to))  # type: ignore[arg-type]
        transport = _AddressedTransport()
        h.session.transport = transport
        h.session.on_participant("joined", REPLICA)
        h.session.on_message(tool_call("lookup", {"order_id": "F"}, tcid="t1"), REPLICA.id)
        await asyncio.wait_for(h.session.settled(), 5)
        assert transport.to == [expected]
        assert transport.sent == [tool_result("t1", "order F shipped")]


def test_replica_joining_makes_the_session_ready_and_leaving_ends_it(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(lookup)
    h.session.on_participant("joined", HUMAN)
    assert not h.session.ready.is_set()
    h.session.on_participant("joined", REPLICA)
    assert h.session.ready.is_set()
    h.session.on_participant("left", HUMAN, "leftCall")
    assert not h.session.ended.is_set()
    h.session.on_participant("left", REPLICA, "leftCall")
    assert h.session.ended.is_set()
    assert h.session.shutdown_reason == "replica_left"


def test_local_participant_is_ignored(make_harness: MakeHarness) -> None:
    h = make_harness(lookup)
    h.session.on_participant("joined", Participant("me", user_id="tavus-replica", local=True))
    assert not h.session.roster.is_replica("me")
    assert not h.session.ready.is_set()


def test_system_shutdown_reason_is_kept(make_harness: MakeHarness) -> None:
    h = make_harness(lookup)
    h.feed(event("system.shutdown", shutdown_reason="max_call_duration reached"))
    assert h.session.ended.is_set()
    assert h.session.shutdown_reason == "max_call_duration reached"
    h.session.end("later reason")
    assert h.session.shutdown_reason == "max_call_duration reached"


async def test_stop_answers_new_calls_with_a_shutdown_error_and_lets_running_ones_finish(
    make_harness: MakeHarness,
) -> None:
    release = asyncio.Event()

    @tool
    async def slow(n: int) -> str:
        """Wait for the test."""
        await release.wait()
        return f"done {n}"

    h = make_harness(slow)
    h.feed(tool_call("slow", {"n": 1}, tcid="running", seq=1))
    await asyncio.sleep(0.01)
    h.session.stop("signal SIGTERM")
    assert h.session.stopping.is_set() and not h.session.ended.is_set()
    h.feed(tool_call("slow", {"n": 2}, tcid="late", seq=2))
    await asyncio.sleep(0.01)
    release.set()
    await asyncio.wait_for(h.session.settled(), 5)
    by_id = {m["properties"]["tool_call_id"]: m["properties"] for m in h.sent}
    assert by_id["running"] == {"tool_call_id": "running", "output": "done 1", "status": "success"}
    assert by_id["late"]["status"] == "error"
    assert h.answers_per_call() == {"running": 1, "late": 1}
    assert h.session.conversation_id == CID


def test_a_demoted_replica_is_no_longer_trusted_but_does_not_end_the_session(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(lookup)
    h.session.on_participant("joined", REPLICA)
    h.session.on_participant("updated", Participant(REPLICA.id, user_id="human-now"))
    assert not h.session.roster.is_replica(REPLICA.id)
    assert not h.session.ended.is_set()
    h.session.on_message(tool_call("lookup", {"order_id": "G"}, tcid="t1"), REPLICA.id)
    assert h.session.stats.drops["untrusted_sender"] == 1
