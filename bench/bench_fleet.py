"""Fleet benchmark: worker processes sharing conversations through Redis Streams.

Run:  .venv/bin/python bench/bench_fleet.py [--quick] [--url redis://...] [--json PATH]

Starts a private ``redis-server`` on a free loopback port (no persistence) unless
``--url`` names one (its data is flushed), then worker processes
(``tests/fleet/fleet_worker.py``: :class:`~cvibot._fleet.redis_backend.RedisBackend` with
simulated sessions, a 20 ms join, the room polled every 0.5 s) and measures:

1. **dispatch**: N conversations enqueued (one pipelined ``ENQUEUE`` each) into free
   capacity: enqueue rate, enqueue→claim latency p50/p99 (``claim_p50_ms``,
   ``claim_p99_ms``), time until all joined, and the split across workers;
2. **steady state**: every room gets a tool call every 2 s, each claimed with
   ``CLAIM_CALL`` before it is answered; over the window: the fleet's Redis commands per
   second (``redis_ops_per_s``: every command except the harness's room traffic and
   polling), Redis and worker CPU;
3. **take-over**: SIGKILL of the busiest worker; per conversation, the time until a
   survivor holds it with a higher fence (``takeover_s`` is the max; bound: lease +
   reclaim_every + join), calls answered twice (``answered_twice``), and conversations
   never taken over (``lost``);
4. **call fencing cost**: the round trip of one ``CLAIM_CALL`` (``claim_call_p50_ms``,
   ``claim_call_p99_ms``), measured from this process with Redis idle and under the
   steady-state load.

Full run: 1,000 conversations, 3 workers of 600 slots, lease 6 s, renew every 2 s,
reclaim every 1 s. ``--quick`` (under 2 minutes): 300 conversations, 3 × 200 slots,
lease 3 s, renew 1 s, reclaim 0.5 s. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "fleet"))

from fleet_driver import (  # noqa: E402  (the test driver, shared with the fleet tests)
    KEYS,
    CallPlayer,
    all_active,
    answered_twice,
    answers,
    busiest_worker,
    conversations,
    end_rooms,
    enqueue_many,
    wait_for,
)
from redis_servers import free_port, start_redis, stop_redis  # noqa: E402

from cvibot._fleet.options import FleetOptions  # noqa: E402
from cvibot._fleet.redis_backend import RedisBackend  # noqa: E402
from cvibot.serve._backend import Job  # noqa: E402

WORKER = ROOT / "tests" / "fleet" / "fleet_worker.py"
HARNESS = {
    "lrange",
    "llen",
    "rpush",
    "hmget",
    "info",
    "xpending",
    "xlen",
    "lpush",
    "ping",
    "flushall",
    "config|resetstat",
    "config",
    "client|setinfo",
    "client",
}


@contextlib.contextmanager
def redis_server(url: str | None) -> Iterator[tuple[str, int | None]]:
    """(url, pid of the server when this benchmark started it)."""
    if url:
        with redis.Redis.from_url(url) as client:
            client.flushall()
        yield url, None
        return
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server not found: install it (apt-get install redis-server) or pass --url")
    workdir = tempfile.mkdtemp(prefix="bench-fleet-")
    try:
        for _ in range(3):  # the port may be taken between the probe and the bind
            port = free_port()
            proc = start_redis(binary, port, Path(workdir))
            if proc is not None:
                break
        else:
            sys.exit("redis-server did not start")
        try:
            yield f"redis://127.0.0.1:{port}/0", proc.pid
        finally:
            stop_redis(proc)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _fleet_ops(r: aioredis.Redis) -> int:
    stats = await r.info("commandstats")
    return sum(
        int(v["calls"]) for k, v in stats.items() if k.removeprefix("cmdstat_") not in HARNESS
    )


async def claim_call_round_trips(url: str, opts: FleetOptions, n: int) -> list[float]:
    """Milliseconds of ``n`` sequential ``Ownership.claim_call`` on a held job (on a
    stream of its own, so that the workers do not take the probe's job)."""
    probe = opts.model_copy(update={"stream": "bench:probe"})
    backend = RedisBackend(probe, worker_id=f"bench-probe-{os.getpid()}")
    await backend.start()
    try:
        cid = f"probe{time.monotonic_ns()}"
        await backend.enqueue(Job(cid, f"https://tavus.daily.co/{cid}"))

        class _One:
            def free(self) -> int:
                return 1

            async def wait_free(self) -> None:
                await asyncio.sleep(0.05)

        gen = backend.jobs(_One())
        async with asyncio.timeout(30):
            _job, own = await anext(gen)
        await gen.aclose()
        times = []
        for i in range(n):
            t0 = time.perf_counter()
            assert await own.claim_call(f"probe-call-{i}")
            times.append((time.perf_counter() - t0) * 1000)
        await own.complete("ended", "benchmark probe")
        return times
    finally:
        await backend.close()


async def run(args: argparse.Namespace, url: str, redis_pid: int | None) -> dict[str, Any]:
    n, nworkers, capacity = args.conversations, args.workers, args.capacity
    opts = FleetOptions(
        backend="redis",
        url=url,
        lease=args.lease,
        renew_every=args.renew_every,
        reclaim_every=args.reclaim_every,
    )
    r = aioredis.Redis.from_url(url, decode_responses=True, max_connections=64)
    info = await r.info("server")
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
        f"{_cpu_model()}; Python {platform.python_version()}"
    )
    print(
        f"redis-server {info['redis_version']} (persistence off, loopback); "
        f"redis-py {redis.__version__}"
    )
    print(
        f"settings: {n} conversations, {nworkers} workers x {capacity} slots, "
        f"lease {args.lease} s, renew every {args.renew_every} s, reclaim every "
        f"{args.reclaim_every} s, claim_batch {opts.claim_batch}; simulated sessions "
        "(20 ms join, room polled every 0.5 s, one tool call per room every 2 s)"
    )

    idle_rt = await claim_call_round_trips(url, opts, args.probe_calls)

    logs = Path(tempfile.mkdtemp(prefix="bench-fleet-logs-"))
    procs: dict[str, subprocess.Popen[bytes]] = {}
    ids = [f"bench-w{i}" for i in range(nworkers)]
    for wid in ids:
        with (logs / f"{wid}.log").open("wb") as log:
            procs[wid] = subprocess.Popen(  # noqa: ASYNC220  (started once, returns at once)
                [
                    sys.executable,
                    str(WORKER),
                    "--url",
                    url,
                    "--worker-id",
                    wid,
                    "--capacity",
                    str(capacity),
                    "--lease",
                    str(args.lease),
                    "--renew-every",
                    str(args.renew_every),
                    "--reclaim-every",
                    str(args.reclaim_every),
                    "--poll",
                    "0.5",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
    try:

        async def ready() -> bool:
            return set(await r.lrange("test:ready", 0, -1)) >= set(ids)

        await wait_for(ready, 60, what="workers started")
        cids = [f"bench{i}" for i in range(n)]

        # 1. dispatch
        t0 = time.time()
        await enqueue_many(r, cids)
        enqueue_s = time.time() - t0

        await all_active(r, cids, within=120)
        async with r.pipeline(transaction=False) as pipe:
            for cid in cids:
                pipe.hmget(KEYS.conv(cid), "enqueued_at", "claimed_at", "joined_at")
            rows = await pipe.execute()
        claim_ms = [(float(c) - float(e)) * 1000 for e, c, _ in rows]
        all_joined_s = max(float(j) for *_, j in rows) - min(float(e) for e, *_ in rows)
        split = Counter(c.owner for c in (await conversations(r, cids)).values())
        print(
            f"dispatch: enqueued {n} in {enqueue_s * 1000:.0f} ms "
            f"({n / enqueue_s:,.0f}/s); enqueue→claim p50 {_pct(claim_ms, 0.5):.0f} ms, "
            f"p99 {_pct(claim_ms, 0.99):.0f} ms, max {max(claim_ms):.0f} ms; all joined "
            f"{all_joined_s:.2f} s after the first enqueue; split "
            f"{'/'.join(str(split[w]) for w in ids)}"
        )

        # 2. steady state
        player = CallPlayer(r, cids, every=2.0)
        player.start()
        await asyncio.sleep(1.0)
        pids = {wid: p.pid for wid, p in procs.items()}
        cpu0 = {wid: _cpu_seconds(pid) for wid, pid in pids.items()}
        rcpu0 = _cpu_seconds(redis_pid) if redis_pid else 0.0
        ops0, w0 = await _fleet_ops(r), time.monotonic()
        load_rt = await claim_call_round_trips(url, opts, args.probe_calls)
        await asyncio.sleep(max(0.0, args.window - (time.monotonic() - w0)))
        window = time.monotonic() - w0
        ops = (await _fleet_ops(r) - ops0) / window
        wcpu = {wid: (_cpu_seconds(pid) - cpu0[wid]) / window for wid, pid in pids.items()}
        rcpu = (_cpu_seconds(redis_pid) - rcpu0) / window if redis_pid else float("nan")
        mem = (await r.info("memory"))["used_memory"] / 1e6
        rss = {wid: _rss_mb(pid) for wid, pid in pids.items()}
        print(
            f"steady state ({window:.1f} s, {n} sessions): fleet Redis commands "
            f"{ops:,.0f}/s; redis-server CPU {rcpu * 100:.1f} % of a core, used memory "
            f"{mem:.1f} MB; worker CPU "
            + ", ".join(f"{wcpu[w] * 100:.0f} %" for w in ids)
            + "; worker RSS "
            + ", ".join(f"{rss[w]:.0f} MB" for w in ids)
        )
        print(
            f"CLAIM_CALL round trip: idle p50 {_pct(idle_rt, 0.5):.3f} ms, p99 "
            f"{_pct(idle_rt, 0.99):.3f} ms; under load p50 {_pct(load_rt, 0.5):.3f} ms, "
            f"p99 {_pct(load_rt, 0.99):.3f} ms ({args.probe_calls} sequential calls each)"
        )

        # 3. take-over
        victim, held = await busiest_worker(r, cids)
        procs[victim].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        took: dict[str, float] = {}
        bound = args.lease + args.reclaim_every + 5.0
        while len(took) < len(held) and time.monotonic() - killed < bound + 10:
            now = await conversations(r, [c for c in held if c not in took])
            at = time.monotonic() - killed
            for cid, c in now.items():
                if c.owner not in ("", victim) and c.status == "active" and c.fence > held[cid]:
                    took[cid] = at
            await asyncio.sleep(0.05)
        lost = len(held) - len(took)
        settle = time.time()
        await asyncio.sleep(2.5)
        await player.stop()
        await asyncio.sleep(1.0)
        found = await answers(r)
        twice = answered_twice(found)
        answered = {(a.cid, a.call) for a in found}
        late = [k for k, s in player.sent.items() if settle + 0.5 < s < time.time() - 1.0]
        unanswered_late = sum(1 for k in late if k not in answered)
        tk = list(took.values())
        fences = Counter(
            after.fence - held[cid] for cid, after in (await conversations(r, list(held))).items()
        )
        print(
            f"take-over: SIGKILL of {victim} holding {len(held)}: retaken min "
            f"{min(tk, default=float('nan')):.2f} s, p50 {_pct(tk, 0.5):.2f} s, max "
            f"{max(tk, default=float('nan')):.2f} s (bound lease + reclaim + join = "
            f"{args.lease + args.reclaim_every + 0.02:.2f} s); not retaken {lost}; fence "
            f"steps {dict(fences)}; calls sent {len(player.sent)}, answered "
            f"{len(answered)}, answered twice {twice}; calls sent after the take-over "
            f"left unanswered {unanswered_late} of {len(late)}"
        )

        # The end: every room ends, every job completes, the stream empties.
        await end_rooms(r, cids)

        async def empty() -> bool:
            return await r.xlen(KEYS.stream) == 0

        try:
            await wait_for(empty, 60, what="stream empty")
        except AssertionError:
            left = await r.xrange(KEYS.stream, count=20)
            states = await conversations(r, [f["cid"] for _, f in left])
            print(
                f"not ended: {states}; pending "
                f"{await r.xpending_range(KEYS.stream, 'cvibot', '-', '+', 20)}"
            )
            raise
        print(
            f"end: stream length {await r.xlen(KEYS.stream)}, pending "
            f"{(await r.xpending(KEYS.stream, 'cvibot'))['pending']}"
        )
        return {
            "conversations": n,
            "workers": nworkers,
            "claim_p50_ms": round(_pct(claim_ms, 0.5), 1),
            "claim_p99_ms": round(_pct(claim_ms, 0.99), 1),
            "takeover_s": round(max(tk, default=float("nan")), 2),
            "answered_twice": twice,
            "lost": lost,
            "redis_ops_per_s": round(ops),
            "claim_call_p50_ms": round(_pct(load_rt, 0.5), 3),
            "claim_call_p99_ms": round(_pct(load_rt, 0.99), 3),
            "claim_call_idle_p50_ms": round(_pct(idle_rt, 0.5), 3),
            "claim_call_idle_p99_ms": round(_pct(idle_rt, 0.99), 3),
            "all_joined_s": round(all_joined_s, 2),
            "enqueue_per_s": round(n / enqueue_s),
            "redis_cpu_pct": round(rcpu * 100, 1),
            "redis_used_mb": round(mem, 1),
            "lease_s": args.lease,
        }
    except BaseException:
        print(f"failed; the workers' output is kept in {logs}")
        logs = Path()
        raise
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
            p.wait(10)
        await r.aclose()
        if logs != Path():
            shutil.rmtree(logs, ignore_errors=True)


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller run, under 2 minutes")
    parser.add_argument("--url", help="an existing Redis (flushed!) instead of a private one")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if args.quick:
        args.conversations, args.workers, args.capacity = 300, 3, 200
        args.lease, args.renew_every, args.reclaim_every, args.window = 3.0, 1.0, 0.5, 4.0
        args.probe_calls = 500
    else:
        args.conversations, args.workers, args.capacity = 1000, 3, 600
        args.lease, args.renew_every, args.reclaim_every, args.window = 6.0, 2.0, 1.0, 8.0
        args.probe_calls = 2000
    with redis_server(args.url) as (url, pid):
        results = asyncio.run(run(args, url, pid))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
