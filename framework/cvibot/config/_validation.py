"""Turn a pydantic :class:`~pydantic.ValidationError` into one located ConfigError.

pydantic reports ``loc`` paths through the models (with the tags of discriminated unions
inserted) and its own wording; this module maps each error back to the YAML key path,
words it for someone editing the file, and keeps the problem written first in the file,
with the count of the others. A value that came from ``${VAR}`` is quoted as written
(``got '${VAR}'``), never as what it expanded to.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from cvibot._errors import ConfigError
from cvibot.config._common import LocatedValueError
from cvibot.config._common import describe as _got
from cvibot.config._interpolate import redact
from cvibot.config._keypaths import KeyPath, _line_of, key_text
from cvibot.config._model import BotConfig


@dataclass
class _Site:
    """Where a pydantic ``loc`` points: the YAML key path and what the model expects."""

    keys: KeyPath
    annotation: Any = None  # expected type at ``keys``, None if not a known field
    parent: Any = None  # model holding the last key
    discriminator: str | None = None  # set when ``keys`` ends at a discriminated union
    tags: Mapping[Any, type[BaseModel]] | None = None


def _strip_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (typing.Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def _union_tags(annotation: Any, discriminator: str) -> dict[Any, type[BaseModel]]:
    members = get_args(annotation) if get_origin(annotation) else (annotation,)
    tags: dict[Any, type[BaseModel]] = {}
    for member in members:
        if member is type(None):  # an optional section (transport)
            continue
        for tag in get_args(member.model_fields[discriminator].annotation):
            tags[tag] = member
    return tags


def _site(loc: tuple[str | int, ...]) -> _Site:
    """Follow ``loc`` through the models, dropping union tags pydantic inserts."""
    site = _Site(keys=(), annotation=BotConfig)
    for part in loc:
        if site.tags is not None and part in site.tags:
            site = _Site(keys=site.keys, annotation=site.tags[part], parent=site.parent)
            continue
        current = _strip_optional(site.annotation)
        site = _Site(keys=(*site.keys, part), parent=current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part) if isinstance(part, str) else None
            if field is not None:
                site.annotation = field.annotation
                if isinstance(field.discriminator, str):
                    site.discriminator = field.discriminator
                    site.tags = _union_tags(field.annotation, field.discriminator)
        elif get_origin(current) is list:
            site.annotation = get_args(current)[0]
        elif get_origin(current) is dict:
            site.annotation = get_args(current)[1]
    return site


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _allowed_values(annotation: Any) -> list[str] | None:
    annotation = _strip_optional(annotation)
    if get_origin(annotation) is Literal:
        return [str(arg) for arg in get_args(annotation)]
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return [str(member.value) for member in annotation]
    return None


_TYPE_MESSAGES = {
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "dict_type": "must be a mapping",
    "finite_number": "must be a finite number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "int_from_float": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "list_type": "must be a list",
    "model_attributes_type": "must be a mapping",
    "model_type": "must be a mapping",
    "path_type": "must be a path",
    "string_too_short": "must not be empty",
}

_BOUNDS = {
    "greater_than": ("gt", "must be greater than"),
    "greater_than_equal": ("ge", "must be at least"),
    "less_than": ("lt", "must be less than"),
    "less_than_equal": ("le", "must be at most"),
}


def _describe_error(
    error: ErrorDetails, sources: Mapping[KeyPath, str] = types.MappingProxyType({})
) -> tuple[KeyPath, str, KeyPath | None]:
    """The YAML key path and a short message for one pydantic error, and the key path
    whose line to give if not that of the key (a bad mapping key: its own line).

    ``sources`` maps the key path of each interpolated string to its text as written,
    which the message quotes instead of the value."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    got = error.get("input")
    loc = error["loc"]
    is_key = bool(loc) and loc[-1] == "[key]"
    site = _site(loc[:-1] if is_key else loc)
    keys = site.keys
    if not is_key and keys in sources and not isinstance(got, Mapping | list):
        got = sources[keys]
    if is_key:
        # A mapping key of the wrong type (tool names and settings keys are strings).
        return keys[:-1], f"keys must be strings (got {_got(got)})", keys
    if kind == "missing":
        return keys, "required", None
    if kind == "extra_forbidden":
        parent = site.parent
        if isinstance(parent, type) and issubclass(parent, BaseModel):
            return keys, f"unknown key (allowed: {', '.join(sorted(parent.model_fields))})", None
        return keys, "unknown key", None
    if kind in ("union_tag_invalid", "union_tag_not_found") and site.discriminator:
        allowed = ", ".join(str(tag) for tag in site.tags or {})
        keys = (*keys, site.discriminator)
        if kind == "union_tag_not_found":
            return keys, f"required (allowed: {allowed})", None
        tag = got.get(site.discriminator) if isinstance(got, Mapping) else ctx.get("tag")
        tag = sources.get(keys, tag)
        return keys, f"unknown {site.keys[-1]} {_got(tag)} (allowed: {allowed})", None
    if kind in ("value_error", "assertion_error"):
        cause = ctx.get("error")
        if isinstance(cause, LocatedValueError):
            return (*keys, *cause.loc), cause.message, None
        if cause is not None:
            return keys, str(cause), None
    if kind in ("literal_error", "enum"):
        allowed_values = _allowed_values(site.annotation)
        if allowed_values is not None:
            return keys, f"must be one of: {', '.join(allowed_values)} (got {_got(got)})", None
    if kind in _BOUNDS:
        name, text = _BOUNDS[kind]
        return keys, f"{text} {_number(ctx.get(name))} (got {_got(got)})", None
    if kind == "string_type":
        hint = "; quote it" if isinstance(got, int | float) else ""
        return keys, f"must be a string (got {_got(got)}{hint})", None
    if kind in _TYPE_MESSAGES:
        return keys, f"{_TYPE_MESSAGES[kind]} (got {_got(got)})", None
    message = error["msg"]
    return keys, f"{message[:1].lower()}{message[1:]} (got {_got(got)})", None


def _validation_error(
    exc: ValidationError,
    file: Path,
    lines: Mapping[KeyPath, int],
    sources: Mapping[KeyPath, str] = types.MappingProxyType({}),
    references: Mapping[str, str] = types.MappingProxyType({}),
) -> ConfigError:
    """One located ConfigError for ``exc``; ``sources`` and ``references`` (see
    :class:`~cvibot.config._yaml_nodes._Builder`) keep expanded values out of it."""
    problems: list[tuple[int | None, KeyPath, str]] = []
    for error in exc.errors():
        keys, message, line_keys = _describe_error(error, sources)
        problems.append((_line_of(lines, line_keys or keys), keys, message))
    # The problem written first in the file, so fixing from the top down works (stable
    # for ties: pydantic's order).
    line, keys, message = min(problems, key=lambda problem: (problem[0] is None, problem[0] or 0))
    others = len(problems) - 1
    if others:
        message += f" (and {others} more problem{'s' if others > 1 else ''})"
    return ConfigError(redact(message, references), file=file, line=line, key=key_text(keys))
