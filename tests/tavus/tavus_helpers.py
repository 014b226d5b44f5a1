"""Constants and small helpers of the Tavus client tests."""

from __future__ import annotations

import socket
from typing import Any

from cvibot.tavus import RetryPolicy

KEY = "tvs-test-key-5f0c2a9e8d7b"
"""The fake's API key: long and distinctive, so a leak is found by a substring search."""

FAST = RetryPolicy(attempts=3, initial_backoff=0.001, max_backoff=0.005, max_retry_after=1.0)
"""Retries with backoffs of a few milliseconds, so the suite stays fast."""


def closed_port() -> int:
    """A loopback port nothing listens on: bound, read, then closed."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def events(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """The captured structlog entries whose event is ``name``."""
    return [entry for entry in logs if entry.get("event") == name]
