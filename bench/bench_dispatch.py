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
4. the Daily transport on the fake SDK (a real ``Bot`` + ``Session`` + ``DailyTransport``)
   beside a hand-written asyncio baseline on the same fake, in 20 interleaved rounds
   (a noisy neighbour's slow spell then hits both alike rather than one of them): the
   emitter thread's callback → ``loop.call_soon_threadsafe`` → a task → the tool (a
   ``run_in_executor`` for the sync one) → ``json.dumps`` → ``send_app_message``. Latency
   from the emitter thread to ``send_app_message``, one call at a time, and calls/s with
   1,000 in flight (median of the batches);
5. wall time of ``cvibot --help`` (median of 15 runs, ms) and whether heavy modules
   (pydantic, daily) are imported by it.

Part 4 runs in ``--processes`` fresh interpreters one after another (default 3): one
process's ratio moves with the machine's state during its few seconds, so each
process's ratios are printed and the summary gives their median.

The last line printed is one JSON object: ``daily_async_p50_ratio``,
``daily_async_throughput_ratio``, ``sync_p50_ratio`` (cvibot over the baseline, the
median over the processes; each process's own in ``*_runs``), ``daily_async_p50_us``,
``baseline_async_p50_us``, ``help_ms`` and more. Targets: p50 ratios <= 1.5, throughput
ratio >= 0.6. ``--daily-only`` runs parts 4 and 5 alone; ``CVIBOT_LOOP=uvloop`` runs
everything on uvloop.

Targets on a 2-core machine: async p50 <= 100 µs and p99 <= 1 ms; >= 10,000 calls/s;
a slow neighbour adds <= 1 ms; ``cvibot --help`` <= 250 ms.

The ratios depend on how fast a thread wakes, which both paths pay once per call (the
SDK's emitter thread, then the loop). On an idle machine a wake-up is slow and cvibot's
own work weighs less; with both threads on one busy core (``taskset -c 1``) a wake-up is
fast and the ratios are at their hardest. Run both when comparing changes.
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

from cvibot import hookimpl, tool
from cvibot._dispatch import DispatchPolicy
from cvibot._logging import configure_logging
from cvibot._runtime import Bot
from cvibot._session import Session
from cvibot.config import parse_config
from cvibot.tools import ToolRegistry, get_tool_spec
from cvibot.transports._daily import DailyTransport, ReconnectPolicy
from cvibot.transports._memory import MemoryTransport

# The fake Daily SDK is a test double of the repository: tests/doubles, package `doubles`.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from doubles.fake_daily import EventHandler, FakeCallClient, FakeDaily, participant


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


# -- the Daily transport on the fake SDK, beside hand-written asyncio ------------------

_URL = "https://tavus.daily.co/bench"
_REPLICA = participant("Replica", "tavus-replica-r1")
_BOT_CONFIG = """
conversation: {id: bench}
transport: {type: daily}
dispatch: {max_concurrent_calls: 100000, sync_workers: 8}
"""


class _BenchTools:
    """The bot's one plugin (built in): the two no-op tools."""

    @hookimpl
    def cvibot_register_tools(self, register: Any) -> None:
        register(noop_async)
        register(noop_sync)


class _Probe:
    """Arrival (stamped on the fake's emitter thread) and answer (stamped when the fake's
    ``send_app_message`` is called) times in ``perf_counter_ns``, and a wait for the next
    N answers. Both stamps may come from any thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.arrived: dict[str, int] = {}
        self.answered: dict[str, int] = {}
        self.failed = 0
        self._count = 0
        self._target = 0
        self._waiter: asyncio.Future[None] | None = None

    def arrive(self, message: Any) -> None:
        call_id = message["properties"].get("tool_call_id")
        if call_id is not None:
            self.arrived[call_id] = time.perf_counter_ns()

    def answer(self, message: Any) -> None:
        at = time.perf_counter_ns()
        props = message["properties"]
        if props.get("status") != "success":
            self.failed += 1
        self.answered[props["tool_call_id"]] = at
        self._count += 1
        waiter = self._waiter
        if waiter is not None and self._count >= self._target:
            self._waiter = None
            self.loop.call_soon_threadsafe(_settle, waiter)

    def expect(self, n: int) -> asyncio.Future[None]:
        waiter = self.loop.create_future()
        self._target, self._waiter = self._count + n, waiter
        return waiter

    def take(self, call_id: str) -> float:
        return (self.answered.pop(call_id) - self.arrived.pop(call_id)) / 1000


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _stamped_client(client: FakeCallClient, probe: _Probe) -> FakeCallClient:
    """``client`` with its ``send_app_message`` stamping each answer first."""
    send = client.send_app_message

    def send_app_message(message: Any, participant_id: Any = None, completion: Any = None) -> None:
        probe.answer(message)
        if len(client.sent) > 10_000:
            client.sent.clear()  # keep memory flat over long runs
        send(message, participant_id, completion=completion)

    client.send_app_message = send_app_message  # type: ignore[method-assign]
    return client


class _StampingHandler(EventHandler):  # type: ignore[misc]
    """Wraps the transport's event handler: stamps each app-message's arrival on the
    emitter thread, then hands it on."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        return super().__new__(cls)

    def __init__(self, inner: Any, probe: _Probe) -> None:
        self._inner = inner
        self._probe = probe

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("on_") and name != "on_app_message":
            return getattr(object.__getattribute__(self, "_inner"), name)
        return object.__getattribute__(self, name)

    def on_app_message(self, message: Any, sender: str) -> None:
        self._probe.arrive(message)
        self._inner.on_app_message(message, sender)


class _StampingDaily(FakeDaily):
    def __init__(self, probe: _Probe, **options: Any) -> None:
        super().__init__(**options)
        self.probe = probe

    def CallClient(self, event_handler: Any = None) -> FakeCallClient:
        wrapped = _StampingHandler(event_handler, self.probe) if event_handler else None
        return _stamped_client(super().CallClient(wrapped), self.probe)


class _Rig:
    """One way of answering tool calls that arrive on the fake's emitter thread."""

    label = ""
    client: FakeCallClient

    def __init__(self, probe: _Probe) -> None:
        self.probe = probe
        self.seq = 0

    def message(self, name: str) -> tuple[str, dict[str, Any]]:
        self.seq += 1
        call_id = f"{self.label}-{self.seq}"
        return call_id, {
            "message_type": "conversation",
            "event_type": "conversation.tool_call",
            "conversation_id": "bench",
            "seq": self.seq,
            "inference_id": f"inf-{self.seq}",
            "properties": {"name": name, "arguments": '{"value": 1}', "tool_call_id": call_id},
        }

    async def one(self, name: str) -> float:
        """Latency of one call in µs, emitter thread → send_app_message."""
        call_id, message = self.message(name)
        answered = self.probe.expect(1)
        self.client.inject_app_message(message, _REPLICA["id"])
        await answered
        return self.probe.take(call_id)

    async def burst(self, name: str, n: int) -> float:
        """Calls per second with ``n`` calls in flight at once (first arrival → last answer)."""
        answered = self.probe.expect(n)
        ids = []
        for _ in range(n):
            call_id, message = self.message(name)
            ids.append(call_id)
            self.client.inject_app_message(message, _REPLICA["id"])
        await answered
        first = min(self.probe.arrived[i] for i in ids)
        last = max(self.probe.answered[i] for i in ids)
        for i in ids:
            self.probe.take(i)
        return n / ((last - first) / 1e9)


class _CvibotRig(_Rig):
    """A real ``Bot`` + ``Session`` + ``DailyTransport`` on the fake SDK."""

    label = "cvibot"

    def __init__(self, probe: _Probe) -> None:
        super().__init__(probe)
        bot = Bot.from_config(
            parse_config(_BOT_CONFIG, path="bench.yaml"),
            autoload=False,
            builtins=[("bench", _BenchTools())],
        )
        self.fake = _StampingDaily(
            probe, join_outcome="ok", join_delay=0.0, remote_participants=[_REPLICA]
        )
        transport = DailyTransport(
            _URL,
            sdk=self.fake,
            join_timeout=5,
            leave_timeout=2,
            release_timeout=5,
            send_timeout=10,
            reconnect=ReconnectPolicy(enabled=False),
        )
        self.task = asyncio.create_task(bot.run(transport))

    async def ready(self) -> None:
        for _ in range(1000):
            if self.fake.clients and self.fake.client.joined:
                self.client = self.fake.client
                return
            await asyncio.sleep(0.005)
        raise TimeoutError("the fake call client never joined")

    async def stop(self) -> None:
        self.client.inject_app_message(
            {
                "message_type": "system",
                "event_type": "system.shutdown",
                "conversation_id": "bench",
                "properties": {"shutdown_reason": "bench_done"},
            },
            _REPLICA["id"],
        )
        await asyncio.wait_for(self.task, 15)


class _BaselineRig(_Rig):
    """What a careful user writes by hand: the emitter's callback hands the message to
    the loop (``call_soon_threadsafe``), a task runs the tool (in the executor for the
    sync one), the answer is ``json.dumps``-ed to check its size and sent."""

    label = "baseline"

    def __init__(self, probe: _Probe, executor: ThreadPoolExecutor) -> None:
        super().__init__(probe)
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[None]] = set()
        tools = {"noop_async": noop_async}
        client: FakeCallClient

        async def handle(message: Any) -> None:
            props = message["properties"]
            args = json.loads(props["arguments"])
            if props["name"] == "noop_sync":
                output = await loop.run_in_executor(executor, lambda: noop_sync(**args))
            else:
                output = await tools[props["name"]](**args)
            answer = {
                "message_type": "conversation",
                "event_type": "conversation.tool_result",
                "conversation_id": message["conversation_id"],
                "properties": {
                    "tool_call_id": props["tool_call_id"],
                    "output": output,
                    "status": "success",
                },
            }
            if len(json.dumps(answer).encode()) <= 4096:
                client.send_app_message(answer)

        def spawn(message: Any) -> None:
            task = loop.create_task(handle(message))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        class Handler(EventHandler):  # type: ignore[misc]
            def on_app_message(self, message: Any, sender: str) -> None:
                loop.call_soon_threadsafe(spawn, message)

        fake = FakeDaily(join_outcome="ok", join_delay=0.0, remote_participants=[_REPLICA])
        fake.Daily.init()
        client = fake.CallClient(_StampingHandler(Handler(), probe))
        self.client = _stamped_client(client, probe)
        self.client.join(_URL)

    async def ready(self) -> None:
        for _ in range(1000):
            if self.client.joined:
                return
            await asyncio.sleep(0.005)
        raise TimeoutError("the fake call client never joined")

    async def stop(self) -> None:
        self.client.release()


async def _daily_part(calls: int, rounds: int, total: int, batch: int) -> dict[str, Any]:
    """cvibot's Daily transport and the hand-written baseline, on the fake SDK, in
    interleaved rounds, so machine drift affects both alike."""
    loop = asyncio.get_running_loop()
    executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="bench-baseline")
    rigs: dict[str, _CvibotRig | _BaselineRig] = {
        "cvibot": _CvibotRig(_Probe(loop)),
        "baseline": _BaselineRig(_Probe(loop), executor),
    }
    for rig in rigs.values():
        await rig.ready()
    tools = ("noop_async", "noop_sync")
    series: dict[tuple[str, str], list[float]] = {(r, t): [] for r in rigs for t in tools}
    rates: dict[str, list[float]] = {r: [] for r in rigs}
    per_round = max(1, calls // rounds)
    bursts = max(1, total // batch // rounds)
    async with asyncio.timeout(300):
        for rig in rigs.values():  # warm-up
            for name in tools:
                for _ in range(min(200, calls)):
                    await rig.one(name)
            await rig.burst("noop_async", batch)
        for r in range(rounds):
            order = list(rigs)[r % 2 :] + list(rigs)[: r % 2]
            for label in order:
                for name in tools:
                    series[label, name] += [await rigs[label].one(name) for _ in range(per_round)]
                for _ in range(bursts):
                    rates[label].append(await rigs[label].burst("noop_async", batch))
    results: dict[str, Any] = {}
    print("Daily transport on the fake SDK: emitter thread → send_app_message, one call at a time")
    for name in tools:
        for label in rigs:
            print(_row(f"{name.removeprefix('noop_')} handler, {label}", series[label, name]))
            results[f"daily_{name}_{label}_p50_us"] = _pct(series[label, name], 50)
    for label in rigs:
        rate = statistics.median(rates[label])
        print(f"  {label:<8} throughput, {batch} calls in flight (median) {rate:10,.0f} calls/s")
        results[f"daily_throughput_{label}"] = rate
    await rigs["cvibot"].stop()
    await rigs["baseline"].stop()
    executor.shutdown()
    failed = sum(rig.probe.failed for rig in rigs.values())
    if failed:
        print(f"  PROBLEM: {failed} calls answered with an error")
    results["daily_failed"] = failed
    return results


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
            "import sys; from cvibot._cli.main import cli; "
            "print(int('pydantic' in sys.modules), int('daily' in sys.modules))",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return statistics.median(times), probe[0] == "1", probe[1] == "1"


async def _daily_child(calls: int, quick: bool) -> dict[str, Any]:
    """One process's Daily comparison (``--daily-child``): its rows, then its figures
    as the last line."""
    with open(os.devnull, "w") as sink:  # noqa: ASYNC230 - before any call is measured
        configure_logging("warning", "json", stream=sink)
        return await _daily_part(calls, 20, 10_000 if not quick else 2_000, 1000)


def _daily_in_processes(calls: int, quick: bool, processes: int) -> list[dict[str, Any]]:
    """The Daily comparison in ``processes`` fresh interpreters, one after another.

    One process's ratio moves with what the machine does during its few seconds (a
    neighbour's load on a shared host slows the longer path more) and with its own
    layout in memory; separate processes sample both, and their median is the figure.
    """
    runs = []
    command = [sys.executable, __file__, "--daily-child", "--calls", str(calls)]
    for i in range(1, processes + 1):
        done = subprocess.run(
            command + (["--quick"] if quick else []), check=True, capture_output=True, text=True
        )
        *rows, last = done.stdout.splitlines()
        print(f"[process {i} of {processes}] " + "\n".join(rows))
        runs.append(json.loads(last))
    return runs


async def _main(calls: int, quick: bool, daily_only: bool, processes: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    print(f"cvibot dispatch benchmark · Python {sys.version.split()[0]} · {os.cpu_count()} cores")
    print("overhead per tool call, arrival → answer handed to the transport")
    with open(os.devnull, "w") as sink:  # noqa: ASYNC230 - before any call is measured
        for level in ("warning", "info") if not daily_only else ():
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
        if not daily_only:
            rate = await bench.throughput(calls * 10 if not quick else calls)
            print(f"sustained throughput (async no-op, one process)   {rate:10,.0f} calls/s")
            results["throughput_calls_per_s"] = rate

        if not quick and not daily_only:
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

    runs = _daily_in_processes(calls, quick, processes)
    for i, run in enumerate(runs, 1):
        results[f"daily_process_{i}"] = run

    median_ms, pydantic_loaded, daily_loaded = _cli_startup(5 if quick else 15)
    print(
        f"cvibot --help wall time (median)                  {median_ms:10.1f} ms"
        f"   (imports pydantic: {pydantic_loaded}, daily: {daily_loaded})"
    )
    results["cli_help_ms"] = median_ms
    ratios = {
        "daily_async_p50_ratio": [
            r["daily_noop_async_cvibot_p50_us"] / r["daily_noop_async_baseline_p50_us"]
            for r in runs
        ],
        "daily_async_throughput_ratio": [
            r["daily_throughput_cvibot"] / r["daily_throughput_baseline"] for r in runs
        ],
        "sync_p50_ratio": [
            r["daily_noop_sync_cvibot_p50_us"] / r["daily_noop_sync_baseline_p50_us"] for r in runs
        ],
    }
    figures = {
        "daily_async_p50_us": "daily_noop_async_cvibot_p50_us",
        "baseline_async_p50_us": "daily_noop_async_baseline_p50_us",
        "daily_sync_p50_us": "daily_noop_sync_cvibot_p50_us",
        "baseline_sync_p50_us": "daily_noop_sync_baseline_p50_us",
        "daily_async_calls_per_s": "daily_throughput_cvibot",
        "baseline_async_calls_per_s": "daily_throughput_baseline",
    }
    summary: dict[str, Any] = {
        name: round(statistics.median(values), 3) for name, values in ratios.items()
    }
    for name, key in figures.items():
        value = statistics.median(r[key] for r in runs)
        summary[name] = round(value, 1) if name.endswith("_us") else round(value)
    summary["help_ms"] = round(median_ms, 1)
    summary["loop"] = type(asyncio.get_running_loop()).__module__.split(".")[0]
    summary["processes"] = len(runs)
    for name, values in ratios.items():  # each process's own ratio, for the spread
        summary[f"{name}_runs"] = [round(v, 3) for v in values]
    if len(runs) > 1:
        print(
            f"ratios, median of {len(runs)} processes: "
            + ", ".join(f"{name} {summary[name]}" for name in ratios)
        )
    results["summary"] = summary
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=5000, help="calls per latency series")
    parser.add_argument("--quick", action="store_true", help="small run (for smoke checks)")
    parser.add_argument(
        "--daily-only", action="store_true", help="only the Daily comparison and --help"
    )
    parser.add_argument(
        "--processes",
        type=int,
        help="fresh processes the Daily comparison runs in, one after another "
        "(default 3, 1 with --quick); the ratios printed last are their medians",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--daily-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    factory = None
    if os.environ.get("CVIBOT_LOOP") == "uvloop":  # both paths measured on uvloop
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        calls = args.calls if not args.quick else 500
        if args.daily_child:
            print(json.dumps(runner.run(_daily_child(calls, args.quick))))
            return
        processes = args.processes if args.processes is not None else (1 if args.quick else 3)
        results = runner.run(_main(calls, args.quick, args.daily_only, max(1, processes)))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print(json.dumps(results["summary"]))  # the last line: the figures against the targets


if __name__ == "__main__":
    main()
