"""Pieces shared by the config models: located errors, value descriptions, durations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cvibot.tools._options import TimeoutSeconds
from cvibot.transports._daily.options import WaitSeconds

__all__ = ["LocatedValueError", "TimeoutSeconds", "WaitSeconds", "describe"]

# Tool timeouts (seconds, at most an hour) are declared with the tool options.


class LocatedValueError(ValueError):
    """A validation failure at ``loc``, a key path relative to the value being validated.

    pydantic places a validator's error at the validated value; the loader appends
    ``loc`` so the message points at the offending key (and its line) instead.
    """

    def __init__(self, message: str, loc: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.loc = loc


def describe(value: Any) -> str:
    """A YAML value as an error message quotes it: ``null``, ``true``, ``'text'``, ``3``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str) and len(value) > 40:
        return repr(value[:37] + "...")
    return repr(value)
