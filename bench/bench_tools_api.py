"""delivery.api benchmark: what ``POST /v1/tools/tavus`` adds to a tool call.

Run:  .venv/bin/python bench/bench_tools_api.py [--calls N] [--quick]

In process, through ``httpx.ASGITransport`` (no sockets, so the figures are cvibot's
own cost, not the network's or uvicorn's), with the bot held started as ``cvibot serve``
holds it:

1. a signed call of a no-op ``async def`` tool and of a no-op sync tool, one at a time:
   p50/p99/max of the request's round trip, µs (signature check, parse, a room-less
   session, dispatch, answer);
2. a redelivered ``tool_call_id`` (the answer from the cache, no handler);
3. a request with a wrong signature (refused before the body is parsed);
0. first, the floor: a Starlette route that answers ``ok`` at once, through the same
   client (httpx + ASGI cost), so the rows above minus it are cvibot's own;
4. sustained calls/s with 32 requests in flight.

Figures are printed, the last line one JSON object; nothing is asserted beyond every
call being answered with success.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import time
from collections.abc import Awaitable, Callable

import httpx
import structlog
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from cvibot.serve._signature import sign
from cvibot.serve._tools_api import DeliveryApiOptions, tools_api_routes
from cvibot.testing._assembly import build_bot, load_test_config
from cvibot.tools import tool

SECRET = "bench-secret-0123456789"


@tool
async def noop_async(n: int) -> str:
    """Do nothing."""
    return "ok"


@tool
def noop_sync(n: int) -> str:
    """Do nothing, in a thread."""
    return "ok"


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_us": round(statistics.median(ordered) * 1e6, 1),
        "p99_us": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e6, 1),
        "max_us": round(ordered[-1] * 1e6, 1),
    }


async def _timed(calls: int, one: Callable[[int], Awaitable[None]]) -> list[float]:
    samples = []
    for i in range(calls):
        started = time.perf_counter()
        await one(i)
        samples.append(time.perf_counter() - started)
    return samples


async def _floor(request: Request) -> PlainTextResponse:
    await request.body()
    return PlainTextResponse("ok")


async def main(calls: int) -> dict[str, object]:
    # Outcome lines at INFO would measure the terminal: warnings only, as in production.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    bot, _ = build_bot(load_test_config({}), tools=[noop_async, noop_sync])
    options = DeliveryApiOptions.model_validate({"secret": SECRET})
    routes = tools_api_routes(options, bot=bot, registry=CollectorRegistry())
    app = Starlette(routes=[*routes, Route("/floor", _floor, methods=["POST"])])
    figures: dict[str, object] = {"calls": calls}
    async with (
        bot.active(),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as client,
    ):

        def body(name: str, i: int, tag: str) -> bytes:
            payload = {"name": name, "arguments": json.dumps({"n": i}), "tool_call_id": f"{tag}{i}"}
            return json.dumps(payload).encode()

        async def signed(raw: bytes, header: str | None = None) -> httpx.Response:
            signature = header if header is not None else sign(SECRET.encode(), raw)
            return await client.post(
                "/v1/tools/tavus", content=raw, headers={"x-tavus-signature": signature}
            )

        async def floor(i: int) -> None:
            response = await client.post("/floor", content=body("noop_async", i, "x"))
            assert response.text == "ok"

        await _timed(min(200, calls), floor)
        figures["floor_asgi"] = _stats(await _timed(calls, floor))
        for name in ("noop_async", "noop_sync"):

            async def one(i: int, name: str = name) -> None:
                response = await signed(body(name, i, name))
                assert response.status_code == 200 and response.text == "ok", response.text

            await _timed(min(200, calls), one)  # warm-up
            figures[name] = _stats(await _timed(calls, one))

        async def again(i: int) -> None:
            response = await signed(body("noop_async", i, "noop_async"))
            assert response.text == "ok"

        figures["redelivered"] = _stats(await _timed(calls, again))

        async def forged(i: int) -> None:
            response = await signed(body("noop_async", i, "f"), "0" * 64)
            assert response.status_code == 401

        figures["wrong_signature"] = _stats(await _timed(calls, forged))

        started = time.perf_counter()
        done = 0

        async def worker(w: int) -> None:
            nonlocal done
            for i in range(calls // 32):
                response = await signed(body("noop_async", i, f"s{w}-"))
                assert response.text == "ok"
                done += 1

        await asyncio.gather(*(worker(w) for w in range(32)))
        figures["sustained_calls_per_s"] = round(done / (time.perf_counter() - started))
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="300 calls")
    args = parser.parse_args()
    result = asyncio.run(main(300 if args.quick else args.calls))
    for key, value in result.items():
        print(f"{key:24} {value}")
    print(json.dumps(result))
