"""Network drops (rejoin with backoff, or give up) and rooms that end."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from daily_helpers import MakeTransport, RecordingReceiver, eventually, running

from cvibot.transports._base import TransportError
from cvibot.transports._daily import ConnectionLost, ReconnectPolicy, RoomUnreachable
from doubles.fake_daily import FakeDaily, participant

ANNA = participant("Anna", "tavus-replica-r1")


async def test_a_drop_rejoins_and_delivers_each_message_once(
    fake: FakeDaily, make_transport: MakeTransport, logs: list[dict[str, Any]]
) -> None:
    fake.client_options.update(
        join_outcomes=["ok", "unreachable", "ok"], remote_participants=[ANNA]
    )
    transport = make_transport()
    receiver = RecordingReceiver()
    task = await running(transport, receiver)
    client = fake.client
    client.inject_app_message({"n": 1}, ANNA["id"])
    client.inject_app_message({"n": 2}, ANNA["id"])
    await receiver.wait_for(lambda r: len(r.messages) == 2)

    # A send issued just before the drop reaches the SDK after it (ChannelNotOpen):
    # it is sent again after the rejoin, once.
    gate = client.hold()
    client.drop_network()
    in_flight = asyncio.create_task(transport.send({"sent": "at the drop"}))
    await asyncio.sleep(0.005)
    gate.set()
    await eventually(lambda: len(client.joins) >= 2)
    during = asyncio.create_task(transport.send({"sent": "during the rejoin"}))
    await asyncio.wait_for(asyncio.gather(in_flight, during), 2)
    client.inject_app_message({"n": 3}, ANNA["id"])
    await receiver.wait_for(lambda r: len(r.messages) == 3)

    assert len(client.joins) == 3  # the first join, a failed rejoin, a good one
    assert receiver.messages == [{"n": 1}, {"n": 2}, {"n": 3}]
    # Anna was reported once: the rejoin's join data names her again, unchanged.
    assert receiver.participants == [("joined", ANNA["id"])]
    assert [m for m, _ in client.sent] == [{"sent": "at the drop"}, {"sent": "during the rejoin"}]
    assert not task.done()
    events = [entry["event"] for entry in logs]
    assert "lost the connection to the room" in events
    attempts = [entry["attempt"] for entry in logs if entry["event"] == "rejoining the room"]
    assert attempts == [1, 2]
    [rejoined] = [entry for entry in logs if entry["event"] == "rejoined the room"]
    assert rejoined["attempts"] == 2 and rejoined["downtime_ms"] > 0
    await transport.close()
    await task


async def test_a_drop_seen_only_in_the_network_status_leaves_before_rejoining(
    fake: FakeDaily, make_transport: MakeTransport
) -> None:
    fake.client_options.update(join_outcomes=["ok", "ok"])
    transport = make_transport()
    receiver = RecordingReceiver()
    task = await running(transport, receiver)
    client = fake.client

    client.drop_network(left=False)
    await eventually(lambda: len(client.joins) == 2 and client.joined)
    await transport.send({"after": "rejoin"})

    assert client.leave_calls == 1
    assert client.sent == [({"after": "rejoin"}, None)]
    await transport.close()
    await task


async def test_rejoin_gives_up_after_the_policy_attempts(
    fake: FakeDaily, make_transport: MakeTransport
) -> None:
    fake.client_options.update(join_outcomes=["ok"], join_outcome="unreachable")
    transport = make_transport()
    receiver = RecordingReceiver()
    task = await running(transport, receiver)
    client = fake.client

    started = time.monotonic()
    client.drop_network()
    await eventually(lambda: len(client.joins) >= 2)
    queued = asyncio.create_task(transport.send({"n": 1}))
    with pytest.raises(ConnectionLost) as caught:
        await asyncio.wait_for(task, 2)

    assert time.monotonic() - started < 1.5
    assert str(caught.value).startswith(
        "lost the connection to the room and could not rejoin after 3 attempts: "
        "the room https://tavus.daily.co/c0ffee could not be reached"
    )
    assert isinstance(caught.value, TransportError) and caught.value.attempts == 3
    assert isinstance(caught.value.last, RoomUnreachable)
    assert len(client.joins) == 4
    with pytest.raises(ConnectionLost):
        await queued
    with pytest.raises(ConnectionLost):
        await transport.send({"n": 2})
    assert client.sent == []


async def test_rejoins_wait_for_a_pending_join_instead_of_piling_up_joins(
    fake: FakeDaily, make_transport: MakeTransport
) -> None:
    fake.client_options.update(join_outcomes=["ok", "hang"])
    transport = make_transport(join_timeout=0.05, release_timeout=0.2)
    receiver = RecordingReceiver()
    task = await running(transport, receiver)

    fake.client.drop_network()
    with pytest.raises(ConnectionLost, match=r"after 3 attempts: the room \S+ could not"):
        await asyncio.wait_for(task, 2)

    assert len(fake.client.joins) == 2  # one rejoin join, waited for three times


async def test_rejoining_can_be_disabled(fake: FakeDaily, make_transport: MakeTransport) -> None:
    transport = make_transport(reconnect=ReconnectPolicy(enabled=False))
    receiver = RecordingReceiver()
    task = await running(transport, receiver)

    fake.client.drop_network()
    with pytest.raises(ConnectionLost, match=r"rejoining is disabled"):
        await asyncio.wait_for(task, 1)
    assert len(fake.client.joins) == 1


@pytest.mark.parametrize(
    "error_text",
    ["Meeting has ended", "You were ejected from the meeting", "MeetingEnded", "exp-room"],
)
async def test_a_room_that_ends_makes_run_return(
    fake: FakeDaily, make_transport: MakeTransport, error_text: str
) -> None:
    transport = make_transport()
    receiver = RecordingReceiver()
    task = await running(transport, receiver)
    fake.client.inject_app_message({"n": 1}, ANNA["id"])
    await receiver.wait_for(lambda r: len(r.messages) == 1)

    fake.client.end_room(error_text)
    await asyncio.wait_for(task, 1)  # returns normally

    assert len(fake.client.joins) == 1  # no rejoin
    with pytest.raises(TransportError, match="has ended"):
        await transport.send({"n": 2})
    await transport.close()
    assert fake.client.leave_calls == 0 and fake.client.released


async def test_a_room_end_reported_after_the_drop_stops_the_rejoin(
    fake: FakeDaily, make_transport: MakeTransport
) -> None:
    transport = make_transport(
        reconnect=ReconnectPolicy(max_attempts=3, initial_backoff=0.2, max_backoff=0.2)
    )
    receiver = RecordingReceiver()
    task = await running(transport, receiver)

    fake.client.drop_network()
    fake.client.inject_error("Error: room was deleted")
    await asyncio.wait_for(task, 1)

    assert len(fake.client.joins) == 1


async def test_a_rejoin_refused_because_the_room_is_over_ends_the_run(
    fake: FakeDaily, make_transport: MakeTransport
) -> None:
    fake.client_options.update(join_outcomes=["ok", "error:Room not found: no such room"])
    transport = make_transport()
    receiver = RecordingReceiver()
    task = await running(transport, receiver)

    fake.client.drop_network()
    await asyncio.wait_for(task, 1)

    assert len(fake.client.joins) == 2


async def test_close_during_a_rejoin_stops_it(
    fake: FakeDaily, make_transport: MakeTransport
) -> None:
    fake.client_options.update(join_outcomes=["ok"], join_outcome="hang")
    transport = make_transport(join_timeout=5, release_timeout=0.2)
    receiver = RecordingReceiver()
    task = await running(transport, receiver)
    fake.client.drop_network()
    await eventually(lambda: len(fake.client.joins) == 2)

    started = time.monotonic()
    await transport.close()
    await asyncio.wait_for(task, 1)

    assert time.monotonic() - started < 0.5
