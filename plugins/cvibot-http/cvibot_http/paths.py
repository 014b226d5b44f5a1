"""Dotted paths into decoded JSON: ``data.status``, ``items.0.sku``.

A segment is an object key, or a list index (``0``, ``-1``) when the value is a list.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MISSING", "check_path", "pick"]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


#: What :func:`pick` returns when the path leads nowhere.
MISSING: Any = _Missing()


def check_path(path: str) -> str | None:
    """Say what is wrong with ``path``'s syntax, or return ``None``."""
    if not path.strip():
        return "must not be empty"
    if "[" in path or "]" in path:
        return "write list indexes as segments (items.0.sku), not items[0]"
    if any(not segment.strip() for segment in path.split(".")):
        return "has an empty segment (two dots, or a dot at an end)"
    return None


def pick(value: Any, path: str) -> Any:
    """The value at ``path`` (checked with :func:`check_path`) inside ``value``, or
    :data:`MISSING` when a key is absent, an index out of range, or a step lands on a
    value that is neither an object nor a list."""
    for segment in path.split("."):
        if isinstance(value, dict):
            if segment not in value:
                return MISSING
            value = value[segment]
        elif isinstance(value, list):
            try:
                value = value[int(segment)]
            except (ValueError, IndexError):
                return MISSING
        else:
            return MISSING
    return value
