"""``delivery.api`` in a fleet: a call delivered again, to any host, runs once.

Two hosts' apps (create_app, as ``cvibot serve`` builds them with ``fleet.backend:
redis``) share one real redis-server; the same signed call goes to both.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from fleet_helpers import started

from cvibot._fleet.api_answers import FleetAnswers
from cvibot._fleet.redis_backend import RedisBackend
from cvibot._runtime import Bot
from cvibot.serve._app import ServeState, create_app
from cvibot.serve._host import SessionHost
from cvibot.serve._metrics import HostMetrics
from cvibot.serve._options import ServeOptions
from cvibot.serve._signature import sign
from cvibot.testing._assembly import build_bot, load_test_config
from cvibot.tools import tool

pytestmark = [pytest.mark.redis, pytest.mark.timeout(30)]

SECRET = "fleet-secret-fleet-secret"
URL = "/v1/tools/tavus"
RUNS: Counter[str] = Counter()
_LOCK = threading.Lock()
GATE: dict[str, float] = {"seconds": 0.0}


@tool(delivery="api")
async def lookup_order(order_id: int) -> dict[str, Any]:
    """Look an order up (slow when GATE says so, so that deliveries overlap)."""
    with _LOCK:
        RUNS["lookup_order"] += 1
    await asyncio.sleep(GATE["seconds"])
    return {"order_id": order_id, "status": "shipped", "run": RUNS["lookup_order"]}


@tool(delivery="api")
def refuse(reason: str) -> str:
    """Always fails."""
    with _LOCK:
        RUNS["refuse"] += 1
    from cvibot import ToolError

    raise ToolError(f"cannot: {reason}")


@pytest.fixture(autouse=True)
def _reset() -> None:
    RUNS.clear()
    GATE["seconds"] = 0.0


class Host:
    """One ``cvibot serve`` host's app on the shared Redis (not taking jobs)."""

    def __init__(self, backend: RedisBackend, bot: Bot, http: httpx.AsyncClient) -> None:
        self.backend, self.bot, self.http = backend, bot, http
        self.metrics: HostMetrics | None = None

    async def post(self, body: dict[str, Any]) -> httpx.Response:
        raw = json.dumps(body).encode()
        headers = {"x-tavus-signature": sign(SECRET.encode(), raw)}
        return await self.http.post(URL, content=raw, headers=headers)

    def requests(self, status: str, tool: str = "lookup_order") -> float:
        assert self.metrics is not None
        value = self.metrics.registry.get_sample_value(
            "cvibot_tools_api_requests_total", {"tool": tool, "status": status}
        )
        return value or 0.0


@asynccontextmanager
async def host(redis_url: str, worker_id: str, **delivery: Any) -> AsyncIterator[Host]:
    options = ServeOptions.model_validate(
        {"delivery_api": {"secret": SECRET, **delivery}, "fleet": {"backend": "redis"}}
    )
    bot, _ = build_bot(load_test_config({}), tools=[lookup_order, refuse])
    async with started(redis_url, worker_id) as backend, bot.active():
        metrics = HostMetrics(
            capacity=1, limit=1, tools=bot.tools, active=lambda: 0, loop_lag=float
        )
        session_host = SessionHost(bot, backend, options, transport_factory=lambda job: None)  # type: ignore[arg-type,return-value]
        app = create_app(ServeState(session_host, backend, options, metrics, bot))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://host.test") as http:
            made = Host(backend, bot, http)
            made.metrics = metrics
            yield made


@asynccontextmanager
async def two_hosts(redis_url: str, **delivery: Any) -> AsyncIterator[tuple[Host, Host]]:
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(host(redis_url, "host-a", **delivery))
        b = await stack.enter_async_context(host(redis_url, "host-b", **delivery))
        yield a, b


def call(
    tool_call_id: str = "tc-1", name: str = "lookup_order", **arguments: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "arguments": json.dumps(arguments or {"order_id": 7}),
        "tool_call_id": tool_call_id,
        "conversation_id": "c-1",
    }


def same(first: httpx.Response, second: httpx.Response) -> bool:
    return (first.status_code, first.headers["content-type"], first.content) == (
        second.status_code,
        second.headers["content-type"],
        second.content,
    )


async def test_a_call_redelivered_to_another_host_gets_the_first_answer_without_running_again(
    redis_url: str,
) -> None:
    async with two_hosts(redis_url) as (a, b):
        first = await a.post(call())
        again = await b.post(call())
        assert first.status_code == 200 and first.json()["run"] == 1
        assert same(first, again)
        assert RUNS["lookup_order"] == 1
        assert a.requests("success") == 1 and b.requests("redelivered") == 1
        # Back to the first host: its own cache answers.
        assert same(first, await a.post(call()))
        assert RUNS["lookup_order"] == 1
        # Another tool_call_id is another call.
        other = await b.post(call("tc-2"))
        assert other.json()["run"] == 2 and RUNS["lookup_order"] == 2


async def test_concurrent_deliveries_to_two_hosts_run_the_handler_once(redis_url: str) -> None:
    GATE["seconds"] = 0.3  # every delivery arrives while the first still runs
    async with two_hosts(redis_url) as (a, b):
        answers = await asyncio.gather(*(h.post(call()) for h in (a, b, a, b, b, a)))
        assert RUNS["lookup_order"] == 1
        assert all(same(answers[0], r) for r in answers[1:])
        assert answers[0].status_code == 200 and answers[0].json()["run"] == 1
        ran = a.requests("success") + b.requests("success")
        assert ran == 1
        assert a.requests("redelivered") + b.requests("redelivered") == 5


async def test_an_error_answer_is_kept_too(redis_url: str) -> None:
    async with two_hosts(redis_url, error_status=422) as (a, b):
        first = await a.post(call(name="refuse", reason="no"))
        again = await b.post(call(name="refuse", reason="no"))
        assert first.status_code == 422 and "cannot: no" in first.text
        assert same(first, again)
        assert RUNS["refuse"] == 1


async def test_a_claimer_that_died_before_answering_gets_an_error_and_no_second_run(
    redis_url: str, rclient: aioredis.Redis
) -> None:
    async with host(redis_url, "host-a", error_status=503) as a:
        answers = FleetAnswers(lambda: a.backend.client, a.backend.keys, worker_id="ghost", ttl=600)
        key = answers.key("c-1", "tc-1")
        # A host claimed the call and died: its claim expires with no answer.
        await rclient.set(key, "claim ghost", px=300)
        response = await a.post(call())
        assert response.status_code == 503
        assert "stopped before answering" in response.text
        assert RUNS["lookup_order"] == 0
        assert a.requests("unanswered") == 1
        # Not cached as an answer: a later delivery claims the call and runs it (once).
        later = await a.post(call())
        assert later.status_code == 200 and RUNS["lookup_order"] == 1


async def test_a_claimer_still_running_past_the_wait_is_an_error_not_a_second_run(
    redis_url: str, rclient: aioredis.Redis
) -> None:
    async with host(redis_url, "host-b", timeout=2) as b:  # waits 1 s (timeout - 1 s)
        answers = FleetAnswers(lambda: b.backend.client, b.backend.keys, worker_id="slow", ttl=600)
        await rclient.set(answers.key("c-1", "tc-1"), "claim slow", px=60_000)
        started_at = asyncio.get_running_loop().time()
        response = await b.post(call())
        waited = asyncio.get_running_loop().time() - started_at
        assert response.status_code == 200  # error_status: the LLM reads the text
        assert "still running" in response.text
        assert 0.95 <= waited < 1.8
        assert RUNS["lookup_order"] == 0


async def test_the_answer_lives_in_redis_for_the_redelivery_ttl(
    redis_url: str, rclient: aioredis.Redis
) -> None:
    async with host(redis_url, "host-a", redelivery_ttl=120) as a:
        await a.post(call())
        key = FleetAnswers(lambda: a.backend.client, a.backend.keys, worker_id="x", ttl=1).key(
            "c-1", "tc-1"
        )
        stored = json.loads(await rclient.get(key))
        assert stored["status"] == 200 and stored["media_type"] == "application/json"
        assert json.loads(stored["text"])["order_id"] == 7
        assert 100_000 < await rclient.pttl(key) <= 120_000


async def test_with_redis_unreachable_a_call_is_not_run_and_says_so(
    redis_url: str, rclient: aioredis.Redis
) -> None:
    async with host(redis_url, "host-a") as a:
        await rclient.execute_command("CLIENT", "PAUSE", 3000, "WRITE")
        try:
            response = await a.post(call())
        finally:
            await rclient.execute_command("CLIENT", "UNPAUSE")
        assert response.status_code == 200
        assert "try again" in response.text
        assert RUNS["lookup_order"] == 0
        assert a.requests("unavailable") == 1
        # The refusal is not kept: the next delivery runs the call.
        assert (await a.post(call())).json()["run"] == 1
