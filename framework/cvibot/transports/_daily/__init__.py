"""The Daily transport: a Tavus conversation's room, joined with daily-python.

Importing this package does not import ``daily``; :meth:`DailyTransport.open` does.

- :class:`DailyTransport` (:mod:`.transport`), its settings :class:`DailyOptions` and
  :class:`ReconnectPolicy` (:mod:`.options`);
- the errors, all :class:`cvibot.transports._base.TransportError` (:mod:`.sdk_errors`);
- :func:`pending_releases`: call clients still being released in the background, so a
  process can exit with ``os._exit`` instead of waiting for the SDK (:mod:`.release`).
"""

from cvibot.transports._daily.options import DailyOptions, ReconnectPolicy
from cvibot.transports._daily.release import pending_releases
from cvibot.transports._daily.sdk_errors import (
    ConnectionLost,
    DailyError,
    InvalidAppMessage,
    InvalidClientSettings,
    InvalidRoomUrl,
    JoinFailed,
    JoinTimeout,
    NotJoined,
    RoomEnded,
    RoomUnreachable,
    SendFailed,
)
from cvibot.transports._daily.transport import DailyTransport

__all__ = [
    "ConnectionLost",
    "DailyError",
    "DailyOptions",
    "DailyTransport",
    "InvalidAppMessage",
    "InvalidClientSettings",
    "InvalidRoomUrl",
    "JoinFailed",
    "JoinTimeout",
    "NotJoined",
    "ReconnectPolicy",
    "RoomEnded",
    "RoomUnreachable",
    "SendFailed",
    "pending_releases",
]
