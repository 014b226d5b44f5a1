"""``cvibot serve`` benchmark: one host serving N conversations on the fake Daily SDK.

Run:  .venv/bin/python bench/bench_serve.py [--conversations N] [--quick]

One :class:`cvibot.serve._host.SessionHost` with the ``local`` backend and capacity N
takes N conversations (each a fake Daily room with the replica in it), the replica of
each sends one ``lookup_order`` tool call, then each conversation ends
(``system.shutdown``). Measured: the time from the first enqueue until all N rooms are
joined; RSS (``/proc/self/status`` VmRSS) and OS threads per served conversation (the
fake SDK has one emitter thread per client, as the real one has its own native threads:
see bench_daily.py for the real SDK's figures); tool-call latency through the host
(arrival → answer sent, the call fence included) p50/p99; and the time until every
conversation is recorded ``ended``. The last line is one JSON object of these figures.
Only the fake SDK: no network.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "serve"))

from serve_helpers import REPLICA, Rooms, hosting, job, shutdown, tool_call

from cvibot._dispatch import ToolOutcome
from cvibot._listening import SessionListener
from cvibot._runtime import Bot
from cvibot.config import load_config

TOOLS = '''
from cvibot import tool

@tool
async def lookup_order(order_id: str) -> str:
    """Look up an order."""
    return f"order {order_id} has shipped"
'''


def status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class Latencies(SessionListener):
    def __init__(self) -> None:
        self.seconds: list[float] = []

    def on_outcome(self, outcome: ToolOutcome) -> None:
        self.seconds.append(outcome.latency)


async def measure(bot: Bot, n: int) -> dict[str, Any]:
    rooms = Rooms(join_delay=0.01, remote_participants=[REPLICA])
    latencies = Latencies()
    rss0, threads0 = status("VmRSS"), status("Threads")
    async with hosting(bot, rooms=rooms, capacity=n, api_token=None) as running:
        running.host._listeners = (*running.host._listeners, latencies)
        started = time.perf_counter()
        for i in range(n):
            await running.backend.enqueue(job(f"c{i}"))
        while sum(1 for s in running.host.states().values() if s == "active") < n:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        joined = time.perf_counter() - started
        rss1, threads1 = status("VmRSS"), status("Threads")
        for i in range(n):
            rooms.say(f"c{i}", tool_call(f"c{i}", f"call-{i}", order_id=str(i)))
        while len(latencies.seconds) < n:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        ending = time.perf_counter()
        for i in range(n):
            rooms.say(f"c{i}", shutdown(f"c{i}"))
        while running.host.active:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        ended = time.perf_counter() - ending
        records = await running.backend.list("ended", n)
    cuts = statistics.quantiles(latencies.seconds, n=100)
    return {
        "conversations": n,
        "all_joined_s": round(joined, 3),
        "rss_kib_per_conversation": round((rss1 - rss0) / n, 1),
        "threads_per_conversation": round((threads1 - threads0) / n, 2),
        "tool_call_p50_ms": round(cuts[49] * 1000, 3),
        "tool_call_p99_ms": round(cuts[98] * 1000, 3),
        "all_ended_s": round(ended, 3),
        "recorded_ended": len(records),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="50 conversations")
    args = parser.parse_args()
    n = 50 if args.quick else args.conversations
    import structlog

    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(40)  # errors only
    )
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "bench_serve_tools.py").write_text(TOOLS, encoding="utf-8")
        config = Path(folder) / "bot.yaml"
        config.write_text(
            textwrap.dedent(
                """
                transport: {type: daily}
                plugins: [bench_serve_tools]
                """
            ),
            encoding="utf-8",
        )
        bot = Bot.from_config(load_config(config), autoload=False)
        figures = asyncio.run(measure(bot, n))
    print(f"machine: {sys.platform}, python {sys.version.split()[0]}; fake Daily SDK")
    for key, value in figures.items():
        print(f"{key:>28}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
