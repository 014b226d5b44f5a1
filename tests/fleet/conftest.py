"""Fixtures of the fleet tests: a real ``redis-server`` on a free loopback port (once per
session, flushed before each test), worker processes, and fakeredis for script tests.

Without a ``redis-server`` binary the tests that need one are skipped, unless
``CVIBOT_REQUIRE_REDIS=1`` (set by ``.ci/run``), which makes them fail instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis
from fleet_hosts import Workers, redis_binary
from redis_servers import free_port, start_redis, stop_redis


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a private redis-server (no persistence), stopped at the end."""
    binary = redis_binary()
    workdir = tmp_path_factory.mktemp("redis")
    for _ in range(3):  # the port may be taken between the probe and the bind
        port = free_port()
        proc = start_redis(binary, port, workdir)
        if proc is not None:
            break
    else:
        pytest.fail("redis-server did not start")
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop_redis(proc)


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The server's URL, its data flushed."""
    with redis.Redis.from_url(redis_server) as client:
        client.flushall()
    return redis_server


@pytest.fixture
async def rclient(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
def workers(redis_url: str, tmp_path: Path) -> Iterator[Workers]:
    """Worker processes (see fleet_worker.py) on the test's redis-server."""
    pool = Workers(redis_url, tmp_path)
    yield pool
    pool.stop_all()
