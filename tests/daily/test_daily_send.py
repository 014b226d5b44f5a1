"""Sending: queued before the join, pre-checked, correlated whatever the completion order."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from daily_helpers import MakeTransport, eventually

from cvibot._protocol import ToolResult, encode_interaction
from cvibot.transports._base import TransportError
from cvibot.transports._daily import InvalidAppMessage, NotJoined, SendFailed
from cvibot.transports._daily import outbox as outbox_module
from cvibot.transports._daily.sdk_errors import send_error
from doubles.fake_daily import CHANNEL_NOT_OPEN, FakeDaily


async def test_sends_before_the_join_are_queued_and_flushed_in_order(
    fake: FakeDaily, make_transport: MakeTransport
) -> None:
    fake.client_options.update(join_delay=0.1)
    transport = make_transport()
    opening = asyncio.create_task(transport.open())
    await eventually(lambda: bool(fake.clients) and bool(fake.client.joins))

    sends = [asyncio.create_task(transport.send({"n": n})) for n in range(5)]
    await asyncio.sleep(0.03)
    assert fake.client.sent == []  # nothing goes out before the join
    assert not any(task.done() for task in sends)
    await opening
    await asyncio.wait_for(asyncio.gather(*sends), 1)

    assert fake.client.sent == [({"n": n}, None) for n in range(5)]
    # None was sent into a closed channel first.
    assert not any(name == "on_error" for name, _ in fake.client.callbacks)


async def test_out_of_order_completions_settle_their_own_sends(
    fake: FakeDaily, make_transport: MakeTransport
) -> None:
    def fail_odd(message: Any) -> str | None:
        return f"Boom({message['n']})" if message["n"] % 2 else None

    fake.client_options.update(shuffle_completions=True, seed=7, send_error=fail_odd)
    transport = make_transport()
    await transport.open()

    results = await asyncio.gather(
        *(transport.send({"n": n}) for n in range(40)), return_exceptions=True
    )

    order = fake.client.completion_order
    assert sorted(order) == list(range(20)) and order != sorted(order)  # really shuffled
    for n, result in enumerate(results):
        if n % 2:
            assert isinstance(result, SendFailed), (n, result)
            assert result.raw == f"Boom({n})"
        else:
            assert result is None, (n, result)
    assert [message["n"] for message, _ in fake.client.sent] == list(range(0, 40, 2))


async def test_addressed_sends_pass_the_participant_id(
    fake: FakeDaily, make_transport: MakeTransport
) -> None:
    transport = make_transport()
    await transport.open()
    replica = str(uuid.uuid4())

    await transport.send({"event_type": "conversation.echo", "tuple": (1, 2)}, to=replica)

    assert fake.client.sent == [({"event_type": "conversation.echo", "tuple": [1, 2]}, replica)]


@pytest.mark.parametrize(
    ("message", "to", "match"),
    [
        ({"x": float("nan")}, None, "not strict JSON"),
        ({"x": {1, 2}}, None, "not strict JSON"),
        ({"x": object()}, None, "not strict JSON"),
        ({"text": "é" * 2100}, None, "4211 bytes, over the limit of 4096 bytes"),
        (["not", "an", "object"], None, "JSON object"),
        ({"x": 1}, "nonexistent", "UUID"),
        ({"x": 1}, 123, "UUID"),
        ({"x": 1}, ["unhashable"], "UUID"),
    ],
)
async def test_send_prechecks_raise_one_clear_error(
    fake: FakeDaily, make_transport: MakeTransport, message: Any, to: Any, match: str
) -> None:
    transport = make_transport()
    await transport.open()

    with pytest.raises(InvalidAppMessage, match=match) as caught:
        await transport.send(message, to=to)

    assert isinstance(caught.value, ValueError) and isinstance(caught.value, TransportError)
    assert fake.client.sent == []


async def test_the_limit_is_exact_and_configurable(
    fake: FakeDaily, make_transport: MakeTransport
) -> None:
    transport = make_transport(message_limit=100)
    await transport.open()
    fits = {"t": "x" * (100 - len(json.dumps({"t": ""}, separators=(",", ":"))))}

    await transport.send(fits)
    with pytest.raises(InvalidAppMessage, match="101 bytes"):
        await transport.send({"t": fits["t"] + "y"})


async def test_a_message_the_sdk_refuses_synchronously(
    fake: FakeDaily, make_transport: MakeTransport
) -> None:
    transport = make_transport()
    await transport.open()

    with pytest.raises(InvalidAppMessage, match="refused"):
        await transport.send({"huge": 10**30}, to=None)  # the real SDK: "JSON number out of range"

    assert fake.client.sent == []


async def test_a_send_that_is_never_confirmed_times_out(
    fake: FakeDaily, make_transport: MakeTransport
) -> None:
    transport = make_transport(send_timeout=0.05)
    await transport.open()
    fake.client.shuffle_completions = True
    fake.client.linger = 0.5  # completions held back for 0.5 s

    with pytest.raises(SendFailed, match=r"within 0\.05 s"):
        await transport.send({"n": 1})


async def test_send_after_close_raises(fake: FakeDaily, make_transport: MakeTransport) -> None:
    transport = make_transport()
    await transport.open()
    await transport.close()

    with pytest.raises(TransportError, match="closed"):
        await transport.send({"n": 1})
    assert fake.client.sent == []


async def test_queued_sends_fail_when_the_transport_closes(
    fake: FakeDaily, make_transport: MakeTransport
) -> None:
    fake.client_options.update(join_outcome="hang")
    transport = make_transport(join_timeout=0.1, release_timeout=0.05)
    opening = asyncio.create_task(transport.open())
    await eventually(lambda: bool(fake.clients))
    queued = asyncio.create_task(transport.send({"n": 1}))

    with pytest.raises(TransportError, match="closed before the app-message was sent"):
        await queued
    with pytest.raises(TransportError):
        await opening


def test_send_error_strings_map_to_exceptions() -> None:
    not_joined = send_error(f"Error handling sendAppMessage: {CHANNEL_NOT_OPEN}")
    assert isinstance(not_joined, NotJoined) and not_joined.raw.endswith(CHANNEL_NOT_OPEN)
    assert "not in the room" in str(not_joined)
    other = send_error("AppMessage(TooLarge)")
    assert type(other) is SendFailed and str(other).endswith("AppMessage(TooLarge)")


async def test_an_encoded_answer_is_handed_on_without_encoding_it_again(
    fake: FakeDaily, make_transport: MakeTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    transport = make_transport()
    await transport.open()
    encoded = encode_interaction(ToolResult(tool_call_id="c1", output="é ok"), "conv")
    encodings: list[Any] = []
    real = outbox_module.encode_message
    monkeypatch.setattr(outbox_module, "encode_message", lambda m: encodings.append(m) or real(m))

    await transport.send(encoded)

    assert encodings == []  # checked once, by encode_interaction
    [(payload, to)] = fake.client.sent
    assert type(payload) is dict and payload == encoded and to is None
    assert json.loads(encoded.data) == payload


async def test_an_encoded_message_over_the_transports_own_limit_is_refused(
    fake: FakeDaily, make_transport: MakeTransport
) -> None:
    transport = make_transport(message_limit=256)
    await transport.open()
    encoded = encode_interaction(ToolResult(tool_call_id="c1", output="x" * 400), "conv")

    with pytest.raises(InvalidAppMessage, match="over the limit of 256 bytes"):
        await transport.send(encoded)
    assert fake.client.sent == []
