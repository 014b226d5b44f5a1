"""Helpers of the ``cvibot serve`` tests: a bot with tools, the fake Daily SDK, a host
running on them, tool-call messages (a module of its own: conftest is not importable)."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from cvibot._runtime import Bot
from cvibot.config import load_config
from cvibot.serve._app import ServeState, create_app
from cvibot.serve._backend import Backend, Job
from cvibot.serve._host import SessionHost
from cvibot.serve._local import LocalBackend
from cvibot.serve._metrics import HostMetrics
from cvibot.serve._options import ServeOptions
from cvibot.transports._base import Transport
from cvibot.transports._daily import DailyTransport, ReconnectPolicy
from doubles.fake_daily import FakeDaily, participant

REPLICA = participant("Anna", "tavus-replica-r1")
TOKEN = "test-token-0123456789"

TOOLS = '''
import asyncio
from cvibot import tool

GATE = asyncio.Event()
RUNS = []

@tool(timeout=10)
async def wait_for_gate(label: str) -> str:
    """Answer once the test opens the gate."""
    RUNS.append(label)
    await GATE.wait()
    return f"{label} done"

@tool
def lookup_order(order_id: str) -> str:
    """Look up an order's status.

    Args:
        order_id: The order number, for example "A1001".
    """
    RUNS.append(order_id)
    return f"order {order_id} has shipped"
'''


@contextmanager
def make_bot(tmp_path: Path, extra: str = "") -> Iterator[Bot]:
    """A bot with the tools above (plugin module written to ``tmp_path``)."""
    module = f"serve_tools_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(TOOLS, encoding="utf-8")
    config = tmp_path / "bot.yaml"
    config.write_text(
        textwrap.dedent(
            f"""
            transport: {{type: daily}}
            plugins: [{module}]
            dispatch: {{shutdown_grace: 2}}
            """
        )
        + extra,
        encoding="utf-8",
    )
    path = list(sys.path)
    try:
        yield Bot.from_config(load_config(config), autoload=False)
    finally:
        sys.path[:] = path
        sys.modules.pop(module, None)


def plugin(bot: Bot) -> Any:
    return bot.host.plugins[0].plugin


def room(cid: str) -> str:
    return f"https://tavus.daily.co/{cid}"


def job(cid: str, **fields: Any) -> Job:
    return Job(conversation_id=cid, conversation_url=room(cid), **fields)


def tool_call(
    cid: str, call_id: str, name: str = "lookup_order", seq: int = 1, **arguments: Any
) -> dict[str, Any]:
    """A ``conversation.tool_call`` app-message as Tavus broadcasts it (protocol §4)."""
    return {
        "message_type": "conversation",
        "event_type": "conversation.tool_call",
        "conversation_id": cid,
        "seq": seq,
        "inference_id": f"inf-{seq}",
        "properties": {
            "name": name,
            "arguments": json.dumps(arguments),
            "tool_call_id": call_id,
        },
    }


def shutdown(cid: str) -> dict[str, Any]:
    return {
        "message_type": "system",
        "event_type": "system.shutdown",
        "conversation_id": cid,
        "properties": {"shutdown_reason": "end_call"},
    }


def results(client: Any) -> list[dict[str, Any]]:
    return [
        message["properties"]
        for message, _ in client.sent
        if message.get("event_type") == "conversation.tool_result"
    ]


async def eventually(predicate: Callable[[], bool], within: float = 5.0) -> None:
    """Poll ``predicate`` on the loop until it holds; ``TimeoutError`` after ``within`` s
    (polling: what it waits for is often state of the fake SDK's threads)."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - no event to wait on across threads
            await asyncio.sleep(0.005)


class Rooms:
    """The fake Daily SDK with one client per room, found by the room's URL."""

    def __init__(self, **options: Any) -> None:
        options.setdefault("join_outcome", "ok")
        options.setdefault("join_delay", 0.01)
        options.setdefault("remote_participants", [REPLICA])
        self.sdk = FakeDaily(**options)
        self.urls: list[str] = []

    def factory(self, job: Job) -> Transport:
        self.urls.append(job.conversation_url)
        return DailyTransport(
            job.conversation_url,
            meeting_token=job.meeting_token,
            sdk=self.sdk,
            join_timeout=2,
            leave_timeout=0.5,
            release_timeout=1,
            reconnect=ReconnectPolicy(max_attempts=1, initial_backoff=0.01, max_backoff=0.02),
        )

    def client(self, cid: str) -> Any:
        for url, client in zip(self.urls, self.sdk.clients, strict=False):
            if url.endswith("/" + cid):
                return client
        raise KeyError(cid)

    def joined(self, cid: str) -> bool:
        try:
            return bool(self.client(cid).joined)
        except KeyError:
            return False

    def say(self, cid: str, message: dict[str, Any]) -> None:
        self.client(cid).inject_app_message(message, REPLICA["id"])


@dataclass
class Running:
    host: SessionHost
    backend: Backend
    rooms: Rooms
    metrics: HostMetrics
    state: ServeState
    task: asyncio.Task[None]

    def http(self, token: str | None = TOKEN) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(self.state)),
            base_url="http://serve.test",
            headers=headers,
        )


@asynccontextmanager
async def hosting(
    bot: Bot,
    *,
    rooms: Rooms | None = None,
    backend: Backend | None = None,
    tavus: Any = None,
    **options: Any,
) -> AsyncIterator[Running]:
    """A :class:`SessionHost` serving on the fake SDK; drained (handoff) afterwards."""
    options.setdefault("api_token", TOKEN)
    opts = ServeOptions.model_validate(options)
    rooms = rooms or Rooms()
    backend = backend or LocalBackend(host_id="test-host")
    metrics = HostMetrics(
        capacity=opts.capacity, limit=opts.limit, tools=bot.tools, active=lambda: 0, loop_lag=float
    )
    host = SessionHost(
        bot,
        backend,
        opts,
        transport_factory=rooms.factory,
        tavus=tavus,
        listeners=[metrics],
        events=metrics,
    )
    state = ServeState(host, backend, opts, metrics, bot, tavus)
    task = asyncio.create_task(host.run())
    await eventually(lambda: host.started)
    await asyncio.sleep(0)
    try:
        yield Running(host, backend, rooms, metrics, state, task)
    finally:
        host.drain(handoff=True)
        await asyncio.wait_for(task, 10)
