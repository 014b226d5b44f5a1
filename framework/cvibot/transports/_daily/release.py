"""Releasing a call client without blocking the loop or the interpreter's exit.

``CallClient.release()`` blocks until the client's pending work has drained: after a
join that failed or timed out that is the rest of the join, about 19 s offline
(daily-python.md §0.2, §4). It releases the GIL meanwhile. So the release runs in a
**daemon** thread (interpreter exit never waits for it, unlike ``asyncio.to_thread``,
whose executor ``asyncio.run`` joins), and the caller waits for it at most ``wait``
seconds. :func:`pending_releases` tells the command line whether a release is still
running, so it can leave with ``os._exit`` instead of letting finalisation meet it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import Any

import structlog

from cvibot.transports._daily.bridge import settle
from cvibot.transports._daily.sdk import CallClientLike

__all__ = ["pending_releases", "release_client"]

_lock = threading.Lock()
_pending = 0


def pending_releases() -> int:
    """How many call clients of this process are still being released (any transport)."""
    with _lock:
        return _pending


async def release_client(
    client: CallClientLike, *, wait: float, log: structlog.typing.FilteringBoundLogger
) -> bool:
    """Release ``client`` in a daemon thread; wait for it at most ``wait`` seconds.

    Returns True if the release finished in time. Never raises for the SDK: an error of
    ``release()`` (``RuntimeError`` for a client already released) is logged; a slow
    release is logged as a warning and left to finish on its own.
    """
    global _pending
    loop = asyncio.get_running_loop()
    done: asyncio.Future[tuple[float, BaseException | None]] = loop.create_future()
    started = time.perf_counter()

    def work() -> None:
        global _pending
        error: BaseException | None = None
        try:
            client.release()
        except BaseException as exc:  # a thread must not raise; report it instead
            error = exc
        finally:
            with _lock:
                _pending -= 1
        elapsed = time.perf_counter() - started
        with contextlib.suppress(RuntimeError):  # loop closed: nobody waits any more
            loop.call_soon_threadsafe(settle, done, (elapsed, error))

    with _lock:
        _pending += 1
    threading.Thread(target=work, name="cvibot-daily-release", daemon=True).start()
    finished, _ = await asyncio.wait({done}, timeout=wait)
    if not finished and wait <= 0:
        log.info("daily client release continues in the background")
        return False
    if not finished:
        log.warning(
            "daily client release still pending; continuing without it",
            waited_s=wait,
            note="the SDK waits for a pending join (~19 s offline); a daemon thread finishes it",
        )
        return False
    elapsed, error = done.result()
    fields: dict[str, Any] = {"release_ms": round(elapsed * 1000, 1)}
    if error is not None:
        log.warning(
            "daily client release failed", error=f"{type(error).__name__}: {error}", **fields
        )
    else:
        log.info("daily client released", **fields)
    return True
