"""Shared pieces of the serve tests: a tiny Starlette app with the routes under test,
driven in process through httpx.ASGITransport."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from cvibot.serve._signature import sign


@asynccontextmanager
async def client_for(routes: Sequence[BaseRoute]) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=list(routes))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def signed(secret: str, body: Any, *, prefix: str = "") -> tuple[bytes, dict[str, str]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return raw, {
        "x-tavus-signature": prefix + sign(secret.encode(), raw),
        "content-type": "application/json",
    }


class FakeBackend:
    """A Backend in memory for the route tests: records enqueues and stops; ``delay``
    seconds of latency make concurrent deliveries overlap."""

    name = "fake"

    def __init__(self, delay: float = 0.0) -> None:
        from cvibot.serve._backend import ConversationRecord, Job

        self.delay = delay
        self.jobs: list[Job] = []
        self.stops: list[tuple[str, str]] = []
        self.records: dict[str, ConversationRecord] = {}
        self.fail_enqueue: Exception | None = None

    async def _wait(self) -> None:
        import asyncio

        if self.delay:
            await asyncio.sleep(self.delay)

    async def enqueue(self, job: Any) -> Any:
        from cvibot.serve._backend import ConversationRecord

        await self._wait()
        if self.fail_enqueue is not None:
            raise self.fail_enqueue
        self.jobs.append(job)
        record = self.records.setdefault(
            job.conversation_id,
            ConversationRecord(job.conversation_id, "queued", source=job.source),
        )
        return record

    async def stop(self, conversation_id: str, reason: str) -> Any:
        await self._wait()
        self.stops.append((conversation_id, reason))
        return self.records.get(conversation_id)

    async def get(self, conversation_id: str) -> Any:
        await self._wait()
        return self.records.get(conversation_id)
