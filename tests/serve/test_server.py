"""serve() in process on the fake Daily SDK: readiness follows the backend's start, and
the optional endpoints (Tavus callbacks, delivery.api) are mounted and share the host's
started bot."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from ingress_helpers import signed
from serve_helpers import Rooms, eventually

from cvibot._runtime import Bot
from cvibot.plugins import hookimpl
from cvibot.serve._local import LocalBackend
from cvibot.serve._options import ServeOptions
from cvibot.serve._server import Serving, bind, serve
from cvibot.testing._assembly import build_bot, load_test_config
from cvibot.tools import tool

SECRET = "s3cret-s3cret-s3cret"
PATH_SECRET = "path-secret-0123456789"


@tool
async def greet(name: str) -> str:
    """Say hello."""
    return f"Hello, {name}!"


class Life:
    """Records the bot's start-ups and shut-downs and the callbacks it observed."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.callbacks: list[Any] = []

    @hookimpl
    def cvibot_startup(self) -> None:
        self.events.append("startup")

    @hookimpl
    def cvibot_shutdown(self) -> None:
        self.events.append("shutdown")

    @hookimpl
    async def cvibot_webhook(self, callback: Any) -> None:
        await asyncio.sleep(0.2)  # still running when the drain starts
        self.callbacks.append(callback)


class GatedBackend(LocalBackend):
    """A local backend whose start() waits for the test, as a connect to Redis would."""

    def __init__(self) -> None:
        super().__init__(host_id="gated")
        self.gate = asyncio.Event()

    async def start(self) -> None:
        await self.gate.wait()
        await super().start()


@asynccontextmanager
async def serving(
    bot: Bot, backend: LocalBackend, **options: Any
) -> AsyncIterator[tuple[str, asyncio.Task[None], list[Serving]]]:
    sock = bind("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    started: list[Serving] = []
    task = asyncio.create_task(
        serve(
            bot.loaded,
            bot=bot,
            options=ServeOptions.model_validate({"port": 0, **options}),
            transport_factory=Rooms().factory,
            backend=backend,
            sock=sock,
            on_started=started.append,
        )
    )
    try:
        yield url, task, started
    finally:
        if started:
            started[0].drain()
        await asyncio.wait_for(task, 15)


async def test_readyz_is_503_until_the_backend_started_then_200() -> None:
    bot, _ = build_bot(load_test_config({}), tools=[greet])
    backend = GatedBackend()
    async with (
        serving(bot, backend) as (url, _task, started),
        httpx.AsyncClient(base_url=url) as http,
    ):

        async def answers() -> bool:
            try:
                return (await http.get("/livez")).status_code == 200
            except httpx.TransportError:
                return False

        while not await answers():  # noqa: ASYNC110 - the server is a task of this loop
            await asyncio.sleep(0.01)
        ready = await http.get("/readyz")
        assert (ready.status_code, ready.json()) == (503, {"status": "starting"})
        assert not started
        backend.gate.set()
        await eventually(lambda: bool(started))
        ready = await http.get("/readyz")
        assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


async def test_callbacks_and_delivery_api_calls_are_served_by_the_hosts_started_bot() -> None:
    life = Life()
    bot, _ = build_bot(load_test_config({}), builtins=[life], tools=[greet])
    async with (
        serving(
            bot,
            LocalBackend(host_id="h"),
            webhook={"secret": PATH_SECRET},
            delivery_api={"secret": SECRET},
        ) as (url, task, started),
        httpx.AsyncClient(base_url=url) as http,
    ):
        await eventually(lambda: bool(started))
        assert life.events == ["startup"]
        for n in range(3):
            body, headers = signed(
                SECRET,
                {
                    "name": "greet",
                    "arguments": json.dumps({"name": f"N{n}"}),
                    "tool_call_id": f"t{n}",
                },
            )
            answer = await http.post("/v1/tools/tavus", content=body, headers=headers)
            assert (answer.status_code, answer.text) == (200, f"Hello, N{n}!")
        # Held by the host: the plugins did not start and stop around each call.
        assert life.events == ["startup"]
        callback = {
            "conversation_id": "c1",
            "event_type": "application.transcription_ready",
            "message_type": "application",
            "properties": {"transcript": []},
            "timestamp": "2026-01-01T00:00:00Z",
        }
        wrong = await http.post("/v1/webhooks/tavus/not-the-secret-000000", json=callback)
        assert wrong.status_code == 404
        got = await http.post(f"/v1/webhooks/tavus/{PATH_SECRET}", json=callback)
        assert got.status_code == 200
        assert started[0].state.webhooks is not None
        assert started[0].state.webhooks.pending == 1
        metrics = (await http.get("/metrics")).text
        assert "cvibot_tools_api_requests_total" in metrics
        assert "cvibot_webhooks_total" in metrics
        started[0].drain()  # the callback's hook is still running: awaited at exit
        await asyncio.wait_for(task, 15)
    assert [c.conversation_id for c in life.callbacks] == ["c1"]
    assert life.events == ["startup", "shutdown"]


async def test_without_their_options_the_ingress_endpoints_do_not_exist() -> None:
    bot, _ = build_bot(load_test_config({}), tools=[greet])
    async with (
        serving(bot, LocalBackend(host_id="h")) as (url, _task, started),
        httpx.AsyncClient(base_url=url) as http,
    ):
        await eventually(lambda: bool(started))
        body, headers = signed(SECRET, {"name": "greet", "arguments": "{}", "tool_call_id": "x"})
        assert (await http.post("/v1/tools/tavus", content=body, headers=headers)).status_code in (
            404,
            405,
        )
        assert (await http.post(f"/v1/webhooks/tavus/{PATH_SECRET}", json={})).status_code in (
            404,
            405,
        )
