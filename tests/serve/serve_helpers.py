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

from cvibot.serve.signature import sign


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
