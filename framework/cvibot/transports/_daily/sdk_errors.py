"""daily-python's error strings as exceptions.

daily-python reports failures as plain strings (Rust ``Debug`` text) through completions
and ``on_error``, never as exceptions or codes (daily-python.md §0.6, §4). This module
maps them, by prefix, to a small set of :class:`~cvibot.transports._base.TransportError`
subclasses. Every exception keeps the SDK's string as ``.raw`` (``None`` for errors the
transport raises itself) and reads, as ``str()``, as one line a person understands.

Prefixes (daily-python.md §9):

- ``Failed to parse url`` → :class:`InvalidRoomUrl`;
- ``Invalid client settings`` → :class:`InvalidClientSettings`;
- ``Connection(`` (``Connection(Api(RoomLookup(...`` offline) → :class:`RoomUnreachable`;
- ``AppMessage(Signalling(ChannelNotOpen))`` → :class:`NotJoined`;
- a room that is over (see :func:`is_room_end`) → :class:`RoomEnded`.
"""

from __future__ import annotations

import re

from cvibot.transports._base import TransportError

__all__ = [
    "CHANNEL_NOT_OPEN",
    "ConnectionLost",
    "DailyError",
    "InvalidAppMessage",
    "InvalidClientSettings",
    "InvalidRoomUrl",
    "JoinFailed",
    "JoinTimeout",
    "NotJoined",
    "RoomEnded",
    "RoomUnreachable",
    "SendFailed",
    "is_room_end",
    "join_error",
    "send_error",
    "short",
    "strip_context",
]

CHANNEL_NOT_OPEN = "AppMessage(Signalling(ChannelNotOpen))"
"""The completion of a ``send_app_message`` issued while not in the room (§0.7)."""

_SHORT = 160
_INNER = re.compile(r'error: "([^"]+)"')
_CONTEXT = re.compile(r"^Error handling [A-Za-z]+: ")

# Markers of a room that is over, matched against the error text lower-cased with
# everything but letters removed ("Meeting has ended" -> "meetinghasended").
# UNVERIFIED offline: no room could be joined on the probe machine, so the exact strings
# daily-python gives for an ejection, a meeting that ended, a deleted room or an expired
# room/token were never observed. These cover daily-js's error types ("ejected",
# "exp-room", "exp-token", "no-room") and the Rust-style spellings one would expect.
_ROOM_END_MARKERS = (
    "ejected",
    "meetingended",
    "meetinghasended",
    "callended",
    "roomdeleted",
    "roomwasdeleted",
    "roomnotfound",
    "nosuchroom",
    "noroom",
    "exproom",
    "exptoken",
    "roomexpired",
    "tokenexpired",
    "expired",
)


def short(raw: str) -> str:
    """The useful part of an SDK error string, at most 160 characters.

    For a network error that is the innermost ``error: "..."`` text (for example
    ``failed to lookup address information: Name or service not known``).
    """
    match = _INNER.search(raw)
    text = match.group(1) if match else raw
    return text if len(text) <= _SHORT else text[: _SHORT - 1] + "…"


def strip_context(message: str) -> str:
    """Drop the ``Error handling join: `` style prefix of an ``on_error`` string."""
    return _CONTEXT.sub("", message, count=1)


def is_room_end(message: str) -> bool:
    """True if ``message`` (an ``on_error`` or join error string) says the room is over:
    the bot was ejected, the meeting ended, the room was deleted or has expired.

    The strings are unverified offline (see ``_ROOM_END_MARKERS``).
    """
    letters = re.sub(r"[^a-z]", "", message.lower())
    return any(marker in letters for marker in _ROOM_END_MARKERS)


class DailyError(TransportError):
    """Base of the Daily transport's errors; ``raw`` is the SDK's string, if any."""

    def __init__(self, message: str, raw: str | None = None) -> None:
        super().__init__(message)
        self.raw = raw


class JoinFailed(DailyError):
    """The join did not succeed (raised as such for an error string not listed above).

    ``url`` is the room (without query string: a ``?t=`` token never appears).
    """

    def __init__(self, message: str, raw: str | None = None, url: str | None = None) -> None:
        super().__init__(message, raw)
        self.url = url


class InvalidRoomUrl(JoinFailed):
    """The room URL is malformed (checked before the SDK is touched, or
    ``Failed to parse url`` from the SDK, which answers in about 1 ms)."""


class RoomUnreachable(JoinFailed):
    """The room could not be reached: DNS, network or room lookup failure
    (``Connection(Api(RoomLookup(...`` after about 19 s offline, daily-python.md §4)."""


class JoinTimeout(JoinFailed):
    """Our own bound on the join (``join_timeout`` seconds) ran out; ``timeout`` holds it.

    The SDK keeps joining after this (daily-python.md §0.4), so the transport releases
    the client in a background thread.
    """

    def __init__(self, url: str, timeout: float) -> None:
        message = f"the room {url} could not be reached: no join within {timeout:g} s"
        super().__init__(message, None, url)
        self.timeout = timeout


class InvalidClientSettings(JoinFailed):
    """The SDK rejected the join's client settings (``Invalid client settings``)."""


class RoomEnded(JoinFailed):
    """The room refused the join because it is over (ended, deleted, expired, ejected)."""


class NotJoined(DailyError):
    """The app-message channel is not open: the bot is not in the room (ChannelNotOpen)."""


class SendFailed(DailyError):
    """An app-message was not confirmed: an SDK error, or no completion in time."""


class InvalidAppMessage(DailyError, ValueError):
    """An outgoing app-message failed the pre-checks (not a JSON object, not strict JSON,
    over the size limit, a ``to`` that is not a participant UUID) or the SDK refused it
    synchronously. Nothing was sent."""


class ConnectionLost(DailyError):
    """The connection to the room dropped and every rejoin attempt failed.

    ``attempts`` is how many rejoins were tried; ``last`` the error of the last one.
    """

    def __init__(self, attempts: int, last: BaseException | None = None) -> None:
        detail = f": {last}" if last is not None else ""
        message = (
            f"lost the connection to the room and could not rejoin after {attempts} "
            f"attempt{'s' if attempts != 1 else ''}{detail}"
            if attempts
            else "lost the connection to the room (rejoining is disabled)"
        )
        super().__init__(message, getattr(last, "raw", None))
        self.attempts = attempts
        self.last = last


def join_error(raw: str, url: str) -> JoinFailed:
    """The exception for a join completion's error string (``raw`` already redacted)."""
    text = strip_context(raw)
    brief = short(text)
    if text.startswith("Failed to parse url"):
        return InvalidRoomUrl(f"the room URL {url} is not valid: {brief}", raw, url)
    if text.startswith("Invalid client settings"):
        return InvalidClientSettings(
            f"daily-python rejected the client settings for {url}: {brief}", raw, url
        )
    if is_room_end(text):
        return RoomEnded(f"the room {url} is over (ended, deleted or expired): {brief}", raw, url)
    if text.startswith("Connection("):
        cause = (
            "network or DNS failure"
            if "Connect" in text or "lookup" in text
            else "the room lookup failed"
        )
        return RoomUnreachable(f"the room {url} could not be reached ({cause}): {brief}", raw, url)
    return JoinFailed(f"could not join the room {url}: {brief}", raw, url)


def send_error(raw: str) -> DailyError:
    """The exception for a ``send_app_message`` completion's error string."""
    text = strip_context(raw)
    if text.startswith(CHANNEL_NOT_OPEN):
        return NotJoined(
            "the app-message was not sent: the bot is not in the room (channel not open)", raw
        )
    return SendFailed(f"the app-message was not sent: {short(text)}", raw)
