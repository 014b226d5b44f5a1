"""``{name}`` templates: parsed once from the settings, rendered on every call.

The syntax is Python's ``str.format`` without the extras: ``{name}`` is replaced by a
value, ``{{`` and ``}}`` are literal braces. Format specs (``{x:>5}``), conversions
(``{x!r}``), positional fields (``{}``) and indexing (``{a[0]}``) are errors. Field names
are identifiers, or dotted paths (``{data.status}``, ``{items.0.sku}``) where the caller
allows them (response templates).
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Template", "text_of"]

_FORMATTER = string.Formatter()


def text_of(value: Any) -> str:
    """A value as template text: strings as they are, ``None`` as ``""``, booleans as
    ``true``/``false``, numbers as written, lists and objects as compact JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template: literal text and field names, alternating.

    ``parts`` holds ``str`` literals and :class:`Field` placeholders in order;
    ``fields`` the field names in order of appearance (repeats kept once).
    """

    source: str
    parts: tuple[str | Field, ...]

    @classmethod
    def parse(cls, source: str, *, paths: bool = False) -> Template:
        """Parse ``source``; ``paths`` allows dotted field names.

        Raises :class:`ValueError` with a message naming the problem (unbalanced
        braces, a format spec, a bad field name).
        """
        try:
            pieces = list(_FORMATTER.parse(source))
        except ValueError as exc:
            raise ValueError(f"{exc} (write {{{{ and }}}} for literal braces)") from None
        parts: list[str | Field] = []
        for literal, name, spec, conversion in pieces:
            if literal:
                parts.append(literal)
            if name is None:
                continue
            if conversion is not None or spec:
                extra = f"!{conversion}" if conversion is not None else f":{spec}"
                raise ValueError(
                    f"placeholder {{{name}{extra}}}: format specs and conversions are not "
                    "supported; write {name}"
                )
            problem = _name_problem(name, paths)
            if problem is not None:
                raise ValueError(f"placeholder {{{name}}} {problem}")
            parts.append(Field(name))
        return cls(source, tuple(parts))

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(part.name for part in self.parts if isinstance(part, Field)))

    @property
    def lone(self) -> str | None:
        """The field name if the whole template is one placeholder (``"{x}"``), else None."""
        if len(self.parts) == 1 and isinstance(self.parts[0], Field):
            return self.parts[0].name
        return None

    def render(self, value_of: Callable[[str], Any], quote: Callable[[str], str] = str) -> str:
        """The text with each placeholder replaced by ``quote(text_of(value_of(name)))``.

        ``value_of`` raises what it likes (``KeyError``) for a name it does not know.
        """
        return "".join(
            part if isinstance(part, str) else quote(text_of(value_of(part.name)))
            for part in self.parts
        )


@dataclass(frozen=True, slots=True)
class Field:
    """One ``{name}`` placeholder."""

    name: str


def _name_problem(name: str, paths: bool) -> str | None:
    if not name:
        return "needs a name: positional fields ({}) are not supported"
    if "[" in name or "]" in name:
        return (
            "uses indexing; write a dotted path such as {items.0.sku}"
            if paths
            else ("uses indexing, which is not supported")
        )
    segments = name.split(".")
    if len(segments) > 1 and not paths:
        return "is a dotted path; only a parameter name or a call id can be used here"
    if paths:
        if any(not segment.strip() for segment in segments):
            return "has an empty path segment"
        return None
    if not name.isidentifier():
        return "is not a valid name"
    return None
