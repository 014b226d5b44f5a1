"""Fixtures of the fleet tests: a real ``redis-server`` on a free loopback port (once per
session, flushed before each test), worker processes, and fakeredis for script tests.

Without a ``redis-server`` binary the tests that need one are skipped, unless
``CVIBOT_REQUIRE_REDIS=1`` (set by ``.ci/run``), which makes them fail instead.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis

WORKER = Path(__file__).resolve().parent / "fleet_worker.py"
REQUIRE_ENV = "CVIBOT_REQUIRE_REDIS"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def redis_binary() -> str:
    """The redis-server binary; skips the test without one (fails with
    ``CVIBOT_REQUIRE_REDIS=1``)."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"redis-server not found and {REQUIRE_ENV}=1")
        pytest.skip("redis-server not installed")
    return binary


def start_redis(binary: str, port: int, workdir: Path) -> subprocess.Popen[bytes] | None:
    """A redis-server (no persistence) on ``127.0.0.1:port``, once it answers ``PING``;
    ``None`` when it exited (the port was taken)."""
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            "--logfile",
            "",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, socket_connect_timeout=0.2)
    deadline = time.monotonic() + 10
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                client.ping()
                return proc
            except redis.ConnectionError:
                time.sleep(0.02)
    finally:
        client.close()
    stop_redis(proc)
    return None


def stop_redis(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a private redis-server (no persistence), stopped at the end."""
    binary = redis_binary()
    workdir = tmp_path_factory.mktemp("redis")
    for _ in range(3):  # the port may be taken between the probe and the bind
        port = free_port()
        proc = start_redis(binary, port, workdir)
        if proc is not None:
            break
    else:
        pytest.fail("redis-server did not start")
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop_redis(proc)


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The server's URL, its data flushed."""
    with redis.Redis.from_url(redis_server) as client:
        client.flushall()
    return redis_server


@pytest.fixture
async def rclient(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


class Workers:
    """Worker processes of one test (output in ``logs``); each is killed at the end."""

    def __init__(self, url: str, logs: Path) -> None:
        self.url = url
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, worker_ids: list[str], *args: str, timeout: float = 20.0) -> None:
        """Start one process per id, and return once each is reading jobs."""
        for worker_id in worker_ids:
            with (self.logs / f"{worker_id}.log").open("wb") as log:
                self.procs[worker_id] = subprocess.Popen(
                    [
                        sys.executable,
                        str(WORKER),
                        "--url",
                        self.url,
                        "--worker-id",
                        worker_id,
                        *args,
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
        with redis.Redis.from_url(self.url, decode_responses=True) as client:
            deadline = time.monotonic() + timeout
            while set(client.lrange("test:ready", 0, -1)) < set(worker_ids):
                for worker_id in worker_ids:
                    if self.procs[worker_id].poll() is not None:
                        raise AssertionError(f"worker {worker_id} exited: {self.log(worker_id)}")
                if time.monotonic() > deadline:
                    raise AssertionError("workers did not start in time")
                time.sleep(0.05)

    def log(self, worker_id: str) -> str:
        return (self.logs / f"{worker_id}.log").read_text(errors="replace")[-3000:]

    def signal(self, worker_id: str, sig: signal.Signals) -> None:
        self.procs[worker_id].send_signal(sig)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def workers(redis_url: str, tmp_path: Path) -> Iterator[Workers]:
    """Worker processes (see fleet_worker.py) on the test's redis-server."""
    pool = Workers(redis_url, tmp_path)
    yield pool
    pool.stop_all()
