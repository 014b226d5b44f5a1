"""Depth and size bounds of inbound JSON, checked before anything recurses into it.

An inbound message is untrusted data that later code walks recursively: pydantic
validating tool arguments, ``json.dumps`` in the dedupe key, the recording and the logs,
``repr`` in error messages. Nested a few thousand levels deep it makes those raise
``RecursionError`` (or worse); a megabyte of it costs every one of them. So the parser
measures a message first, with loops rather than recursion, and rejects one that is
nested deeper than :data:`MAX_DEPTH` or larger than :data:`MAX_SIZE`
(:class:`~cvibot._protocol.rejection.RejectReason` ``TOO_DEEP`` / ``TOO_LARGE``).

Depth counts containers: the message object is level 1, ``properties`` level 2, an
arguments object level 3. Size is the length of the compact JSON text in characters
(bytes for binary input), or for a decoded value a close estimate of it.
"""

from __future__ import annotations

import json
import re
from array import array
from collections.abc import Mapping
from itertools import accumulate
from typing import Any

from cvibot._protocol.rejection import RejectReason, _Invalid

__all__ = ["MAX_DEPTH", "MAX_SIZE"]

MAX_DEPTH = 64
"""Deepest nesting of objects and arrays an inbound message may have (message = 1)."""

MAX_SIZE = 4 << 20
"""Largest inbound message, in characters of its JSON text (4 MiB).

Daily documents 4 KB per app-message, but a vision perception call carries its frames
(base64 JPEGs) inside the message, so the bound leaves room for several of them.
"""

_SHALLOW_TOKENS = 65_536
"""Most strings and brackets :func:`_shallow_decode` scans (a Python loop, about 20 ms
at this count) before it gives up on a too-deep text's top-level ids. Counted in tokens,
not characters: a megabyte string is one token, so a call with a huge field and deep
arguments still has its ``tool_call_id`` read and gets its answer."""

# A JSON string, escapes included (the unrolled form runs in linear time).
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
# Opening brackets to +1, closing ones to -1 (as signed bytes).
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")


def _too_deep(where: str | None, limit: int) -> _Invalid:
    what = where or "message"
    return _Invalid(RejectReason.TOO_DEEP, where, f"{what} is nested more than {limit} levels deep")


def _too_large(where: str | None, size: int | None, limit: int) -> _Invalid:
    what = where or "message"
    if size is None:
        detail = f"{what} is too large (over the limit of {limit} characters of JSON)"
    else:
        detail = f"{what} is too large ({size} characters; the limit is {limit})"
    return _Invalid(RejectReason.TOO_LARGE, where, detail)


def check_value(value: Any, *, max_depth: int, max_size: int, where: str | None = None) -> None:
    """Raise ``_Invalid`` (``TOO_DEEP``/``TOO_LARGE``) when a decoded value is out of bounds.

    Walks ``value`` with an explicit stack, so any depth is safe to measure, and stops at
    the first container past ``max_depth`` or once the size estimate passes ``max_size``.
    Every node adds at least one to the estimate, so a cyclic or massively shared Python
    structure ends the walk too. Mappings, lists and tuples are containers; anything
    else counts as a scalar. Runs on every inbound message, hence the exact-type tests
    before the slower ``isinstance`` ones, and the shortcut for the usual message (an
    object of scalars and objects of scalars), which reaches the same verdict.
    """
    if type(value) is dict and max_depth >= 2:
        shallow = _shallow_size(value)
        if shallow is not None and shallow <= max_size:
            return
    size = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        item, depth = pop()
        kind = type(item)
        children: Any
        if kind is dict or (kind is not list and kind is not tuple and isinstance(item, Mapping)):
            try:  # keys with their quotes, colon and comma, and a short scalar each
                size += sum(map(len, item)) + 12 * len(item) + 2
            except TypeError:  # keys that are not strings (a Python caller's dict)
                size += 24 * len(item) + 2
            children = item.values()
        elif kind is list or kind is tuple or isinstance(item, list | tuple):
            size += 9 * len(item) + 2
            children = item
        else:  # a scalar at the top
            size += len(item) if kind is str else _scalar_size(item)
            continue
        if depth > max_depth:
            raise _too_deep(where, max_depth)
        for child in children:
            kind = type(child)
            if kind is str:
                size += len(child)
            elif kind is dict or kind is list:
                push((child, depth + 1))
            elif kind is int:
                if not -(10**15) < child < 10**15:
                    size += _scalar_size(child)
            elif kind is float or kind is bool or child is None:
                pass
            elif isinstance(child, Mapping | list | tuple):
                push((child, depth + 1))
            else:
                size += _scalar_size(child)
        if size > max_size:
            raise _too_large(where, None, max_size)


def _shallow_size(message: dict[Any, Any]) -> int | None:
    """:func:`check_value`'s size estimate of ``message`` when it holds only scalars and
    objects of scalars (strings, ints within ±10**15, floats, booleans, ``None``), such as
    a tool call whose arguments are a JSON string; ``None`` for anything else (the walk
    then decides). Two levels deep at most, so no depth bound can be passed."""
    try:
        size = sum(map(len, message)) + 12 * len(message) + 2
    except TypeError:
        return None
    for child in message.values():
        kind = type(child)
        if kind is str:
            size += len(child)
        elif kind is dict:
            try:
                size += sum(map(len, child)) + 12 * len(child) + 2
            except TypeError:
                return None
            for leaf in child.values():
                kind = type(leaf)
                if kind is str:
                    size += len(leaf)
                elif kind is int:
                    if not -(10**15) < leaf < 10**15:
                        return None
                elif not (kind is float or kind is bool or leaf is None):
                    return None
        elif kind is int:
            if not -(10**15) < child < 10**15:
                return None
        elif not (kind is float or kind is bool or child is None):
            return None
    return size


def _scalar_size(value: Any) -> int:
    """An upper bound of a scalar's JSON length (an int's decimal digits, say)."""
    if type(value) is int:
        return value.bit_length() // 3 + 2
    if isinstance(value, str):
        return len(value) + 2
    return 8


def check_text(text: str, *, max_depth: int, max_size: int, where: str | None = None) -> None:
    """Raise ``_Invalid`` (``TOO_DEEP``/``TOO_LARGE``) for JSON text out of bounds.

    Run before decoding: the size is the text's length, and the depth is counted on the
    brackets outside strings without decoding (:func:`_deeper_than`). Text with no more
    opening brackets than ``max_depth`` cannot be too deep, which settles almost every
    message at the cost of two counts.
    """
    if len(text) > max_size:
        raise _too_large(where, len(text), max_size)
    if text.count("[") + text.count("{") <= max_depth:
        return
    if _deeper_than(text, max_depth):
        raise _too_deep(where, max_depth)


def _deeper_than(text: str, limit: int) -> bool:
    """True when the brackets of JSON text, those inside strings left out, nest deeper
    than ``limit``.

    The brackets become +1/-1 steps, taken in chunks of half the limit: a chunk is summed
    step by step (in C) only when its opening brackets could take it past the limit, so
    shallow text is settled by counts, and the scan stops at the first level past it.
    """
    outside = _STRING.sub("", text).encode("utf-8", "surrogatepass")
    steps = outside.translate(_STEPS, _NOT_BRACKETS)  # the brackets alone, as steps
    size = max(16, limit // 2)
    depth = 0
    for start in range(0, len(steps), size):
        chunk = steps[start : start + size]
        opens = chunk.count(1)
        if depth + opens > limit and max(accumulate(array("b", chunk), initial=depth)) > limit:
            return True
        depth += 2 * opens - len(chunk)
    return False


def _shallow_decode(text: str, keep: int, elided: list[str] | None = None) -> Any:
    """Decode JSON text with every container nested deeper than ``keep`` read as ``null``.

    How the top-level fields (``event_type``, ``properties.tool_call_id``, ...) of a
    message too deep to decode are still read. With ``elided``, each cut container's text
    is appended to it and read as the string :func:`elided_mark` of its index instead.
    Returns ``None`` when the text holds more than ``_SHALLOW_TOKENS`` strings and
    brackets (the scan is a Python loop over them) or is not JSON once cut.
    """
    parts: list[str] = []
    depth = 0
    last = 0
    cut = -1
    for count, match in enumerate(_TOKEN.finditer(text)):
        if count >= _SHALLOW_TOKENS:
            return None
        start = match.start()
        char = text[start]
        if char == '"':
            continue
        if char in "[{":
            depth += 1
            if depth == keep + 1:
                cut = start
        else:
            if depth == keep + 1 and cut >= 0:
                parts.append(text[last:cut])
                if elided is None:
                    parts.append("null")
                else:
                    parts.append(json.dumps(elided_mark(len(elided))))
                    elided.append(text[cut : match.end()])
                last, cut = match.end(), -1
            depth -= 1
    if cut >= 0:
        return None  # unbalanced: not JSON anyway
    parts.append(text[last:])
    try:
        return json.loads("".join(parts))
    except (ValueError, RecursionError):
        return None


def elided_mark(index: int) -> str:
    """The string :func:`_shallow_decode` puts where it cut the ``index``-th container."""
    return f"\x00elided {index}"
