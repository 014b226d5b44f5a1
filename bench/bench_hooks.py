"""Hook benchmark: what observer hooks cost the event loop per event.

Run:  .venv/bin/python bench/bench_hooks.py [--events N] [--quick]

Measures, on the loop thread, the time ``Observer.__call__`` (``pm.hook.cvibot_event``
called by pluggy as it is, then each sync implementation queued for its plugin's worker
thread and the ``async def`` ones handed back as one awaitable) takes per event, in µs
(best of 5 rounds), for: no plugin implementing the hook (the session skips it), one sync
observer, one ``async def`` observer (the awaitable is created, not run) and two sync
observers of two plugins. Also the time of one ``host.call_first`` of
``cvibot_respond_to_utterance`` with one async responder.

The last line printed is one JSON object with those figures (``*_us``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from cvibot.plugins import PluginHost, hookimpl
from cvibot.plugins._workers import HookWorkers


class SyncObserver:
    @hookimpl
    def cvibot_event(self, event: Any, settings: Mapping[str, Any]) -> None:
        pass


class AsyncObserver:
    @hookimpl
    async def cvibot_event(self, event: Any, settings: Mapping[str, Any]) -> None:
        pass


class Responder:
    @hookimpl
    async def cvibot_respond_to_utterance(self, utterance: Any) -> str:
        return "ok"


async def per_event(builtins: Sequence[tuple[str, object]], events: int) -> float:
    host = PluginHost.load([], autoload=False, builtins=builtins)
    workers = HookWorkers(capacity=events * 5 + 1)
    observer = host.observer("cvibot_event", workers)
    rounds = []
    for _ in range(5):
        start = time.perf_counter()
        for i in range(events):
            if observer is not None:
                pending = observer(event=i, session=None)
                if pending is not None:
                    pending.close()  # type: ignore[attr-defined]  # created, not run
        rounds.append((time.perf_counter() - start) / events * 1e6)
    await workers.close(30.0)
    return min(rounds)


async def call_first(calls: int) -> float:
    host = PluginHost.load([], autoload=False, builtins=[("responder", Responder())])
    start = time.perf_counter()
    for _ in range(calls):
        await host.call_first("cvibot_respond_to_utterance", utterance=None, session=None)
    return (time.perf_counter() - start) / calls * 1e6


async def main(events: int) -> dict[str, float]:
    figures = {
        "no_observer_us": await per_event([], events),
        "one_sync_us": await per_event([("sync", SyncObserver())], events),
        "one_async_us": await per_event([("async", AsyncObserver())], events),
        "two_sync_us": await per_event(
            [("sync", SyncObserver()), ("sync2", SyncObserver())], events
        ),
        "call_first_us": await call_first(events // 5),
    }
    for name, value in figures.items():
        print(f"{name.removesuffix('_us').replace('_', ' '):<16} {value:8.2f} µs")
    return {name: round(value, 2) for name, value in figures.items()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=50_000, help="events per round")
    parser.add_argument("--quick", action="store_true", help="small run (for smoke checks)")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(5_000 if args.quick else args.events))))
