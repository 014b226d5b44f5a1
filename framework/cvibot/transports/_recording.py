"""Record a conversation, on any transport, as a JSONL file that replays as a test.

:class:`RecordingTransport` wraps another transport: whatever the inner transport
delivers (messages with their sender and arrival time, participant changes) and whatever
the bot sends through it is written to the file, one JSON object per line, in the
order it happened. :class:`~cvibot.transports._replay.ReplayTransport` replays such a
file, and :func:`cvibot._recording.compare_outbound` compares its ``out`` lines with what
a bot sends now (``cvibot run CONFIG --record FILE`` / ``cvibot replay --check``).

Line format (``at``: seconds since the recording started, monotonic clock, rounded to
milliseconds, never decreasing):

- the header, first::

    {"direction": "meta", "at": 0.0,
     "recording": {"version": 1, "started_at": <unix seconds>, "transport": "<inner>"}}

- an inbound message, as received (an object, or the raw string)::

    {"direction": "in", "at": 1.25, "sender": "<participant id>" | null,
     "received_at": <unix seconds> | null, "message": {...} | "..."}

- a participant change::

    {"direction": "participant", "at": 0.5, "change": "joined" | "updated" | "left",
     "participant": {"id": ..., "user_id": ..., "user_name": ..., "local": false},
     "reason": null | "leftCall" | "hidden"}

- an outbound message, written once ``inner.send`` returned::

    {"direction": "out", "at": 1.3, "to": null | "<participant id>", "message": {...}}

- a send that raised: the same fields, ``"direction": "out_failed"`` and ``"error":
  "<the exception's text>"``. It is not an ``out`` line, because the message never
  left; it is recorded because it is what the bot decided to send, so
  :func:`~cvibot.transports._replay.read_outbound` counts it as expected output by
  default (a replay sends it without failing).

Inbound lines are written before the message is handed on, so a line always precedes
the answers it causes. Each line is flushed as it is written (not ``fsync``-ed): if the
process dies, at most the line being written is lost.

A write that fails (disk full, ...) does not stop the conversation: it is logged, the
recording stops there, and :meth:`RecordingTransport.close` raises
:class:`TransportError` to say that the recording is incomplete.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import structlog

from cvibot._participants import Participant, ParticipantChange
from cvibot.transports._base import Receiver, Transport, TransportError
from cvibot.transports._private_file import open_private
from cvibot.transports._replay import RECORDING_VERSION

__all__ = ["RecordingTransport"]

_log = structlog.get_logger("cvibot.transports.recording")


def _encode(line: Mapping[str, Any]) -> bytes:
    """One line of JSON (UTF-8, non-ASCII kept), newline-terminated.

    A lone surrogate (which UTF-8 cannot carry) is written as a ``\\u`` escape instead;
    a value JSON cannot represent is written as its ``repr``, and so is a whole message
    that cannot be encoded at all (a circular one); one nested too deeply for even that
    is replaced by a note, so the recording carries on.
    """
    try:
        text = json.dumps(line, ensure_ascii=False, default=repr)
    except (ValueError, RecursionError):
        try:
            kept = repr(line.get("message"))
        except RecursionError:  # repr recurses too: a message nested past Python's limit
            kept = "<not recorded: nested too deeply to write>"
        line = {**line, "message": kept}
        text = json.dumps(line, ensure_ascii=False, default=repr)
    try:
        return (text + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(line, default=repr) + "\n").encode("ascii")


def _inbound(message: Any) -> Any:
    """The message as the line records it: bytes are decoded (UTF-8, replacing)."""
    if isinstance(message, bytes | bytearray):
        return bytes(message).decode("utf-8", errors="replace")
    return message


class _RecordingReceiver:
    """The receiver the inner transport sees: writes each delivery, then forwards it."""

    __slots__ = ("_receiver", "_recording")

    def __init__(self, recording: RecordingTransport, receiver: Receiver) -> None:
        self._recording = recording
        self._receiver = receiver

    def on_message(
        self, message: Any, sender: str | None = None, received_at: float | None = None
    ) -> None:
        self._recording._write(
            "in",
            {
                "sender": sender,
                "received_at": received_at,
                "message": _inbound(message),
            },
        )
        self._receiver.on_message(message, sender, received_at)

    def on_participant(
        self,
        change: ParticipantChange,
        participant: Participant,
        reason: str | None = None,
        received_at: float | None = None,
    ) -> None:
        self._recording._write(
            "participant",
            {
                "change": change,
                "participant": {
                    "id": participant.id,
                    "user_id": participant.user_id,
                    "user_name": participant.user_name,
                    "local": participant.local,
                },
                "reason": reason,
            },
        )
        self._receiver.on_participant(change, participant, reason, received_at)

    async def settled(self) -> None:
        await self._receiver.settled()

    @property
    def closed(self) -> bool:
        return self._receiver.closed


class RecordingTransport(Transport):
    """``inner``, with everything it delivers and sends written to ``path`` (JSONL).

    See the module docstring for the line format. Works around any transport: it only
    uses the :class:`Transport` and :class:`Receiver` interfaces. ``path`` is created
    (with its folders) or overwritten by :meth:`open`, readable by its owner only
    (mode ``0600``; an existing file loses its group and other permissions, see
    :mod:`cvibot.transports._private_file`).
    """

    name = "recording"

    def __init__(self, inner: Transport, path: Path) -> None:
        self.inner = inner
        self.path = path
        self.identifies_senders = inner.identifies_senders
        self._file: IO[bytes] | None = None
        self._lock = threading.Lock()
        self._started = 0.0
        self._last_at = 0.0
        self._opened = False
        self._failure: str | None = None

    def describe(self) -> str:
        return f"{self.inner.describe()}, recording to {self.path}"

    def leaving(self) -> None:
        self.inner.leaving()

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        """Create the file and write the header, then open ``inner``.

        Raises :class:`TransportError` when the file cannot be written (before
        ``inner`` is opened), and whatever ``inner.open`` raises (the file, holding
        only the header, is then closed).
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = open_private(self.path)
        except OSError as exc:
            raise TransportError(
                f"cannot write the recording {self.path}: {exc.strerror or exc}"
            ) from exc
        self._file = handle
        self._opened = True
        self._started = time.monotonic()
        self._write(
            "meta",
            {
                "recording": {
                    "version": RECORDING_VERSION,
                    "started_at": time.time(),
                    "transport": self.inner.describe(),
                },
            },
        )
        if self._failure is not None:
            failure, self._failure = self._failure, None
            self._close_file()
            raise TransportError(f"cannot write the recording {self.path}: {failure}")
        try:
            await self.inner.open()
        except BaseException:
            self._close_file()
            raise

    async def run(self, receiver: Receiver) -> None:
        """Run ``inner`` with a receiver that records each delivery before forwarding it.

        Raises :class:`TransportError` if :meth:`open` was not called, and whatever
        ``inner.run`` raises.
        """
        if not self._opened:
            raise TransportError("the recording transport was not opened")
        await self.inner.run(_RecordingReceiver(self, receiver))

    async def send(self, message: Mapping[str, Any], to: str | None = None) -> None:
        """Send through ``inner``, then write an ``out`` line.

        When ``inner.send`` raises (an :class:`Exception`), an ``out_failed`` line is
        written and the exception propagates unchanged; a cancelled send writes nothing
        (whether it left is unknown). A send after :meth:`close` is forwarded but not
        recorded.
        """
        try:
            await self.inner.send(message, to)
        except Exception as exc:
            self._write(
                "out_failed",
                {
                    "to": to,
                    "message": message if isinstance(message, dict) else dict(message),
                    "error": str(exc) or type(exc).__name__,
                },
            )
            raise
        self._write(
            "out",
            {
                "to": to,
                "message": message if isinstance(message, dict) else dict(message),
            },
        )

    async def close(self) -> None:
        """Close ``inner``, then flush and close the file; idempotent.

        Raises whatever ``inner.close`` raises (the file is closed either way), else
        :class:`TransportError` once if a write failed: the recording is incomplete.
        """
        try:
            await self.inner.close()
        finally:
            self._close_file()
        failure, self._failure = self._failure, None
        if failure is not None:
            raise TransportError(f"the recording {self.path} is incomplete: {failure}")

    # -- writing ---------------------------------------------------------------------------

    def _write(self, direction: str, fields: Mapping[str, Any], at: float | None = None) -> None:
        """Write and flush one line; never raises (a failure ends the recording).

        ``at`` defaults to the seconds since :meth:`open`, to the millisecond, never less
        than the previous line's: it is taken under the same lock as the write, so the
        file is in ``at`` order even if deliveries come from several threads.
        """
        with self._lock:
            if self._file is None:
                return
            if at is None:
                at = max(self._last_at, round(time.monotonic() - self._started, 3))
            self._last_at = at
            try:
                self._file.write(_encode({"direction": direction, "at": at, **fields}))
                self._file.flush()
            except (OSError, ValueError) as exc:
                reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
                self._failure = reason
                _log.error("recording stopped: a write failed", path=str(self.path), error=reason)
                file, self._file = self._file, None
                with contextlib.suppress(OSError, ValueError):
                    file.close()

    def _close_file(self) -> None:
        with self._lock:
            file, self._file = self._file, None
        if file is None:
            return
        try:
            file.flush()
            file.close()
        except OSError as exc:
            self._failure = self._failure or (exc.strerror or str(exc))
