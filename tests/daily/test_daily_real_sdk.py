"""The real daily-python SDK, offline, in a child process (a native abort cannot take the
test runner with it). On this machine a join fails only after ~19 s (daily-python.md §4):
the transport's own timeout must win, and the process must still exit at once."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import pytest

pytestmark = pytest.mark.real_sdk

CHILD = r"""
import asyncio, json, sys, time
import structlog
structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
from cvibot.transports._daily import DailyTransport, pending_releases

def report(**fields):
    print("RESULT " + json.dumps(fields), flush=True)

async def attempt(url):
    transport = DailyTransport(url, join_timeout=1.5, release_timeout=0.5)
    started = time.monotonic()
    try:
        await transport.open()
    except Exception as exc:
        opened = time.monotonic() - started
        started = time.monotonic()
        await transport.close()
        report(url=url, error=type(exc).__name__, text=str(exc), raw=getattr(exc, "raw", None),
               open_s=opened, close_s=time.monotonic() - started)
    else:
        report(url=url, error=None)

async def sdk_parse_error():
    # The SDK's own answer to a malformed URL, mapped as the transport maps it.
    import daily
    from cvibot.transports._daily.sdk_errors import join_error
    from cvibot.transports._daily.sdk import ensure_initialised
    ensure_initialised(daily)
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    client = daily.CallClient()
    started = time.monotonic()
    client.join("not a url", completion=lambda data, error: loop.call_soon_threadsafe(
        done.set_result, error))
    raw = await asyncio.wait_for(done, 5)
    report(sdk_raw=raw, mapped=type(join_error(raw, "not a url")).__name__,
           sdk_s=time.monotonic() - started)
    client.release()

async def main(urls, parse):
    await asyncio.gather(*(attempt(url) for url in urls))
    if parse:
        await sdk_parse_error()
    report(pending=pending_releases())

asyncio.run(main(sys.argv[2:], sys.argv[1] == "parse"))
"""


def run_child(*args: str) -> tuple[list[dict[str, Any]], float, subprocess.CompletedProcess[str]]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *args], capture_output=True, text=True, timeout=60
    )
    elapsed = time.monotonic() - started
    lines = [
        json.loads(line.removeprefix("RESULT "))
        for line in done.stdout.splitlines()
        if line.startswith("RESULT ")
    ]
    return lines, elapsed, done


def test_an_offline_join_times_out_on_our_bound_and_the_process_exits_at_once() -> None:
    urls = ("https://tavus.daily.co/c0ffee", "https://tavus.daily.co/beef")

    # Two transports in one process: Daily.init() must run once (a second one aborts).
    lines, elapsed, done = run_child("no-parse", *urls)

    assert done.returncode == 0, done.stderr[-2000:]
    *attempts, final = lines
    assert {a["url"] for a in attempts} == set(urls)
    for result in attempts:
        assert result["error"] in ("JoinTimeout", "RoomUnreachable"), result
        if result["error"] == "JoinTimeout":
            assert 1.4 <= result["open_s"] < 2.5, result
            assert result["text"] == (
                f"the room {result['url']} could not be reached: no join within 1.5 s"
            )
        else:  # DNS answered early: the SDK's own string is kept
            assert result["raw"].startswith("Connection(Api(RoomLookup("), result
        assert result["close_s"] < 0.6
    assert final["pending"] in (0, 1, 2)
    # No ~19 s wait at exit for the releases still running in daemon threads.
    assert elapsed < 6, elapsed


def test_a_malformed_url_fails_at_once_with_the_real_sdk() -> None:
    lines, elapsed, done = run_child("parse", "not a url")

    assert done.returncode == 0, done.stderr[-2000:]
    attempt, parsed, final = lines
    assert attempt["error"] == "InvalidRoomUrl" and attempt["open_s"] < 0.1
    assert attempt["raw"] is None  # refused before the SDK was asked
    # The SDK's own string for the same URL maps to the same error, within ~1 ms.
    assert parsed["sdk_raw"].startswith("Failed to parse url")
    assert parsed["mapped"] == "InvalidRoomUrl" and parsed["sdk_s"] < 0.5
    assert final == {"pending": 0}
    assert elapsed < 5
