"""Joining: what reaches the receiver and in which order, and how joins fail."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from daily_helpers import TOKEN, URL, MakeTransport, RecordingReceiver, eventually, running

from cvibot.transports._base import TransportError
from cvibot.transports._daily import (
    DailyTransport,
    InvalidClientSettings,
    InvalidRoomUrl,
    JoinFailed,
    JoinTimeout,
    RoomUnreachable,
    pending_releases,
)
from cvibot.transports._daily.call import CLIENT_SETTINGS, SUBSCRIPTION_PROFILES
from cvibot.transports._daily.sdk_errors import join_error
from doubles.fake_daily import ROOM_LOOKUP_FAILED, FakeDaily, FakeSdkMisuse, participant


async def test_join_data_participants_then_events_in_order_on_the_loop_thread(
    fake: FakeDaily, make_transport: MakeTransport
) -> None:
    anna = participant("Anna", "tavus-replica-r1")
    fake.client_options["remote_participants"] = [anna]
    transport = make_transport()
    receiver = RecordingReceiver()

    await transport.open()
    client = fake.client
    ben = participant("Ben", "user-ben")
    # Before run() starts: kept and delivered, in order, once it does.
    client.inject_app_message({"n": 1}, anna["id"])
    client.inject_participant_joined(ben)
    client.inject_app_message("a json string", ben["id"])
    client.wait_idle()
    await asyncio.sleep(0.01)
    assert receiver.items == []
    task = asyncio.create_task(transport.run(receiver))
    client.inject_participant_updated(ben)
    client.inject_app_message({"n": 2}, anna["id"])
    client.inject_participant_left(ben, "leftCall")
    await receiver.wait_for(lambda r: len(r.items) == 7)

    kinds = [(item[0], item[1] if item[0] == "participant" else None) for item in receiver.items]
    assert kinds == [
        ("participant", "joined"),
        ("message", None),
        ("participant", "joined"),
        ("message", None),
        ("participant", "updated"),
        ("message", None),
        ("participant", "left"),
    ]
    assert receiver.participants == [
        ("joined", anna["id"]),
        ("joined", ben["id"]),
        ("updated", ben["id"]),
        ("left", ben["id"]),
    ]
    assert receiver.messages == [{"n": 1}, "a json string", {"n": 2}]
    first = receiver.items[0][2]
    assert (first.user_id, first.user_name, first.local) == ("tavus-replica-r1", "Anna", False)
    assert [item[2] for item in receiver.items if item[0] == "message"] == [
        anna["id"],
        ben["id"],
        anna["id"],
    ]
    assert receiver.items[-1][3] == "leftCall"
    # received_at is the arrival time on the emitter thread, in seconds since the epoch
    stamps = [item[-1] for item in receiver.items]
    assert stamps == sorted(stamps) and abs(stamps[0] - time.time()) < 5
    # Only the loop thread delivers; the local participant (our own name) never does.
    assert receiver.threads == {threading.get_ident()}
    assert client.local_id not in {pid for _, pid in receiver.participants}

    await transport.close()
    await asyncio.wait_for(task, 1)
    client.assert_callbacks_on_emitter()


async def test_join_sets_up_a_client_that_neither_subscribes_nor_publishes(
    fake: FakeDaily, make_transport: MakeTransport, logs: list[dict[str, Any]]
) -> None:
    transport = make_transport(meeting_token=TOKEN, user_name="shop-bot")

    await transport.open()

    client = fake.client
    assert client.joins == [(URL, TOKEN, CLIENT_SETTINGS)]
    assert client.subscription_profiles == [SUBSCRIPTION_PROFILES]
    assert client.participants()["local"]["info"]["userName"] == "shop-bot"
    client.participants_calls = 0  # that one was the test's own call
    assert transport.describe() == f"daily {URL} as shop-bot"
    await transport.close()
    assert client.leave_calls == 1 and client.released
    events = [entry["event"] for entry in logs]
    assert events.index("joining the room") < events.index("joined the room")
    joined = next(entry for entry in logs if entry["event"] == "joined the room")
    assert joined["latency_ms"] >= 0 and joined["room"] == URL
    assert "left the room" in events and "daily client released" in events
    assert TOKEN not in repr(logs)


async def test_a_join_that_never_completes_times_out_and_close_stays_bounded(
    fake: FakeDaily, make_transport: MakeTransport
) -> None:
    fake.client_options.update(join_outcome="hang", release_delay=0.6)
    transport = make_transport(join_timeout=0.2, release_timeout=0.1)

    started = time.monotonic()
    with pytest.raises(JoinTimeout) as caught:
        await transport.open()
    elapsed = time.monotonic() - started

    # open() started the release itself, without waiting for it: the SDK's release
    # would wait for the pending join.
    assert 0.2 <= elapsed < 0.3
    assert str(caught.value) == f"the room {URL} could not be reached: no join within 0.2 s"
    assert isinstance(caught.value, TransportError) and caught.value.raw is None
    assert pending_releases() == 1  # still releasing, in a daemon thread
    started = time.monotonic()
    await transport.close()  # idempotent, and returns at once
    assert time.monotonic() - started < 0.05
    assert fake.client.leave_calls == 0  # a leave would only queue behind the join
    await eventually(lambda: pending_releases() == 0)
    assert fake.client.released


async def test_an_unreachable_room_keeps_the_sdk_string(
    fake: FakeDaily, make_transport: MakeTransport
) -> None:
    fake.client_options.update(join_outcome="unreachable", join_delay=0.02)
    transport = make_transport(meeting_token=TOKEN)

    with pytest.raises(RoomUnreachable) as caught:
        await transport.open()

    error = caught.value
    assert error.raw == ROOM_LOOKUP_FAILED
    assert error.url == URL
    assert str(error) == (
        f"the room {URL} could not be reached (network or DNS failure): "
        "failed to lookup address information: Name or service not known"
    )
    assert "\n" not in str(error) and TOKEN not in str(error)
    await eventually(lambda: fake.client.released)
    with pytest.raises(TransportError, match="closed"):
        await transport.send({"event_type": "x"})


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "",
        "tavus.daily.co/c0ffee",
        "ftp://tavus.daily.co/x",
        "https://",
        "https://a b/c",
        "https://[::1/c",
    ],
)
async def test_a_malformed_url_fails_at_once_without_touching_the_sdk(
    fake: FakeDaily, make_transport: MakeTransport, url: str
) -> None:
    transport = make_transport(url=url)

    started = time.monotonic()
    with pytest.raises(InvalidRoomUrl) as caught:
        await transport.open()

    assert time.monotonic() - started < 0.05
    assert "is not valid" in str(caught.value) and "\n" not in str(caught.value)
    assert isinstance(caught.value, TransportError)
    assert fake.clients == []


def test_join_error_strings_map_to_exceptions() -> None:
    parse = join_error('Failed to parse url: InvalidUrl("x", RelativeUrlWithoutBase)', URL)
    settings = join_error(
        'Invalid client settings: JsonApiError { message: "ClientSettings is not an object" }', URL
    )
    other = join_error("Client already in a call, leave the current one before joining", URL)
    assert isinstance(parse, InvalidRoomUrl) and parse.raw.startswith("Failed to parse url")
    assert isinstance(settings, InvalidClientSettings)
    assert type(other) is JoinFailed and str(other).startswith(f"could not join the room {URL}: ")


async def test_participants_is_never_called_even_while_a_join_is_pending(
    fake: FakeDaily, make_transport: MakeTransport
) -> None:
    fake.client_options.update(join_delay=0.1, participants_block=0.5)
    transport = make_transport()
    receiver = RecordingReceiver()
    task = await running(transport, receiver)
    fake.client.inject_participant_joined(participant("Anna", "tavus-replica-r1"))
    await receiver.wait_for(lambda r: len(r.items) == 1)
    await transport.close()
    await task

    assert fake.client.participants_calls == 0


async def test_the_fake_participants_blocks_during_a_join_and_counts() -> None:
    sdk = FakeDaily(join_outcome="ok", join_delay=0.2, participants_block=0.1)
    sdk.Daily.init()
    client = sdk.CallClient()
    client.join(URL)
    started = time.monotonic()
    client.participants()
    assert time.monotonic() - started >= 0.1
    assert client.participants_calls == 1
    client.release()


async def test_two_transports_share_one_loop_and_one_init(
    fake: FakeDaily, make_transport: MakeTransport
) -> None:
    first, second = make_transport(), make_transport(url="https://tavus.daily.co/beef")
    r1, r2 = RecordingReceiver(), RecordingReceiver()

    await asyncio.gather(first.open(), second.open())
    t1 = asyncio.create_task(first.run(r1))
    t2 = asyncio.create_task(second.run(r2))
    c1, c2 = fake.clients
    c1.inject_app_message({"to": "first"}, "p1")
    c2.inject_app_message({"to": "second"}, "p2")
    await asyncio.gather(first.send({"from": "first"}), second.send({"from": "second"}))
    await r1.wait_for(lambda r: len(r.messages) == 1)
    await r2.wait_for(lambda r: len(r.messages) == 1)

    assert fake.Daily.init_calls == 1
    assert (
        c1 is not c2 and c1.joins[0][0] == URL and c2.joins[0][0] == "https://tavus.daily.co/beef"
    )
    assert (r1.messages, r2.messages) == ([{"to": "first"}], [{"to": "second"}])
    assert (c1.sent, c2.sent) == ([({"from": "first"}, None)], [({"from": "second"}, None)])
    await asyncio.gather(first.close(), second.close())
    await asyncio.gather(t1, t2)


def test_the_fake_sdk_fails_loudly_where_the_real_one_aborts() -> None:
    sdk = FakeDaily()
    with pytest.raises(FakeSdkMisuse, match=r"before Daily\.init"):
        sdk.CallClient()
    sdk.Daily.init()
    with pytest.raises(FakeSdkMisuse, match="twice"):
        sdk.Daily.init()
    with pytest.raises(TypeError, match="subclass of `EventHandler`"):
        sdk.CallClient(event_handler=object())
    client = sdk.CallClient()
    client.release()
    with pytest.raises(RuntimeError, match="already been released"):
        client.participants()


async def test_open_twice_and_run_before_open_are_errors(make_transport: MakeTransport) -> None:
    transport = make_transport()
    with pytest.raises(TransportError, match="before run"):
        await transport.run(RecordingReceiver())
    await transport.open()
    with pytest.raises(TransportError, match="opened before"):
        await transport.open()


def test_constructor_rejects_bad_numbers() -> None:
    with pytest.raises(ValueError, match="join_timeout"):
        DailyTransport(URL, join_timeout=0)
    with pytest.raises(ValueError, match="message_limit"):
        DailyTransport(URL, message_limit=-1)


def test_importing_the_package_does_not_import_daily() -> None:
    import subprocess
    import sys

    code = "import sys, cvibot, cvibot.transports._daily; print('daily' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "False", out.stderr


async def test_a_token_in_the_url_query_stays_out_of_errors_and_logs(
    fake: FakeDaily, make_transport: MakeTransport, logs: list[dict[str, Any]]
) -> None:
    fake.client_options.update(join_outcome=f"error:cannot join {URL}?t={TOKEN}: refused")
    transport = make_transport(url=f"{URL}?t={TOKEN}")

    with pytest.raises(JoinFailed) as caught:
        await transport.open()

    assert str(caught.value) == f"could not join the room {URL}: cannot join {URL}: refused"
    assert TOKEN not in repr(caught.value.raw) and TOKEN not in repr(logs)
    assert transport.describe() == f"daily {URL} as cvibot"
    assert fake.client.joins[0][0] == f"{URL}?t={TOKEN}"  # the SDK still gets it


async def test_closing_during_the_join_fails_open(
    fake: FakeDaily, make_transport: MakeTransport
) -> None:
    fake.client_options.update(join_delay=0.1)
    transport = make_transport()
    opening = asyncio.create_task(transport.open())
    await eventually(lambda: bool(fake.clients) and bool(fake.client.joins))

    await transport.close()

    with pytest.raises(JoinFailed, match="closed while joining"):
        await asyncio.wait_for(opening, 1)


async def test_a_malformed_url_with_a_token_keeps_the_token_out_of_the_error(
    make_transport: MakeTransport,
) -> None:
    transport = make_transport(url="tavus.daily.co/room?t=secret-token-1", meeting_token="tok-2")
    with pytest.raises(InvalidRoomUrl) as caught:
        await transport.open()
    assert "secret-token-1" not in str(caught.value) and "tok-2" not in str(caught.value)
    assert "tavus.daily.co/room" in str(caught.value)
