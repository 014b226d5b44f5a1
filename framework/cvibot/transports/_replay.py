"""Replay a recorded conversation (JSONL) through the same session code as a live room.

File format, one JSON value per line (blank lines are skipped):

- a plain app-message, exactly as Tavus broadcast it: ``{"event_type": ..., ...}`` (or a
  JSON string holding one);
- a recording line, an object with a ``"direction"`` key (as
  :class:`~cvibot.transports._recording.RecordingTransport` writes them; ``at`` is seconds
  from the start of the recording):

  - ``{"direction": "in", "at": 1.25, "sender": "<participant id>", "received_at":
    <unix seconds>, "message": {...}}``: an inbound app-message, replayed;
  - ``{"direction": "participant", "at": 0.5, "change": "joined"|"updated"|"left",
    "participant": {"id", "user_id", "user_name", "local"}, "reason": null}``: a change
    of the room's roster, replayed through ``Receiver.on_participant`` in file order, so
    the session applies the same sender rules as it did live (daily-python's
    ``{"id", "info": {"userId", ...}}`` spelling is read too);
  - ``{"direction": "out", "at": 1.3, "to": null, "message": {...}}``: what the bot sent
    (``"out_failed"``, with an ``"error"``: what it tried to send when the send failed);
    not replayed, read by :func:`read_outbound` for ``cvibot replay --check``;
  - ``{"direction": "meta", "at": 0.0, "recording": {"version": 1, ...}}``: the header,
    not replayed. A ``version`` newer than :data:`RECORDING_VERSION` is an error;
  - ``{"direction": "note", "note": "..."}``: a note for a person reading the replay
    about the next line delivered (a demo's deliberately malformed line, which cannot
    carry one itself); ``in`` and ``participant`` lines may carry their own ``"note"``.
    Notes are never delivered to the bot: :attr:`ReplayTransport.on_note` receives
    them, as the transcript does, just before their line is delivered.

  Lines of any other ``direction`` are skipped (later versions may add some).

A line that is not valid JSON is delivered as the raw text, so the session rejects and
counts it (reason ``not_json``) exactly as it would a garbled live message. So is a line
nested deeper or longer than a message may be (:mod:`cvibot._protocol.bounds`, one level
and 64 KiB more for the recording line around it): it is never decoded here, and the
session rejects it as ``too_deep`` or ``too_large``; for an ``in`` line the message's
own text is delivered, so a tool call in it keeps its ids and is answered with an
error. A line over the size limit is not even read whole. Either way the replay goes on. A recording
line of a known ``direction`` but the wrong shape (an ``in`` line without ``message``, a
``participant`` line without a participant id or with an unknown ``change``, an ``out``
line whose message is not an object) is a broken recording: :class:`TransportError`
naming the file and line.

Pace: ``fast`` delivers each message as soon as the work started by the previous one has
settled, so a replay is deterministic and its outbound file is the same on every run;
``recorded`` delivers at the recorded arrival times (``at``, else the event's
``timestamp`` relative to the first one) divided by ``speed``, with calls overlapping as
they would live.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, get_args

from cvibot._participants import Participant, ParticipantChange
from cvibot._protocol.bounds import MAX_DEPTH, MAX_SIZE, _shallow_decode, check_text, elided_mark
from cvibot._protocol.interactions import encode_message
from cvibot._protocol.rejection import _Invalid
from cvibot.transports._base import Receiver, Transport, TransportError
from cvibot.transports._private_file import open_private

__all__ = [
    "RECORDING_VERSION",
    "RecordedMessage",
    "RecordedOutbound",
    "RecordedParticipant",
    "ReplayTransport",
    "read_entries",
    "read_outbound",
    "read_recording",
]

RECORDING_VERSION = 1
"""The recording format this cvibot writes and the newest one it reads."""

_CHANGES: frozenset[str] = frozenset(get_args(ParticipantChange))


@dataclass(frozen=True, slots=True)
class RecordedMessage:
    """One inbound message of a recording; ``at`` in seconds from the start, if known.

    ``received_at`` is the recorded arrival time (unix seconds), when the line has one;
    the replay does not pass it on (a replayed message arrives now).
    """

    line: int
    message: Any
    sender: str | None
    at: float | None
    received_at: float | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class RecordedParticipant:
    """One ``participant`` line: a roster change; ``at`` in seconds from the start."""

    line: int
    change: ParticipantChange
    participant: Participant
    reason: str | None
    at: float | None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class RecordedOutbound:
    """One ``out`` (or ``out_failed``) line: a message the bot sent (or tried to send).

    ``to`` is the participant id it was addressed to (``None``: the whole room);
    ``error`` is ``None`` for a message that was sent, the failure's text otherwise.
    """

    line: int
    message: Mapping[str, Any]
    to: str | None
    at: float | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class _Note:
    """A ``note`` line: said about the next line delivered."""

    text: str


_Entry = RecordedMessage | RecordedParticipant | RecordedOutbound | _Note


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _recorded_at(message: Any) -> float | None:
    if isinstance(message, Mapping):
        return _number(message.get("timestamp"))
    return None


def _broken(path: Path, line: int, problem: str) -> TransportError:
    return TransportError(f"{path}:{line}: {problem}")


def _recording_line(path: Path, line: int, value: Mapping[str, Any]) -> _Entry | None:
    """The entry of one line with a ``direction``; ``None`` for a line not to deliver."""
    direction = value.get("direction")
    at = _number(value.get("at"))
    if direction == "in":
        if "message" not in value:
            raise _broken(path, line, 'an "in" line without "message"')
        return RecordedMessage(
            line,
            value["message"],
            _text(value.get("sender")),
            at,
            _number(value.get("received_at")),
            _text(value.get("note")),
        )
    if direction == "participant":
        change = value.get("change")
        if change not in _CHANGES:
            raise _broken(
                path,
                line,
                f'a "participant" line with change {change!r} '
                '(expected "joined", "updated" or "left")',
            )
        participant = Participant.from_daily(value.get("participant"))
        if participant is None:
            raise _broken(path, line, 'a "participant" line without a participant id')
        return RecordedParticipant(
            line, change, participant, _text(value.get("reason")), at, _text(value.get("note"))
        )
    if direction in ("out", "out_failed"):
        message = value.get("message")
        if not isinstance(message, Mapping):
            raise _broken(path, line, f'an "{direction}" line whose message is not an object')
        error = None
        if direction == "out_failed":
            error = _text(value.get("error")) or "the send failed"
        return RecordedOutbound(line, message, _text(value.get("to")), at, error)
    if direction == "note":
        note = _text(value.get("note"))
        return _Note(note) if note else None
    if direction == "meta":
        header = value.get("recording")
        version = header.get("version") if isinstance(header, Mapping) else None
        if isinstance(version, int) and version > RECORDING_VERSION:
            raise _broken(
                path,
                line,
                f"recording format version {version} is newer than this cvibot reads "
                f"({RECORDING_VERSION})",
            )
    return None


_LINE_DEPTH = MAX_DEPTH + 1  # a recording line wraps the message in one more object
_LINE_SIZE = MAX_SIZE + 64 * 1024  # ... with a few fields beside it
_CHUNK = 1 << 16


def _lines(handle: IO[str]) -> Iterator[tuple[int, str, bool]]:
    """``(number, text, whole)`` per line; a line over ``_LINE_SIZE`` characters is cut
    there (``whole`` false) and the rest of it skipped without being held in memory."""
    number = 0
    while True:
        text = handle.readline(_LINE_SIZE + 1)
        if not text:
            return
        number += 1
        if len(text) <= _LINE_SIZE or text.endswith("\n"):
            yield number, text, True
            continue
        while True:  # skip the rest of the line
            rest = handle.readline(_CHUNK)
            if not rest or rest.endswith("\n"):
                break
        yield number, text, False


def _out_of_bounds(number: int, text: str, whole: bool) -> RecordedMessage:
    """A line too deep or too large to decode, delivered so the session rejects it.

    The session's parser measures the text again and rejects it (``too_deep`` or
    ``too_large``, logged and counted), reading what ids it safely can; an ``in``
    recording line delivers its message's text, so those ids are the call's own.
    """
    if whole:
        elided: list[str] = []
        shallow = _shallow_decode(text, 1, elided)
        if isinstance(shallow, dict) and shallow.get("direction") == "in":
            message = shallow.get("message")
            for index, part in enumerate(elided):
                if message == elided_mark(index):
                    return RecordedMessage(
                        number,
                        part,
                        _text(shallow.get("sender")),
                        _number(shallow.get("at")),
                        _number(shallow.get("received_at")),
                    )
    return RecordedMessage(number, text, None, None)


def _read(path: Path) -> Iterator[_Entry]:
    """Every entry of a recording, in file order. See the module docstring."""
    try:
        handle = path.open(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise TransportError(f"cannot read recording {path}: {exc.strerror or exc}") from exc
    first_ts: float | None = None
    with handle:
        for number, text, whole in _lines(handle):
            stripped = text.strip()
            if not stripped:
                continue
            if not whole:
                yield _out_of_bounds(number, stripped, whole)
                continue
            try:
                check_text(stripped, max_depth=_LINE_DEPTH, max_size=_LINE_SIZE)
            except _Invalid:
                yield _out_of_bounds(number, stripped, whole)
                continue
            try:
                value: Any = json.loads(stripped)
            except (ValueError, RecursionError):
                yield RecordedMessage(number, stripped, None, None)
                continue
            if isinstance(value, dict) and "direction" in value:
                entry = _recording_line(path, number, value)
                if entry is not None:
                    yield entry
                continue
            ts = _recorded_at(value)
            at_ts: float | None = None
            if ts is not None:
                first_ts = ts if first_ts is None else first_ts
                at_ts = max(0.0, ts - first_ts)
            yield RecordedMessage(number, value, None, at_ts)


def read_recording(path: Path) -> Iterator[RecordedMessage]:
    """Yield the inbound messages of a JSONL recording, in file order.

    Participant, outbound and header lines are left out (see :func:`read_entries`).
    Raises :class:`TransportError` if the file cannot be read or a recording line is
    broken (see the module docstring).
    """
    for entry in read_entries(path):
        if isinstance(entry, RecordedMessage):
            yield entry


def read_entries(path: Path) -> Iterator[RecordedMessage | RecordedParticipant]:
    """Yield what a replay delivers: inbound messages and participant changes, in file
    order. Raises :class:`TransportError` as :func:`read_recording` does."""
    note: str | None = None
    for entry in _read(path):
        if isinstance(entry, _Note):
            note = entry.text if note is None else f"{note}; {entry.text}"
        elif not isinstance(entry, RecordedOutbound):
            if note is not None:
                own = f"{note}; {entry.note}" if entry.note else note
                entry = dataclasses.replace(entry, note=own)
                note = None
            yield entry


def read_outbound(path: Path, *, include_failed: bool = True) -> list[RecordedOutbound]:
    """The messages the recorded bot sent (``out`` lines), in file order.

    With ``include_failed`` (the default) the messages it tried to send but whose send
    failed (``out_failed`` lines) are included too: they are what the bot decided to
    send, which is what ``cvibot replay --check`` compares. Raises
    :class:`TransportError` as :func:`read_recording` does.
    """
    return [
        entry
        for entry in _read(path)
        if isinstance(entry, RecordedOutbound) and (include_failed or entry.error is None)
    ]


class ReplayTransport(Transport):
    """Feeds a JSONL recording to the session; writes what the bot sends to ``out``.

    ``out`` receives one compact JSON message per line, exactly as it would be sent,
    flushed as it is written; it is created readable by its owner only (``0600``, see
    :mod:`cvibot.transports._private_file`). Nothing sent is kept in memory.
    Participant lines reach ``receiver.on_participant`` (``received_at=None``) in file
    order with the messages. ``on_note``, when set, is called with each line's note
    (see the module docstring) just before that line is delivered.
    """

    name = "replay"
    # Plain JSONL lines carry no sender; participant lines replay the roster, so the
    # messages of recording lines that name a sender are judged as they were live.
    identifies_senders = False

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
        self.on_note: Callable[[str], None] | None = None
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
                self._out_file = open_private(self.out)
            except OSError as exc:
                raise TransportError(f"cannot write {self.out}: {exc.strerror or exc}") from exc

    async def run(self, receiver: Receiver) -> None:
        """Deliver the recording; raises :class:`TransportError` for a broken line."""
        started = time.monotonic()
        for item in read_entries(self.path):
            if self._closed or receiver.closed:
                return
            if self.pace == "recorded" and item.at is not None:
                delay = started + item.at / self.speed - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            if item.note is not None and self.on_note is not None:
                self.on_note(item.note)
            if isinstance(item, RecordedParticipant):
                receiver.on_participant(item.change, item.participant, item.reason, None)
            else:
                receiver.on_message(item.message, item.sender, None)
            if self.pace == "fast":
                await receiver.settled()
        await receiver.settled()

    async def send(self, message: Mapping[str, Any], to: str | None = None) -> None:
        """Write ``message`` to ``out`` (if set). Raises :class:`TransportError` after close."""
        if self._closed:
            raise TransportError("the replay transport is closed; the message was not sent")
        if self._out_file is not None:
            # Flushed per line: what was sent is on disk even if the process is killed.
            self._out_file.write(encode_message(message) + b"\n")
            self._out_file.flush()

    async def close(self) -> None:
        self._closed = True
        if self._out_file is not None:
            self._out_file.close()
            self._out_file = None
