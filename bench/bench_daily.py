"""Daily benchmark: call-client footprint (real SDK) and the Daily bridge's dispatch cost.

Run:  .venv/bin/python bench/bench_daily.py [--clients 1,10,50,100] [--calls N] [--quick]

Measures:

1. memory and OS threads per conversation with the **real** daily-python SDK: after one
   ``Daily.init()``, N ``daily.CallClient`` objects in one process, unjoined (there is
   no network here). RSS and thread count come from /proc/self/status (VmRSS, Threads)
   before and after; per-client deltas (average, and marginal: beyond the first client,
   which costs more); create time; and the release time of all N clients, each released
   in its own daemon thread with a bounded wait. Twice: bare ``CallClient()``, and
   clients set up as ``DailyTransport.open()`` sets up its own before the join (an
   ``EventHandler`` subclass, ``set_user_name``, ``update_subscription_profiles``).
   ``DailyTransport`` creates its call client only in ``open()``, which joins, so its
   clients cannot be had unjoined: the raw clients stand in for them, and N unopened
   ``DailyTransport`` objects are measured on their own (Python state, no client).
   Every N runs in a fresh child process: the SDK's native threads never reach part 2,
   and one N's freed memory does not flatter the next;
2. dispatch overhead through the Daily bridge, with the fake SDK
   (:mod:`doubles.fake_daily`) under a real ``Bot`` + ``Session`` +
   ``DailyTransport``: from the moment a ``conversation.tool_call`` from the replica's
   participant reaches the event handler on the fake's emitter thread
   (``time.perf_counter()`` taken there) to the moment the fake's ``send_app_message``
   receives the ``conversation.tool_result`` (taken there), for a no-op async and a
   no-op sync tool: p50/p90/p99/max in µs, one call at a time; then sustained calls/s
   with a batch of calls in flight. The same tools through the same ``Bot`` on a
   ``MemoryTransport`` (push → send), and bench_dispatch.py's own figure
   (``Session.on_message`` → send, no transport), run in interleaved rounds with the
   Daily series, so machine drift affects every row alike and the bridge's own cost
   is the difference.

Only public APIs of cvibot are used. Figures are printed; nothing is asserted beyond
sanity (every call answered once, with success).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.metadata
import json
import os
import subprocess
import sys
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cvibot import hookimpl
from cvibot._logging import configure_logging
from cvibot._runtime import Bot
from cvibot.config import parse_config
from cvibot.transports._daily import DailyTransport, ReconnectPolicy, pending_releases
from cvibot.transports._memory import MemoryTransport

# The no-op tools and the percentile are bench_dispatch.py's, so both benchmarks measure
# the same handlers the same way. Imported without writing a bench/__pycache__. The fake
# Daily SDK is a test double of the repository: tests/doubles, the package `doubles`.
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1] / "tests"))
from doubles.fake_daily import EventHandler, FakeCallClient, FakeDaily, participant

sys.dont_write_bytecode, _writes = True, sys.dont_write_bytecode
import bench_dispatch  # noqa: E402
from bench_dispatch import _pct, noop_async, noop_sync  # noqa: E402

sys.dont_write_bytecode = _writes

URL = "https://tavus.daily.co/bench"
CONVERSATION = "bench"
REPLICA = participant("Replica", "tavus-replica-r1")
CONFIG = f"""
conversation: {{id: {CONVERSATION}}}
transport: {{type: daily}}
dispatch: {{max_concurrent_calls: 100000, sync_workers: 8}}
"""
# What DailyTransport.open() asks of its client before the join (media: none at all).
PROFILES: dict[str, Any] = {
    "base": {
        "camera": "unsubscribed",
        "microphone": "unsubscribed",
        "screenVideo": "unsubscribed",
        "screenAudio": "unsubscribed",
    }
}


class _BenchTools:
    """The bot's one plugin (built in): the two no-op tools."""

    @hookimpl
    def cvibot_register_tools(self, register: Callable[..., None]) -> None:
        register(noop_async)
        register(noop_sync)


# -- small helpers -----------------------------------------------------------------------


def _status() -> tuple[float, int]:
    """(RSS in MiB, OS threads) of this process, from /proc/self/status."""
    rss_kib = threads = 0
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss_kib = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    return rss_kib / 1024, threads


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_us": _pct(values, 50),
        "p90_us": _pct(values, 90),
        "p99_us": _pct(values, 99),
        "max_us": max(values),
        "n": len(values),
    }


def _row(label: str, values: list[float]) -> str:
    s = _summary(values)
    return (
        f"    {label:<40} p50 {s['p50_us']:7.1f}  p90 {s['p90_us']:7.1f}  "
        f"p99 {s['p99_us']:7.1f}  max {s['max_us']:8.1f} µs  (n={len(values)})"
    )


def _sdk_version() -> str:
    try:
        return importlib.metadata.version("daily-python")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


# -- part 1: the real SDK, in a child process per N --------------------------------------


def _child(mode: str, n: int, release_timeout: float) -> None:
    """Create ``n`` unjoined clients with the real SDK, measure, release; print JSON.

    Runs in a process of its own. ``Daily.init()`` runs once; ``Daily.deinit()`` only
    once every client is released (a client released after a deinit aborts the process).
    """
    out: dict[str, Any] = {"mode": mode, "n": n}
    if mode == "transport":
        gc.collect()
        tracemalloc.start()
        rss0, threads0 = _status()
        transports = [DailyTransport(f"{URL}{i}") for i in range(n)]
        gc.collect()
        rss1, threads1 = _status()
        traced, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out["transport_objects"] = {
            "rss_mib": rss1 - rss0,
            "traced_bytes": traced,
            "threads": threads1 - threads0,
        }
        del transports

    import daily

    out["import"] = _status()
    daily.Daily.init()
    out["init"] = _status()

    profiles_done = threading.Semaphore(0)

    class Handler(daily.EventHandler):  # type: ignore[misc]
        """No-op versions of the callbacks DailyTransport's handler implements."""

        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            return super().__new__(cls)

        def on_app_message(self, message: Any, sender: str) -> None: ...
        def on_participant_joined(self, participant: Any) -> None: ...
        def on_participant_updated(self, participant: Any) -> None: ...
        def on_participant_left(self, participant: Any, reason: str) -> None: ...
        def on_call_state_updated(self, state: str) -> None: ...
        def on_network_connection_status_updated(self, status: Any) -> None: ...
        def on_error(self, message: str) -> None: ...

    def make() -> Any:
        if mode == "raw":
            return daily.CallClient()
        client = daily.CallClient(event_handler=Handler())
        client.set_user_name("cvibot")
        client.update_subscription_profiles(
            PROFILES, completion=lambda error: profiles_done.release()
        )
        return client

    clients: list[Any] = []
    started = time.perf_counter()
    clients.append(make())
    first_s = time.perf_counter() - started
    out["first"] = _status()
    clients.extend(make() for _ in range(n - 1))
    out["create_s"] = time.perf_counter() - started
    out["first_create_s"] = first_s
    if mode == "transport":
        deadline = time.monotonic() + 5
        confirmed = sum(
            profiles_done.acquire(timeout=max(0.0, deadline - time.monotonic())) for _ in range(n)
        )
        out["profiles_confirmed"] = confirmed
    time.sleep(0.1)  # let the native threads finish starting
    out["all"] = _status()

    errors: list[str] = []

    def release(client: Any) -> None:
        try:
            client.release()
        except Exception as exc:  # report, never raise in a thread
            errors.append(f"{type(exc).__name__}: {exc}")

    releasers = [threading.Thread(target=release, args=(c,), daemon=True) for c in clients]
    started = time.perf_counter()
    for thread in releasers:
        thread.start()
    deadline = time.monotonic() + release_timeout
    for thread in releasers:
        thread.join(max(0.0, deadline - time.monotonic()))
    out["release_s"] = time.perf_counter() - started
    out["released"] = sum(not t.is_alive() for t in releasers) - len(errors)
    out["release_errors"] = errors[:3]
    out["after_release"] = _status()
    clean = out["released"] == n
    if clean:
        del clients, releasers
        gc.collect()
        daily.Daily.deinit()
        out["after_deinit"] = _status()
    print(json.dumps(out), flush=True)
    if not clean:
        os._exit(0)  # a release is still running: never let finalisation meet it


def _run_child(mode: str, n: int, release_timeout: float) -> dict[str, Any] | str:
    """The child's figures, or a one-line reason it failed."""
    command = [sys.executable, __file__, "--child", mode, str(n)]
    command += ["--release-timeout", str(release_timeout)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60 + release_timeout)
    except subprocess.TimeoutExpired:
        return "child timed out (killed)"
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no stderr"])[-1][:160]
        return f"child exit status {done.returncode}: {tail}"
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _clients_part(counts: list[int], release_timeout: float) -> dict[str, Any]:
    results: dict[str, Any] = {}
    print(
        "1. memory and OS threads per call client: real daily-python, unjoined, "
        "a fresh child process per N"
    )
    titles = {
        "raw": "bare CallClient() after one Daily.init()",
        "transport": (
            "set up as DailyTransport.open() does before its join (EventHandler, "
            "set_user_name, update_subscription_profiles)"
        ),
    }
    for mode in ("raw", "transport"):
        print(f"  {titles[mode]}")
        rows: list[dict[str, Any]] = []
        for n in counts:
            got = _run_child(mode, n, release_timeout)
            if isinstance(got, str):
                print(f"    N={n:<4} {got}")
                rows.append({"n": n, "error": got})
                continue
            rows.append(got)
            if len(rows) == 1 or "error" in rows[-2]:
                (rss_i, thr_i), (rss_0, thr_0) = got["import"], got["init"]
                print(
                    f"    child: cvibot+daily imported {rss_i:.1f} MiB, {thr_i} thread(s); "
                    f"after Daily.init() {rss_0:.1f} MiB, {thr_0} threads"
                )
                print(
                    "       N  create ms  µs/client  RSS@N MiB  ΔRSS/client  marginal  "
                    "threads  Δthr/client  release ms  after release         after deinit"
                )
            rss_0, thr_0 = got["init"]
            rss_1, _ = got["first"]
            rss_n, thr_n = got["all"]
            rss_r, thr_r = got["after_release"]
            per = (rss_n - rss_0) / n
            marginal = f"{(rss_n - rss_1) / (n - 1) * 1024:4.0f} KiB" if n > 1 else "       —"
            deinit = got.get("after_deinit")
            deinit_text = f"{deinit[0]:.1f} MiB, {deinit[1]} thr" if deinit else "skipped"
            released = "" if got["released"] == n else f"  ({got['released']}/{n} released)"
            print(
                f"    {n:4d}  {got['create_s'] * 1e3:9.1f}  {got['create_s'] / n * 1e6:9.0f}"
                f"  {rss_n:9.1f}  {per * 1024:8.0f} KiB  {marginal}"
                f"  {thr_n:7d}  {(thr_n - thr_0) / n:11.1f}  {got['release_s'] * 1e3:10.1f}"
                f"  {rss_r:5.1f} MiB, {thr_r:3d} thr  {deinit_text}{released}"
            )
            if mode == "transport" and got.get("profiles_confirmed", n) != n:
                print(f"          only {got['profiles_confirmed']}/{n} profile updates confirmed")
            if got["release_errors"]:
                print(f"          release errors: {got['release_errors']}")
        results[mode] = rows
    objects = [r for r in results["transport"] if "transport_objects" in r]
    if objects:
        print(
            "  DailyTransport objects, unopened (no call client: DailyTransport creates it "
            "in open(), which joins)"
        )
        for r in objects:
            t = r["transport_objects"]
            print(
                f"    {r['n']:4d} objects: {t['traced_bytes'] / 1024:7.1f} KiB allocated "
                f"(tracemalloc; {t['traced_bytes'] / r['n']:6,.0f} B/object), "
                f"ΔRSS {t['rss_mib'] * 1024:5.0f} KiB, threads {t['threads']:+d}"
            )
    return results


# -- part 2: the Daily bridge with the fake SDK ------------------------------------------


def _call_id(message: Any) -> str | None:
    props = message.get("properties") if isinstance(message, Mapping) else None
    call_id = props.get("tool_call_id") if isinstance(props, Mapping) else None
    return call_id if isinstance(call_id, str) else None


class _Probe:
    """Arrival and answer timestamps (``perf_counter`` s) by tool_call_id, and a wait
    for the next N answers. ``arrive`` and ``answer`` may run on any thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.arrived: dict[str, float] = {}
        self.answered: dict[str, float] = {}
        self.statuses: Counter[str] = Counter()
        self.duplicates = 0
        self.fake_send_s = 0.0
        """Time spent inside the fake's own ``send_app_message`` (its JSON round trip)."""
        self._count = 0
        self._target = 0
        self._waiter: asyncio.Future[None] | None = None

    def arrive(self, call_id: str | None, at: float) -> None:
        if call_id is not None:
            self.arrived[call_id] = at

    def answer(self, message: Any) -> None:
        at = time.perf_counter()
        if not isinstance(message, Mapping):
            return
        if message.get("event_type") != "conversation.tool_result":
            return
        call_id = _call_id(message)
        if call_id is None:
            return
        if call_id in self.answered:
            self.duplicates += 1
        self.answered[call_id] = at
        self.statuses[str(message["properties"].get("status"))] += 1
        self._count += 1
        waiter = self._waiter
        if waiter is not None and self._count >= self._target:
            self._waiter = None
            self.loop.call_soon_threadsafe(_settle, waiter)

    def expect(self, n: int) -> asyncio.Future[None]:
        """A future done once ``n`` more answers came (ask before sending the calls)."""
        waiter = self.loop.create_future()
        self._target = self._count + n
        self._waiter = waiter
        return waiter

    def take(self, call_id: str) -> float:
        """The call's latency in µs (and forget it)."""
        return (self.answered.pop(call_id) - self.arrived.pop(call_id)) * 1e6


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _StampingHandler(EventHandler):  # type: ignore[misc]
    """Wraps the transport's event handler: stamps each app-message's arrival on the
    emitter thread, then hands it on; every other callback goes straight through."""

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
        at = time.perf_counter()
        self._probe.arrive(_call_id(message), at)
        self._inner.on_app_message(message, sender)


class _StampingDaily(FakeDaily):
    """The fake SDK, its clients stamping arrivals (emitter) and answers (send call)."""

    def __init__(self, probe: _Probe, **client_options: Any) -> None:
        super().__init__(**client_options)
        self.probe = probe

    def CallClient(self, event_handler: Any = None) -> FakeCallClient:
        wrapped = _StampingHandler(event_handler, self.probe) if event_handler else None
        client = super().CallClient(wrapped)
        send = client.send_app_message
        probe = self.probe

        def send_app_message(
            message: Any,
            participant_id: str | None = None,
            completion: Callable[[str | None], None] | None = None,
        ) -> None:
            probe.answer(message)
            started = time.perf_counter()
            try:
                send(message, participant_id, completion=completion)
            finally:
                probe.fake_send_s += time.perf_counter() - started

        client.send_app_message = send_app_message  # type: ignore[method-assign]
        return client


class _Rig:
    """One conversation of the bot: inject tool calls, measure them."""

    label = ""

    def __init__(self, probe: _Probe) -> None:
        self.probe = probe
        self.seq = 0

    def message(self, name: str) -> tuple[str, dict[str, Any]]:
        self.seq += 1
        call_id = f"{self.label}-{self.seq}"
        return call_id, {
            "message_type": "conversation",
            "event_type": "conversation.tool_call",
            "conversation_id": CONVERSATION,
            "seq": self.seq,
            "inference_id": f"inf-{self.seq}",
            "properties": {"name": name, "arguments": '{"value": 1}', "tool_call_id": call_id},
        }

    def inject(self, message: dict[str, Any]) -> None:
        raise NotImplementedError

    async def one(self, name: str) -> float:
        call_id, message = self.message(name)
        answered = self.probe.expect(1)
        self.inject(message)
        await answered
        return self.probe.take(call_id)

    async def burst(self, name: str, n: int) -> tuple[float, float, list[float]]:
        """``n`` calls in flight at once: (seconds from the first injection to the last
        answer, seconds of it spent in the fake's send_app_message, each call's latency
        in µs)."""
        ids = []
        answered = self.probe.expect(n)
        fake_before = self.probe.fake_send_s
        started = time.perf_counter()
        for _ in range(n):
            call_id, message = self.message(name)
            ids.append(call_id)
            self.inject(message)
        await answered
        last = max(self.probe.answered[i] for i in ids)
        fake = self.probe.fake_send_s - fake_before
        return last - started, fake, [self.probe.take(i) for i in ids]


class _DailyRig(_Rig):
    label = "daily"

    def __init__(self, bot: Bot, probe: _Probe) -> None:
        super().__init__(probe)
        self.fake = _StampingDaily(
            probe, join_outcome="ok", join_delay=0.0, remote_participants=[REPLICA]
        )
        self.transport = DailyTransport(
            URL,
            sdk=self.fake,
            join_timeout=5,
            leave_timeout=2,
            release_timeout=5,
            send_timeout=10,
            reconnect=ReconnectPolicy(enabled=False),
        )
        self.task = asyncio.create_task(bot.run(self.transport))

    async def ready(self) -> None:
        for _ in range(1000):
            if self.fake.clients and self.fake.client.joined:
                return
            await asyncio.sleep(0.005)
        raise TimeoutError("the fake call client never joined")

    def inject(self, message: dict[str, Any]) -> None:
        self.fake.client.inject_app_message(message, REPLICA["id"])

    async def stop(self) -> None:
        self.fake.client.inject_app_message(
            {
                "message_type": "system",
                "event_type": "system.shutdown",
                "conversation_id": CONVERSATION,
                "properties": {"shutdown_reason": "bench_done"},
            },
            REPLICA["id"],
        )
        await asyncio.wait_for(self.task, 15)


class _MemoryRig(_Rig):
    label = "memory"

    def __init__(self, bot: Bot, probe: _Probe) -> None:
        super().__init__(probe)
        self.transport = MemoryTransport(on_send=self._sent)
        self.transport.push_participant("joined", REPLICA)
        self.task = asyncio.create_task(bot.run(self.transport))

    def _sent(self, message: Mapping[str, Any]) -> None:
        self.probe.answer(message)
        self.transport.sent.clear()  # keep memory flat over long runs

    def inject(self, message: dict[str, Any]) -> None:
        self.probe.arrive(_call_id(message), time.perf_counter())
        self.transport.push(message, REPLICA["id"])

    async def stop(self) -> None:
        self.transport.end()
        await asyncio.wait_for(self.task, 15)


async def _dispatch_part(calls: int, rounds: int, total: int, batch: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    loop = asyncio.get_running_loop()
    bot = Bot.from_config(
        parse_config(CONFIG, path="bench-daily.yaml"),
        autoload=False,
        builtins=[("bench_daily", _BenchTools())],
    )
    daily_rig = _DailyRig(bot, _Probe(loop))
    memory_rig = _MemoryRig(bot, _Probe(loop))
    await daily_rig.ready()
    dispatch = bench_dispatch._Bench()  # Session.on_message → transport

    # name -> how to measure one call (µs)
    setups: dict[str, Callable[[str], Any]] = {
        "daily bridge": daily_rig.one,
        "memory transport": memory_rig.one,
    }
    setups["bench_dispatch (no transport)"] = dispatch.one
    tools = ("noop_async", "noop_sync")
    series: dict[tuple[str, str], list[float]] = {(s, t): [] for s in setups for t in tools}
    per_round = max(1, calls // rounds)
    async with asyncio.timeout(120):
        for name in tools:  # warm-up
            for one in setups.values():
                for _ in range(min(200, calls)):
                    await one(name)
        for r in range(rounds):
            order = list(setups)[r % len(setups) :] + list(setups)[: r % len(setups)]
            for setup in order:
                for name in tools:
                    series[setup, name] += [await setups[setup](name) for _ in range(per_round)]

    print(
        "2. dispatch overhead per tool call, with the fake SDK under Bot + Session + DailyTransport"
    )
    print(
        "   daily bridge: tool_call at the handler on the fake's emitter thread → tool_result "
        "at send_app_message"
    )
    print(
        "   memory transport: MemoryTransport.push → send (same Bot); bench_dispatch: "
        "Session.on_message → send"
    )
    print(f"  one call at a time ({rounds} interleaved rounds)")
    for name in tools:
        for setup in setups:
            values = series[setup, name]
            print(_row(f"{name.removeprefix('noop_')} handler, {setup}", values))
            results[f"sequential_{name}_{setup.split()[0]}"] = _summary(values)
        d, m = series["daily bridge", name], series["memory transport", name]
        print(
            f"      the bridge adds (daily − memory): p50 {_pct(d, 50) - _pct(m, 50):+.1f} µs, "
            f"p90 {_pct(d, 90) - _pct(m, 90):+.1f} µs, p99 {_pct(d, 99) - _pct(m, 99):+.1f} µs"
        )

    # sustained: batches of `batch` calls in flight, interleaved rounds
    loads = {
        "async handler, daily bridge": (daily_rig, "noop_async"),
        "sync handler, daily bridge": (daily_rig, "noop_sync"),
        "async handler, memory transport": (memory_rig, "noop_async"),
    }
    spent = dict.fromkeys(loads, 0.0)
    in_fake = dict.fromkeys(loads, 0.0)
    done = dict.fromkeys(loads, 0)
    latencies: dict[str, list[float]] = {k: [] for k in loads}
    batches = max(1, total // batch)
    per_round_batches = max(1, batches // rounds)
    async with asyncio.timeout(180):
        for rig, name in loads.values():  # warm-up
            await rig.burst(name, batch)
        for _ in range(rounds):
            for label, (rig, name) in loads.items():
                for _ in range(per_round_batches):
                    elapsed, fake, lat = await rig.burst(name, batch)
                    spent[label] += elapsed
                    in_fake[label] += fake
                    done[label] += batch
                    latencies[label] += lat
    print(f"  sustained, {batch} calls in flight per batch ({rounds} interleaved rounds)")
    for label in loads:
        rate = done[label] / spent[label]
        lat = latencies[label]
        fake_us = in_fake[label] / done[label] * 1e6
        fake_text = (
            f"; fake's send_app_message {fake_us:4.1f} µs/call on the loop, without it "
            f"≈{done[label] / (spent[label] - in_fake[label]):,.0f}/s"
            if in_fake[label]
            else ""
        )
        print(
            f"    {label:<33} {rate:7,.0f} calls/s  latency p50 {_pct(lat, 50) / 1e3:5.1f} ms"
            f"  p99 {_pct(lat, 99) / 1e3:5.1f} ms  (n={done[label]}){fake_text}"
        )
        key = label.replace(" ", "_").replace(",", "")
        results[f"throughput_{key}_calls_per_s"] = rate
        results[f"throughput_{key}_fake_send_us_per_call"] = fake_us

    await daily_rig.stop()
    await memory_rig.stop()
    if dispatch is not None:
        dispatch.executor.shutdown()
    client = daily_rig.fake.client
    problems = []
    for rig in (daily_rig, memory_rig):
        statuses = dict(rig.probe.statuses)
        if set(statuses) != {"success"} or rig.probe.duplicates or rig.probe.arrived:
            problems.append(
                f"{rig.label}: statuses {statuses}, duplicates {rig.probe.duplicates}, "
                f"unanswered {len(rig.probe.arrived)}"
            )
    if client.off_emitter or client.callback_errors:
        problems.append(f"callbacks off the emitter or raising: {client.off_emitter[:3]}")
    if client.participants_calls:
        problems.append(f"participants() called {client.participants_calls} times")
    if not client.released or pending_releases():
        problems.append(f"client released: {client.released}, pending {pending_releases()}")
    answered = daily_rig.probe.statuses.total() + memory_rig.probe.statuses.total()
    print(
        f"  sanity: {answered:,} calls answered once each with success; fake client released"
        if not problems
        else "  sanity PROBLEMS: " + "; ".join(problems)
    )
    results["sanity_problems"] = problems
    return results


async def _part2(args: argparse.Namespace) -> dict[str, Any]:
    with open(os.devnull, "w") as sink:  # noqa: ASYNC230 - before any call is measured
        configure_logging("warning", "json", stream=sink)
        return await _dispatch_part(args.calls, args.rounds, args.throughput_calls, args.batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--clients", default="1,10,50,100", help="call-client counts N, comma-separated"
    )
    parser.add_argument("--calls", type=int, default=3000, help="calls per latency row")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument(
        "--throughput-calls", type=int, default=20_000, help="calls per sustained row"
    )
    parser.add_argument("--batch", type=int, default=1000, help="calls in flight per batch")
    parser.add_argument(
        "--release-timeout", type=float, default=10.0, help="bound on releasing N clients (s)"
    )
    parser.add_argument("--skip-clients", action="store_true", help="skip part 1")
    parser.add_argument("--skip-dispatch", action="store_true", help="skip part 2")
    parser.add_argument("--quick", action="store_true", help="small run (for smoke checks)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], int(args.child[1]), args.release_timeout)
        return
    if args.quick:
        args.calls, args.throughput_calls, args.batch = 500, 2000, 200
        args.clients = "1,10"
    counts = [int(n) for n in args.clients.split(",") if n.strip()]

    started = time.perf_counter()
    print(
        f"cvibot Daily benchmark · Python {sys.version.split()[0]} · daily-python "
        f"{_sdk_version()} · {os.cpu_count()} cores"
    )
    results: dict[str, Any] = {}
    if not args.skip_clients:
        results["clients"] = _clients_part(counts, args.release_timeout)
    if not args.skip_dispatch:
        results["dispatch"] = asyncio.run(_part2(args))
    print(f"total wall time {time.perf_counter() - started:.1f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
