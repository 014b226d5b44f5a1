"""The background tasks of a :class:`~cvibot._fleet.redis_backend.RedisBackend`: lease
renewal, the watchdog that gives up holds Redis no longer confirms, and the stop
listener."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from typing import TYPE_CHECKING, Any

import structlog
from redis.exceptions import RedisError

if TYPE_CHECKING:
    from cvibot._fleet.redis_backend import RedisBackend

__all__ = ["control_loop", "renew_loop", "watchdog_loop"]

_log: structlog.typing.FilteringBoundLogger = structlog.get_logger("cvibot.fleet").bind()


async def renew_loop(backend: RedisBackend) -> None:
    """Every ``renew_every``: one pipeline with a ``RENEW`` per held job and this
    host's heartbeat hash. ``last_ok`` is taken before sending: a slow answer must not
    extend the hold. A pipeline Redis answered is the backend's proof of contact
    (:meth:`RedisBackend.contact`, which readiness reads)."""
    opts = backend.options
    while True:
        await asyncio.sleep(opts.renew_every)
        held = backend.held()
        sent = time.monotonic()
        try:
            async with backend.client.pipeline(transaction=False) as pipe:
                for own in held:
                    await backend.scripts.renew(
                        keys=[
                            backend.keys.stream,
                            backend.keys.lease(own.conversation_id),
                            backend.keys.conv(own.conversation_id),
                        ],
                        args=[own.token, opts.lease_ms, opts.group, backend.worker_id, own.entry],
                        client=pipe,
                    )
                worker = backend.keys.worker(backend.worker_id)
                pipe.hset(
                    worker,
                    mapping={
                        "host": socket.gethostname(),
                        "pid": os.getpid(),
                        "held": len(held),
                        "draining": int(backend.draining),
                        "seen_at": backend.now(),
                    },
                )
                pipe.pexpire(worker, int(opts.renew_every * 3000))
                results: list[Any] = await pipe.execute(raise_on_error=False)
        except (RedisError, OSError) as exc:
            _log.warning("lease renewal failed", held=len(held), error=str(exc))
            continue
        backend.contact(sent)
        for own, result in zip(held, results, strict=False):
            if isinstance(result, Exception):
                _log.warning(
                    "lease renewal failed",
                    conversation_id=own.conversation_id,
                    error=str(result),
                )
            elif result == 0:
                own.mark_lost("another host holds the lease")
            else:
                own.last_ok = max(own.last_ok, sent)
                if result == 2:
                    own.stop_requested.set()


async def watchdog_loop(backend: RedisBackend) -> None:
    """Marks a hold lost when it was not renewed within 0.9 × lease (a paused or cut
    off host leaves before another can have taken over)."""
    limit = 0.9 * backend.options.lease
    tick = min(backend.options.renew_every / 2, backend.options.lease / 20)
    while True:
        await asyncio.sleep(tick)
        now = time.monotonic()
        for own in backend.held():
            if now - own.last_ok > limit:
                own.mark_lost(f"not renewed for {now - own.last_ok:.2f} s")


async def control_loop(backend: RedisBackend) -> None:
    """``stop <cid>`` nudges on the control channel (the stop flag stays the truth)."""
    backoff = 0.1
    while not backend.closed:
        pubsub = backend.client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(backend.keys.control)
            backoff = 0.1
            while not backend.closed:
                message = await pubsub.get_message(timeout=1.0)
                if message is None:
                    continue
                op, _, cid = str(message.get("data", "")).partition(" ")
                own = backend.holding(cid)
                if op == "stop" and own is not None:
                    own.stop_requested.set()
        except (RedisError, OSError) as exc:
            _log.warning("control channel lost; resubscribing", error=str(exc))
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)
        finally:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()
