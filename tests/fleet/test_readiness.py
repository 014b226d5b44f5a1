"""Readiness of a fleet host follows Redis: ``/readyz`` turns 503 while its redis-server
is down (so a load balancer sends the control API and ``delivery.api`` calls to hosts
that can serve them) and 200 again once it is back; ``/livez`` stays 200 throughout (a
Redis outage must not restart the hosts)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fleet_driver import wait_for
from fleet_helpers import options
from fleet_hosts import redis_binary
from redis_servers import free_port, start_redis, stop_redis

from cvibot._fleet.redis_backend import RedisBackend
from cvibot.serve._app import ServeState, create_app
from cvibot.serve._host import SessionHost
from cvibot.serve._metrics import HostMetrics
from cvibot.serve._options import ServeOptions
from cvibot.testing._assembly import build_bot, load_test_config

pytestmark = [pytest.mark.redis, pytest.mark.timeout(60)]

RENEW = 0.25  # unready after 2 × renew_every without an answer


class Server:
    """A redis-server of the test's own, to stop and start again on one port."""

    def __init__(self, workdir: Path) -> None:
        self.binary = redis_binary()
        self.workdir = workdir
        self.port = 0
        self.proc = None
        for _ in range(3):
            self.port = free_port()
            self.proc = start_redis(self.binary, self.port, workdir)
            if self.proc is not None:
                break
        assert self.proc is not None, "redis-server did not start"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.proc is not None:
            stop_redis(self.proc)
            self.proc = None

    def start(self) -> None:
        assert self.proc is None
        self.proc = start_redis(self.binary, self.port, self.workdir)
        assert self.proc is not None, "redis-server did not start again on its port"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    made = Server(tmp_path)
    yield made
    made.stop()


@asynccontextmanager
async def fleet_host(url: str) -> AsyncIterator[tuple[httpx.AsyncClient, RedisBackend]]:
    """A host (SessionHost + app) on the Redis fleet at ``url``, taking jobs."""
    backend = RedisBackend(options(url, lease=1.0, renew_every=RENEW), worker_id="ready-1")
    bot, _ = build_bot(load_test_config({}))
    opts = ServeOptions()
    host = SessionHost(bot, backend, opts, transport_factory=lambda job: None)  # type: ignore[arg-type,return-value]
    metrics = HostMetrics(capacity=1, limit=1, tools=bot.tools, active=int, loop_lag=float)
    app = create_app(ServeState(host, backend, opts, metrics, bot))
    await backend.start()
    running = asyncio.create_task(host.run())
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://host.test") as http:
            yield http, backend
    finally:
        host.drain(handoff=True)
        await asyncio.wait_for(running, 10)
        await backend.close()


async def test_readyz_is_503_while_redis_is_down_and_200_once_it_is_back_livez_stays_200(
    server: Server,
) -> None:
    async with fleet_host(server.url) as (http, backend):

        async def ready() -> bool:
            return (await http.get("/readyz")).status_code == 200

        await wait_for(ready, 5, what="ready once started")
        server.stop()
        stopped = asyncio.get_running_loop().time()
        lives: list[int] = []

        async def unready() -> bool:
            lives.append((await http.get("/livez")).status_code)
            return (await http.get("/readyz")).status_code == 503

        took = await wait_for(unready, 5, what="/readyz 503 with redis down")
        # Silent for 2 × renew_every since the last renewal answered (≤ renew_every ago).
        assert RENEW - 0.05 <= took <= 2 * RENEW + 1.0
        answer = await http.get("/readyz")
        assert answer.json()["status"] == "backend unreachable"
        assert "redis has not answered" in answer.json()["error"]
        # The control API says why too; no restart is asked for.
        enqueue = await http.post(
            "/v1/conversations", json={"conversation_url": "https://tavus.daily.co/c1"}
        )
        assert enqueue.status_code == 503
        await asyncio.sleep(max(0.0, stopped + 1.5 - asyncio.get_running_loop().time()))
        assert (await http.get("/readyz")).status_code == 503  # for as long as it is down
        assert (await http.get("/livez")).status_code == 200 and set(lives) == {200}

        server.start()
        took = await wait_for(ready, 5, what="/readyz 200 once redis is back")
        assert took <= RENEW + 2.0  # the next renewal reconnects
        assert backend.unreachable() is None
        enqueue = await http.post(
            "/v1/conversations", json={"conversation_url": "https://tavus.daily.co/c1"}
        )
        assert enqueue.status_code == 202
