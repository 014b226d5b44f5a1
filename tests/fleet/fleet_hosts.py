"""The fleet tests' worker processes (``fleet_worker.py``) and their ``redis-server``
binary, which skips a test without one unless ``CVIBOT_REQUIRE_REDIS=1``."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

__all__ = ["REQUIRE_ENV", "WORKER", "Workers", "redis_binary"]

WORKER = Path(__file__).resolve().parent / "fleet_worker.py"
REQUIRE_ENV = "CVIBOT_REQUIRE_REDIS"


def redis_binary() -> str:
    """The redis-server binary; skips the test without one (fails with
    ``CVIBOT_REQUIRE_REDIS=1``)."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"redis-server not found and {REQUIRE_ENV}=1")
        pytest.skip("redis-server not installed")
    return binary


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
