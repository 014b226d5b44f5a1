"""Replay a recorded conversation (JSONL) through the same session code as a live room.

File format, one JSON value per line (blank lines are skipped):

- a plain app-message, exactly as Tavus broadcast it: ``{"event_type": ..., ...}`` (or a
  JSON string holding one);
- a recording line: ``{"direction": "in", "at": 1.25, "sender": "<participant id>",
  "message": {...}}`` where ``at`` is the arrival time in seconds from the start of the
  recording. Lines with ``"direction": "out"`` record what a bot sent and are not
  replayed.

A line that is not valid JSON is delivered as the raw text, so the session rejects and
counts it (reason ``not_json``) exactly as it would a garbled live message.

Pace: ``fast`` delivers each message as soon as the work started by the previous one has
settled, so a replay is deterministic and its outbound file is the same on every run;
``recorded`` delivers at the recorded arrival times (``at``, else the event's
``timestamp`` relative to the first one) divided by ``speed``, with calls overlapping as
they would live.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from cvibot.protocol.interactions import encode_message
from cvibot.transports.base import Receiver, Transport, TransportError

__all__ = ["RecordedMessage", "ReplayTransport", "read_recording"]


@dataclass(frozen=True, slots=True)
class RecordedMessage:
    """One inbound message of a recording; ``at`` in seconds from the start, if known."""

    line: int
    message: Any
    sender: str | None
    at: float | None


def _recorded_at(message: Any) -> float | None:
    if isinstance(message, Mapping):
        ts = message.get("timestamp")
        if isinstance(ts, int | float) and not isinstance(ts, bool):
            return float(ts)
    return None


def read_recording(path: Path) -> Iterator[RecordedMessage]:
    """Yield the inbound messages of a JSONL recording, in file order.

    Raises :class:`TransportError` if the file cannot be read.
    """
    try:
        handle = path.open(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise TransportError(f"cannot read recording {path}: {exc.strerror or exc}") from exc
    first_ts: float | None = None
    with handle:
        for number, text in enumerate(handle, start=1):
            stripped = text.strip()
            if not stripped:
                continue
            try:
                value: Any = json.loads(stripped)
            except ValueError:
                yield RecordedMessage(number, stripped, None, None)
                continue
            if isinstance(value, dict) and "direction" in value and "message" in value:
                if value.get("direction") != "in":
                    continue
                at = value.get("at")
                sender = value.get("sender")
                yield RecordedMessage(
                    number,
                    value["message"],
                    sender if isinstance(sender, str) else None,
                    float(at) if isinstance(at, int | float) and not isinstance(at, bool) else None,
                )
                continue
            ts = _recorded_at(value)
            at_ts: float | None = None
            if ts is not None:
                first_ts = ts if first_ts is None else first_ts
                at_ts = max(0.0, ts - first_ts)
            yield RecordedMessage(number, value, None, at_ts)


class ReplayTransport(Transport):
    """Feeds a JSONL recording to the session; writes what the bot sends to ``out``.

    ``out`` receives one compact JSON message per line, exactly as it would be sent.
    """

    name = "replay"

    def __init__(
        self,
        path: Path,
        *,
        pace: Literal["fast", "recorded"] = "fast",
        speed: float = 1.0,
        out: Path | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be greater than 0")
        self.path = path
        self.pace = pace
        self.speed = speed
        self.out = out
        self._out_file: IO[bytes] | None = None
        self._closed = False

    def describe(self) -> str:
        return f"replay {self.path} ({self.pace})"

    async def open(self) -> None:
        if not self.path.is_file():
            raise TransportError(f"recording not found: {self.path}")
        if self.out is not None:
            try:
                self.out.parent.mkdir(parents=True, exist_ok=True)
                self._out_file = self.out.open("wb")
            except OSError as exc:
                raise TransportError(f"cannot write {self.out}: {exc.strerror or exc}") from exc

    async def run(self, receiver: Receiver) -> None:
        started = time.monotonic()
        for item in read_recording(self.path):
            if self._closed or receiver.closed:
                return
            if self.pace == "recorded" and item.at is not None:
                delay = started + item.at / self.speed - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            receiver.on_message(item.message, item.sender, None)
            if self.pace == "fast":
                await receiver.settled()
        await receiver.settled()

    async def send(self, message: Mapping[str, Any]) -> None:
        """Write ``message`` to ``out`` (if set). Raises :class:`TransportError` after close."""
        if self._closed:
            raise TransportError("the replay transport is closed; the message was not sent")
        if self._out_file is not None:
            self._out_file.write(encode_message(message) + b"\n")

    async def close(self) -> None:
        self._closed = True
        if self._out_file is not None:
            self._out_file.close()
            self._out_file = None
