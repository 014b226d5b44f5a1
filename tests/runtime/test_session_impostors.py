"""One replica, sticky: renamed humans, late markers and senderless messages are refused."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from runtime_helpers import MakeHarness, tool_call, tool_result

from cvibot import tool
from cvibot._participants import Participant, ReplicaRule, TrustPolicy
from cvibot.transports._daily.transport import DailyTransport
from cvibot.transports._memory import MemoryTransport
from cvibot.transports._recording import RecordingTransport
from cvibot.transports._replay import ReplayTransport

REPLICA = Participant(id="0b6c1f0e-r", user_id="tavus-replica-r1", user_name="Anna")
HUMAN = Participant(id="3b0c9e4a-h", user_id="3b0c9e4a-h", user_name="Dana")


@tool
def lookup(order_id: str) -> str:
    """Look up an order."""
    return f"order {order_id} shipped"


class LiveTransport(MemoryTransport):
    """A memory transport that, like Daily, identifies every sender."""

    identifies_senders = True


def warnings(logs: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    return [e for e in logs if e["event"] == event and e["log_level"] == "warning"]


async def test_a_human_renamed_to_a_configured_user_name_is_not_trusted(
    make_harness: MakeHarness,
) -> None:
    # Before, a configured user name alone made its holder the replica.
    h = make_harness(lookup, trust=TrustPolicy(replica=ReplicaRule(user_names=("Anna",))))
    h.session.on_participant("joined", HUMAN)
    h.session.on_participant("updated", Participant(HUMAN.id, user_name="Anna"))
    h.session.on_message(tool_call("lookup", {"order_id": "A"}, tcid="t1"), HUMAN.id)
    # Even with no replica in the room yet, and after the real replica joined.
    h.session.on_participant("joined", REPLICA)
    h.session.on_message(tool_call("lookup", {"order_id": "B"}, tcid="t2"), HUMAN.id)
    h.session.on_message(tool_call("lookup", {"order_id": "C"}, tcid="t3"), REPLICA.id)
    await asyncio.wait_for(h.session.settled(), 5)
    assert h.sent == [tool_result("t3", "order C shipped")]
    assert h.session.stats.drops["untrusted_sender"] == 2


async def test_a_human_joining_under_the_persona_name_is_not_trusted(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(lookup, trust=TrustPolicy(replica=ReplicaRule(user_names=("Anna",))))
    h.session.on_participant("joined", Participant("h2", user_id="h2", user_name="Anna"))
    h.session.on_message(tool_call("lookup", {"order_id": "A"}, tcid="t1"), "h2")
    await asyncio.wait_for(h.session.settled(), 5)
    assert h.sent == []
    assert not h.session.ready.is_set()


async def test_a_participant_whose_user_id_takes_the_marker_later_is_an_impostor(
    make_harness: MakeHarness, logs: list[dict[str, Any]]
) -> None:
    # Before, the changed user_id made the human a second trusted replica.
    h = make_harness(lookup)
    h.session.on_participant("joined", REPLICA)
    h.session.on_participant("joined", HUMAN)
    h.session.on_participant("updated", Participant(HUMAN.id, user_id="tavus-replica-x"))
    h.session.on_message(tool_call("lookup", {"order_id": "A"}, tcid="t1"), HUMAN.id)
    await asyncio.wait_for(h.session.settled(), 5)
    assert h.sent == []
    assert h.session.stats.drops["untrusted_sender"] == 1
    [warning] = warnings(logs, "impostor replica refused: not trusted")
    assert HUMAN.id in warning["participant"] and "tavus-replica-x" in warning["participant"]
    assert warning["why"] == "another participant is the replica"
    assert REPLICA.id in warning["replica"]
    assert h.session.roster.replica_id == REPLICA.id


async def test_the_marker_taken_after_joining_is_refused_even_without_a_replica(
    make_harness: MakeHarness, logs: list[dict[str, Any]]
) -> None:
    h = make_harness(lookup)
    h.session.on_participant("joined", HUMAN)
    h.session.on_participant("updated", Participant(HUMAN.id, user_id="tavus-replica-x"))
    h.session.on_message(tool_call("lookup", {"order_id": "A"}, tcid="t1"), HUMAN.id)
    await asyncio.wait_for(h.session.settled(), 5)
    assert h.sent == [] and not h.session.ready.is_set()
    [warning] = warnings(logs, "impostor replica refused: not trusted")
    assert warning["why"] == "it came to match the replica rule after it joined"
    assert warning["replica"] is None


async def test_a_second_participant_with_the_marker_is_an_impostor(
    make_harness: MakeHarness, logs: list[dict[str, Any]]
) -> None:
    h = make_harness(lookup)
    second = Participant("p2", user_id="tavus-replica-r2")
    h.session.on_participant("joined", REPLICA)
    h.session.on_participant("joined", second)
    h.session.on_message(tool_call("lookup", {"order_id": "A"}, tcid="t1"), "p2")
    # When the replica leaves, the conversation ends; the impostor is never promoted.
    h.session.on_participant("left", REPLICA, "leftCall")
    assert h.session.ended.is_set() and h.session.shutdown_reason == "replica_left"
    assert not h.session.roster.is_replica("p2")
    await asyncio.wait_for(h.session.settled(), 5)
    assert h.sent == []
    assert len(warnings(logs, "impostor replica refused: not trusted")) == 1


async def test_a_demoted_replica_is_logged(
    make_harness: MakeHarness, logs: list[dict[str, Any]]
) -> None:
    h = make_harness(lookup)
    h.session.on_participant("joined", REPLICA)
    h.session.on_participant("updated", Participant(REPLICA.id, user_id="someone-else"))
    [warning] = warnings(logs, "replica no longer matches the replica rule: not trusted any more")
    assert REPLICA.id in warning["participant"]


async def test_a_senderless_message_on_a_live_transport_is_dropped(
    make_harness: MakeHarness, logs: list[dict[str, Any]]
) -> None:
    # Before, a message without a sender was trusted whatever the transport.
    h = make_harness(lookup)
    h.session.transport = LiveTransport()
    h.session.on_participant("joined", REPLICA)
    h.session.on_message(tool_call("lookup", {"order_id": "A"}, tcid="t1", seq=1))
    h.session.on_message(tool_call("lookup", {"order_id": "B"}, tcid="t2", seq=2), "stranger")
    h.session.on_message(tool_call("lookup", {"order_id": "C"}, tcid="t3", seq=3), REPLICA.id)
    await asyncio.wait_for(h.session.settled(), 5)
    assert h.session.transport.sent == [tool_result("t3", "order C shipped")]
    assert h.session.stats.drops["untrusted_sender"] == 2
    senders = [e["sender"] for e in warnings(logs, "message from untrusted sender dropped")]
    assert senders == ["<no sender>", "stranger"]


async def test_senderless_messages_stay_trusted_where_senders_are_not_identified(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(lookup)
    sent = await h.run(tool_call("lookup", {"order_id": "A"}, tcid="t1"))
    assert sent == [tool_result("t1", "order A shipped")]
    # And with trust.senders: any, even on a live transport.
    h = make_harness(lookup, trust=TrustPolicy(senders="any"))
    h.session.transport = LiveTransport()
    h.session.on_message(tool_call("lookup", {"order_id": "B"}, tcid="t2"))
    await asyncio.wait_for(h.session.settled(), 5)
    assert h.session.transport.sent == [tool_result("t2", "order B shipped")]


def test_which_transports_identify_senders(tmp_path: Path) -> None:
    daily = DailyTransport("https://tavus.daily.co/c1", sdk=object())
    assert DailyTransport.identifies_senders is True
    assert MemoryTransport.identifies_senders is False
    assert ReplayTransport.identifies_senders is False
    # A recording keeps the rule of what it records.
    assert RecordingTransport(daily, tmp_path / "r.jsonl").identifies_senders is True
    assert RecordingTransport(MemoryTransport(), tmp_path / "m.jsonl").identifies_senders is False
