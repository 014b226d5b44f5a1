"""Fixtures of the tools-sync tests: a fake Tavus API with one persona, a client on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from sync_helpers import FAST, KEY, PERSONA

import cvibot._cli.tools_cmd
from cvibot.tavus import TavusClient
from doubles.fake_tavus import FakeTavusAPI


@pytest.fixture
def fake() -> FakeTavusAPI:
    """A fresh fake holding the persona ``PERSONA`` (and the system tool ``end_call``)."""
    api = FakeTavusAPI(api_key=KEY)
    api.add_persona(PERSONA, persona_name="Shop", system_prompt="You help.")
    return api


@pytest.fixture
async def api(fake: FakeTavusAPI) -> AsyncIterator[TavusClient]:
    """A client on the fake's in-process transport, with millisecond retries."""
    async with TavusClient(KEY, transport=fake.transport(), retry=FAST) as client:
        yield client


@pytest.fixture(autouse=True)
def fast_cli_retries(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The command line's client retries within milliseconds, so failures stay fast."""
    monkeypatch.setattr(cvibot._cli.tools_cmd, "RETRY", FAST)
    yield
