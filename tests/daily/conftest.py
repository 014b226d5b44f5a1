"""Fixtures for the Daily transport tests: a fake SDK, transports on it, a recorder."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from daily_helpers import URL, MakeTransport
from structlog.testing import capture_logs

from cvibot.transports._daily import DailyTransport, ReconnectPolicy, pending_releases
from doubles.fake_daily import FakeDaily


@pytest.fixture
def fake() -> Iterator[FakeDaily]:
    """A fake SDK whose joins succeed after 10 ms; its clients are checked afterwards."""
    sdk = FakeDaily(join_outcome="ok", join_delay=0.01, participants_block=0.2)
    yield sdk
    for client in sdk.clients:
        client.assert_callbacks_on_emitter()
        assert client.participants_calls == 0, "the transport called participants()"


@pytest.fixture
def policy() -> ReconnectPolicy:
    return ReconnectPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.05)


@pytest.fixture
async def make_transport(fake: FakeDaily, policy: ReconnectPolicy) -> AsyncIterator[MakeTransport]:
    """``make_transport(**overrides)``: a DailyTransport on ``fake``, closed afterwards."""
    made: list[DailyTransport] = []

    def make(**overrides: Any) -> DailyTransport:
        options: dict[str, Any] = {
            "sdk": fake,
            "join_timeout": 1.0,
            "leave_timeout": 0.5,
            "release_timeout": 1.0,
            "send_timeout": 1.0,
            "reconnect": policy,
            **overrides,
        }
        transport = DailyTransport(options.pop("url", URL), **options)
        made.append(transport)
        return transport

    yield make
    for transport in made:
        await transport.close()


@pytest.fixture(autouse=True)
def no_release_left_behind() -> Iterator[None]:
    """Let background releases of a test end before the next test starts."""
    yield
    deadline = time.monotonic() + 3
    while pending_releases() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pending_releases() == 0


@pytest.fixture
def logs() -> Iterator[list[dict[str, Any]]]:
    with capture_logs() as captured:
        yield captured
