"""Key paths into the config file: their type, their line, and how messages write them."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

KeyPath = tuple[str | int, ...]
"""Keys from the top of the file down: mapping keys and list indexes."""

# A key that reads unambiguously after a dot; others are written ["..."].
_PLAIN_KEY = re.compile(r"[^\s.\[\]\"']+")


def _line_of(lines: Mapping[KeyPath, int], keys: KeyPath) -> int | None:
    for length in range(len(keys), -1, -1):
        line = lines.get(keys[:length])
        if line is not None:
            return line
    return None


def key_text(keys: KeyPath) -> str | None:
    """``keys`` as messages write them: ``plugins[0].settings.db``, ``headers["Bad Name"]``."""
    parts: list[str] = []
    for key in keys:
        if isinstance(key, int) and not isinstance(key, bool):
            parts.append(f"[{key}]")
        elif _PLAIN_KEY.fullmatch(text := str(key)):
            parts.append(f".{text}" if parts else text)
        else:
            parts.append(f"[{json.dumps(text)}]")
    return "".join(parts) or None
