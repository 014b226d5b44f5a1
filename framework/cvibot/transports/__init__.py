"""Transports: how a bot's session reaches a Tavus conversation.

Public for two readers:

- who writes a transport: subclass :class:`Transport`, hand each message to the
  :class:`Receiver` as an :class:`InboundMessage`, and each join or leave as an
  :class:`InboundParticipant` (a :class:`ParticipantChange` of a :class:`Participant`);
  :class:`MemoryTransport` is the smallest complete one;
- who runs a bot on Daily from code: :class:`DailyTransport` with its
  :class:`DailyOptions` and :class:`ReconnectPolicy`, the Daily errors to catch (all
  :class:`DailyError`, a :class:`TransportError`), and :func:`pending_releases`.

The names are imported on first use: ``import cvibot.transports`` imports neither the
Daily transport nor ``daily`` (:meth:`DailyTransport.open` does).
"""

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from cvibot._participants import Participant, ParticipantChange
    from cvibot.transports._base import (
        InboundMessage,
        InboundParticipant,
        Receiver,
        Transport,
        TransportError,
    )
    from cvibot.transports._daily import (
        ConnectionLost,
        DailyError,
        DailyOptions,
        DailyTransport,
        InvalidAppMessage,
        InvalidClientSettings,
        InvalidRoomUrl,
        JoinFailed,
        JoinTimeout,
        NotJoined,
        ReconnectPolicy,
        RoomEnded,
        RoomUnreachable,
        SendFailed,
        pending_releases,
    )
    from cvibot.transports._memory import MemoryTransport

__all__ = [
    "ConnectionLost",
    "DailyError",
    "DailyOptions",
    "DailyTransport",
    "InboundMessage",
    "InboundParticipant",
    "InvalidAppMessage",
    "InvalidClientSettings",
    "InvalidRoomUrl",
    "JoinFailed",
    "JoinTimeout",
    "MemoryTransport",
    "NotJoined",
    "Participant",
    "ParticipantChange",
    "Receiver",
    "ReconnectPolicy",
    "RoomEnded",
    "RoomUnreachable",
    "SendFailed",
    "Transport",
    "TransportError",
    "pending_releases",
]

_DAILY = "cvibot.transports._daily"
_HOMES = {
    "ConnectionLost": _DAILY,
    "DailyError": _DAILY,
    "DailyOptions": _DAILY,
    "DailyTransport": _DAILY,
    "InboundMessage": "cvibot.transports._base",
    "InboundParticipant": "cvibot.transports._base",
    "InvalidAppMessage": _DAILY,
    "InvalidClientSettings": _DAILY,
    "InvalidRoomUrl": _DAILY,
    "JoinFailed": _DAILY,
    "JoinTimeout": _DAILY,
    "MemoryTransport": "cvibot.transports._memory",
    "NotJoined": _DAILY,
    "Participant": "cvibot._participants",
    "ParticipantChange": "cvibot._participants",
    "Receiver": "cvibot.transports._base",
    "ReconnectPolicy": _DAILY,
    "RoomEnded": _DAILY,
    "RoomUnreachable": _DAILY,
    "SendFailed": _DAILY,
    "Transport": "cvibot.transports._base",
    "TransportError": "cvibot.transports._base",
    "pending_releases": _DAILY,
}


def __getattr__(name: str) -> _typing.Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'cvibot.transports' has no attribute {name!r}")
    value = getattr(_importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
