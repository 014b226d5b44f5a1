"""API paths built from ids (protocol reference §8): each id is one percent-encoded path
segment, so an id can never change the path it is put in."""

from __future__ import annotations

from urllib.parse import quote

__all__ = ["segment"]


def segment(value: str, what: str) -> str:
    """``value`` percent-encoded as one path segment (``"a/b"`` → ``"a%2Fb"``).

    ``what`` names the argument in the error. Raises ``ValueError`` for an empty value or
    one that is not a string.
    """
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string")
    return quote(value, safe="")
