"""The room's address: checked before the SDK sees it, and kept out of logs and errors.

A private room's meeting token may come as ``meeting_token`` or as the URL's ``?t=``
query; neither may appear in a log line or an exception.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from cvibot.transports._daily.sdk_errors import InvalidRoomUrl

__all__ = ["RoomAddress"]

_HOST = re.compile(r"^(?:[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?\.?$")


def _display_url(url: str) -> str:
    try:
        parts = urlsplit(url)
    except (TypeError, ValueError, AttributeError):  # check() reports it as InvalidRoomUrl
        return str(url).split("?", 1)[0]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class RoomAddress:
    """A room URL and its meeting token.

    ``url`` is the URL as given (the SDK gets it unchanged); ``display`` the same URL
    without query string and fragment, for logs and errors; ``token`` the meeting token
    or ``None``.
    """

    __slots__ = ("display", "token", "url")

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url
        self.token = token or None
        self.display = _display_url(url)

    def check(self) -> None:
        """Raise :class:`.errors.InvalidRoomUrl` unless the URL is http(s) with a host."""
        try:
            parts = urlsplit(self.url)
            host = parts.hostname or ""
            valid = parts.scheme in ("http", "https") and parts.port != 0
        except (TypeError, ValueError, AttributeError):  # not a str, a bad port, ...
            host, valid = "", False
        if not (valid and (_HOST.match(host) or ":" in host)):
            shown = self.redact(self.display)  # never the ?t= token of a private room
            raise InvalidRoomUrl(
                f"the room URL {shown!r} is not valid: it needs http:// or https:// "
                "and a host name (for example https://tavus.daily.co/<conversation_id>)",
                None,
                self.display,
            )

    def redact(self, text: str) -> str:
        """``text`` without the meeting token, nor the URL's query (``?t=<token>``)."""
        if self.url != self.display:
            text = text.replace(self.url, self.display)
        return text.replace(self.token, "***") if self.token else text
