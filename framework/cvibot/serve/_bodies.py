"""Reading request bodies within a bound, and the JSON error answers of ``cvibot serve``.

Shared by the Tavus-facing routes (:mod:`~cvibot.serve._webhooks`,
:mod:`~cvibot.serve._tools_api`): a body is read chunk by chunk and refused as soon as it
passes its limit (a ``Content-Length`` over it is refused before reading), so a huge body
costs at most the limit in memory.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any, Final

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

__all__ = [
    "JSON_TYPE",
    "BodyTooLarge",
    "ClientDisconnect",
    "LogThrottle",
    "decode_json",
    "json_error",
    "read_body",
]

#: The ``Content-Type`` of a JSON answer.
JSON_TYPE: Final = "application/json"


class BodyTooLarge(Exception):
    """The request body is longer than ``limit`` bytes (answered 413, never raised out)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the body is larger than {limit} bytes")
        self.limit = limit


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body of ``request``, at most ``limit`` bytes.

    Raises :class:`BodyTooLarge` when ``Content-Length`` or the bytes received pass the
    limit, and Starlette's ``ClientDisconnect`` when the client went away.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def json_error(status: int, message: str, **fields: Any) -> JSONResponse:
    """``{"error": message, **fields}`` with ``status``."""
    return JSONResponse({"error": message, **fields}, status_code=status)


def decode_json(body: bytes) -> Any:
    """``body`` as JSON (UTF-8). Raises ``ValueError`` naming the problem: not UTF-8, not
    JSON, or nested too deeply for the parser (``RecursionError`` is turned into it)."""
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("the body is not UTF-8 text") from None
    except RecursionError:
        raise ValueError("the body is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"the body is not JSON: {exc.msg} at character {exc.pos}") from None


class LogThrottle:
    """At most one warning a second for one kind of refused request, with the count of
    those not logged (``not_logged``): a flood of forged requests must not flood the log."""

    def __init__(
        self,
        log: Any,
        event: str,
        *,
        every: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = log
        self._event = event
        self._every = every
        self._clock = clock
        self._last = -math.inf
        self._skipped = 0

    def warning(self, **fields: Any) -> bool:
        """Log ``fields`` unless a line went out less than ``every`` seconds ago;
        whether it was logged."""
        now = self._clock()
        if now - self._last < self._every:
            self._skipped += 1
            return False
        self._last = now
        if self._skipped:
            fields["not_logged"] = self._skipped
            self._skipped = 0
        self._log.warning(self._event, **fields)
        return True
