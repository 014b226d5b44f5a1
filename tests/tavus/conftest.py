"""Fixtures of the Tavus client tests: a fake API, captured logs, a client on the fake."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import structlog
from tavus_helpers import FAST, KEY

from cvibot.tavus import TavusClient
from doubles.fake_tavus import FakeTavusAPI


@pytest.fixture
def fake() -> FakeTavusAPI:
    """A fresh fake with one persona (``p_default``, default replica ``r_default``)."""
    api = FakeTavusAPI(api_key=KEY)
    api.add_persona(
        "p_default", persona_name="Shop", system_prompt="You help.", default_replica_id="r_default"
    )
    return api


@pytest.fixture
def logs() -> Iterator[list[dict[str, Any]]]:
    """structlog entries captured while the test runs (clients bind their logger when built).

    Debug entries included, whatever level an earlier test configured.
    """
    wrapper = structlog.get_config()["wrapper_class"]
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    try:
        with structlog.testing.capture_logs() as captured:
            yield captured
    finally:
        structlog.configure(wrapper_class=wrapper)


@pytest.fixture
async def api(fake: FakeTavusAPI, logs: list[dict[str, Any]]) -> AsyncIterator[TavusClient]:
    """A client on the fake's in-process transport, with millisecond retry backoffs."""
    async with TavusClient(KEY, transport=fake.transport(), retry=FAST) as client:
        yield client
