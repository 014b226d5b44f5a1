"""Ids and timestamps the fake hands out, shaped like Tavus's."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

__all__ = ["new_id", "now"]


def now() -> str:
    """The current UTC time as ISO 8601 with milliseconds: ``2025-06-01T12:00:00.000Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id(prefix: str) -> str:
    """``prefix`` and 11 hex digits, like Tavus's ids (``c0123456789a``)."""
    return prefix + secrets.token_hex(6)[:11]
