"""Dispatch benchmark: overhead, throughput, slow-neighbour impact and CLI start-up.

Run:  .venv/bin/python bench/bench_dispatch.py [--calls N] [--quick]

Measures, with the in-memory transport and the real session/dispatcher code:

1. overhead per tool call, from the app-message's arrival (``Session.on_message``) to
   the answer handed to the transport, for a no-op async and a no-op sync handler
   (p50 and p99, µs), once with outcome logging off (level warning) and once with every
   outcome rendered as a JSON log line (level info, written to /dev/null);
2. sustained tool calls per second in one process (async no-op handler);
3. what a 2-second handler (async sleep, and sync sleep in the thread pool) running at
   the same time adds to the latency of other calls (p50/p99 difference, µs);
4. wall time of ``cvibot --help`` (median of 15 runs, ms) and whether heavy modules
   (pydantic, daily) are imported by it.

Targets on a 2-core machine: async p50 <= 100 µs and p99 <= 1 ms; >= 10,000 calls/s;
a slow neighbour adds <= 1 ms; ``cvibot --help`` <= 250 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cvibot import tool
from cvibot.dispatch import DispatchPolicy
from cvibot.logging import configure_logging
from cvibot.session import Session
from cvibot.tools import ToolRegistry, get_tool_spec
from cvibot.transports.memory import MemoryTransport


@tool
async def noop_async(value: int) -> str:
    """Return at once."""
    return "ok"


@tool
def noop_sync(value: int) -> str:
    """Return at once, from the thread pool."""
    return "ok"


@tool(timeout=30)
async def slow_async(value: int) -> str:
    """Take two seconds without blocking the loop."""
    await asyncio.sleep(2)
    return "slow"


@tool(timeout=30)
def slow_sync(value: int) -> str:
    """Take two seconds in a pool thread."""
    time.sleep(2)
    return "slow"


class _Bench:
    def __init__(self) -> None:
        self.transport = MemoryTransport(on_send=self._sent)
        self.executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="bench-tool")
        specs = [get_tool_spec(f) for f in (noop_async, noop_sync, slow_async, slow_sync)]
        self.session = Session(
            transport=self.transport,
            tools=ToolRegistry.build([s for s in specs if s is not None]),
            policy=DispatchPolicy(max_concurrent_calls=10_000),
            executor=self.executor,
            conversation_id="bench",
        )
        self.seq = 0
        self.waiting: dict[str, tuple[int, asyncio.Future[int]]] = {}

    def _sent(self, message: Mapping[str, Any]) -> None:
        self.transport.sent.clear()  # keep memory flat over long runs
        call_id = message["properties"]["tool_call_id"]
        entry = self.waiting.pop(call_id, None)
        if entry is not None and not entry[1].done():
            entry[1].set_result(time.perf_counter_ns())

    def message(self, name: str) -> tuple[str, dict[str, Any]]:
        self.seq += 1
        call_id = f"call-{self.seq}"
        return call_id, {
            "message_type": "conversation",
            "event_type": "conversation.tool_call",
            "conversation_id": "bench",
            "seq": self.seq,
            "inference_id": f"inf-{self.seq}",
            "properties": {"name": name, "arguments": '{"value": 1}', "tool_call_id": call_id},
        }

    async def one(self, name: str) -> float:
        """Latency of one call in µs, arrival to transport."""
        call_id, message = self.message(name)
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.waiting[call_id] = (0, fut)
        start = time.perf_counter_ns()
        self.session.on_message(message)
        end = await fut
        return (end - start) / 1000

    async def latencies(self, name: str, n: int) -> list[float]:
        for _ in range(min(200, n)):  # warm-up
            await self.one(name)
        return [await self.one(name) for _ in range(n)]

    async def throughput(self, n: int, batch: int = 1000) -> float:
        start = time.perf_counter()
        done = 0
        while done < n:
            for _ in range(batch):
                self.session.on_message(self.message("noop_async")[1])
            await self.session.settled()
            done += batch
        return done / (time.perf_counter() - start)

    async def with_neighbour(
        self, slow: str, n: int, rounds: int = 5
    ) -> tuple[list[float], list[float]]:
        """Latencies without and with ``slow`` running, interleaved in ``rounds``.

        Each round measures a baseline series and then a series while the slow call runs,
        so drift of the machine's speed over the run affects both alike.
        """
        base: list[float] = []
        beside: list[float] = []
        per_round = max(1, n // rounds)
        for _ in range(rounds):
            base += [await self.one("noop_async") for _ in range(per_round)]
            self.session.on_message(self.message(slow)[1])
            await asyncio.sleep(0.02)  # the slow call is running
            beside += [await self.one("noop_async") for _ in range(per_round)]
            await self.session.settled()
        return base, beside


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _row(label: str, values: list[float]) -> str:
    return (
        f"  {label:<42} p50 {_pct(values, 50):8.1f} µs   p99 {_pct(values, 99):8.1f} µs"
        f"   (n={len(values)})"
    )


def _cli_startup(runs: int) -> tuple[float, bool, bool]:
    exe = shutil.which("cvibot", path=str(Path(sys.executable).parent)) or "cvibot"
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([exe, "--help"], check=True, capture_output=True)
        times.append((time.perf_counter() - start) * 1000)
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from cvibot.cli.main import cli; "
            "print(int('pydantic' in sys.modules), int('daily' in sys.modules))",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return statistics.median(times), probe[0] == "1", probe[1] == "1"


async def _main(calls: int, quick: bool) -> dict[str, Any]:
    results: dict[str, Any] = {}
    print(f"cvibot dispatch benchmark · Python {sys.version.split()[0]} · {os.cpu_count()} cores")
    print("overhead per tool call, arrival → answer handed to the transport")
    with open(os.devnull, "w") as sink:  # noqa: ASYNC230 - before any call is measured
        for level in ("warning", "info"):
            configure_logging(level, "json", stream=sink)
            bench = _Bench()
            for name in ("noop_async", "noop_sync"):
                lat = await bench.latencies(name, calls)
                label = f"{name.removeprefix('noop_')} handler, logging {level}"
                print(_row(label, lat))
                results[f"{name}_{level}"] = {"p50_us": _pct(lat, 50), "p99_us": _pct(lat, 99)}
            bench.executor.shutdown()

        configure_logging("warning", "json", stream=sink)
        bench = _Bench()
        rate = await bench.throughput(calls * 10 if not quick else calls)
        print(f"sustained throughput (async no-op, one process)   {rate:10,.0f} calls/s")
        results["throughput_calls_per_s"] = rate

        if not quick:
            print("latency of other calls while a 2-second handler runs (interleaved rounds)")
            for slow in ("slow_async", "slow_sync"):
                base, lat = await bench.with_neighbour(slow, 2000)
                print(_row("  no neighbour", base))
                print(_row(f"  beside {slow}", lat))
                added = {
                    "p50_us": _pct(lat, 50) - _pct(base, 50),
                    "p99_us": _pct(lat, 99) - _pct(base, 99),
                }
                print(f"    added: p50 {added['p50_us']:+.1f} µs, p99 {added['p99_us']:+.1f} µs")
                results[f"added_by_{slow}"] = added
        bench.executor.shutdown()

    median_ms, pydantic_loaded, daily_loaded = _cli_startup(5 if quick else 15)
    print(
        f"cvibot --help wall time (median)                  {median_ms:10.1f} ms"
        f"   (imports pydantic: {pydantic_loaded}, daily: {daily_loaded})"
    )
    results["cli_help_ms"] = median_ms
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=5000, help="calls per latency series")
    parser.add_argument("--quick", action="store_true", help="small run (for smoke checks)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    results = asyncio.run(_main(args.calls if not args.quick else 500, args.quick))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
