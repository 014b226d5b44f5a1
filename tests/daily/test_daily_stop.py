"""The bot leaving (SIGINT/SIGTERM) while the network is down: no rejoin keeps it waiting."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from daily_helpers import MakeTransport, RecordingReceiver, eventually, running

from cvibot.transports._base import TransportError
from cvibot.transports._daily import ConnectionLost, ReconnectPolicy
from doubles.fake_daily import FakeDaily

# A rejoin that would go on for a long time: joins that never complete, each waited for
# 30 s, five times. Only stop_rejoining can end it within the tests' timeouts.
LONG_REJOIN = ReconnectPolicy(max_attempts=5, initial_backoff=0.01, max_backoff=0.05)


async def test_stop_rejoining_cancels_a_rejoin_in_progress(
    fake: FakeDaily, make_transport: MakeTransport, logs: list[dict[str, Any]]
) -> None:
    fake.client_options.update(join_outcomes=["ok"], join_outcome="hang")
    transport = make_transport(join_timeout=30, reconnect=LONG_REJOIN, release_timeout=0.2)
    receiver = RecordingReceiver()
    task = await running(transport, receiver)
    client = fake.client
    client.drop_network()
    await eventually(lambda: len(client.joins) == 2)  # the rejoin's join, hanging
    held = asyncio.create_task(transport.send({"answer": 1}))
    await asyncio.sleep(0.01)
    assert not held.done()  # held for the rejoin

    transport.stop_rejoining()
    await asyncio.wait_for(task, 2)  # run() returns: not a ConnectionLost
    with pytest.raises(TransportError, match=r"left \S+ while disconnected") as caught:
        await asyncio.wait_for(held, 2)
    assert not isinstance(caught.value, ConnectionLost)
    with pytest.raises(TransportError, match="while disconnected"):
        await transport.send({"answer": 2})
    await asyncio.wait_for(transport.close(), 2)

    assert len(client.joins) == 2 and client.sent == []
    events = [entry["event"] for entry in logs]
    assert "not rejoining the room: the bot is leaving" in events
    assert "giving up on the room" not in events


async def test_a_drop_after_stop_rejoining_is_not_rejoined(
    fake: FakeDaily, make_transport: MakeTransport
) -> None:
    fake.client_options.update(join_outcome="ok")
    transport = make_transport(reconnect=LONG_REJOIN)
    receiver = RecordingReceiver()
    task = await running(transport, receiver)
    client = fake.client

    transport.stop_rejoining()
    await transport.send({"still": "joined"})  # leaving, not gone: answers go out
    assert not task.done()
    client.drop_network()
    await asyncio.wait_for(task, 2)
    await asyncio.sleep(0.05)

    assert len(client.joins) == 1
    assert client.sent == [({"still": "joined"}, None)]
    transport.stop_rejoining()  # idempotent
    await transport.close()
    assert client.released
