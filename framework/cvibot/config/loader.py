"""Read a bot config file: YAML with line tracking, ``${VAR}`` interpolation, clear errors.

:func:`load_config` (a file) and :func:`parse_config` (text) return a
:class:`LoadedConfig`: the validated :class:`~cvibot.config.model.BotConfig`, the file's
absolute path and the line of every key, so later stages (plugin loading, tool
registration) can report problems at the right place with :meth:`LoadedConfig.error`.

YAML is read like ``yaml.safe_load`` (same scalar types, anchors, aliases and ``<<``
merge keys) with three differences: a key repeated in one mapping is an error, tags on
mappings and sequences (``!!set``, ``!!omap``, ...) are refused, and string values are
interpolated.

Interpolation applies to every string value, at any depth (plugin settings included),
but not to keys:

- ``${NAME}``: the environment variable ``NAME``; an error if it is unset (set but
  empty gives ``""``).
- ``${NAME:-default}``: ``default`` if ``NAME`` is unset or empty (shell rule); the
  default is taken literally and may be empty (``${NAME:-}``).
- ``$${`` gives a literal ``${``; any other ``$`` is kept as is (``$NAME`` is not
  interpolated).
- ``NAME`` matches ``[A-Za-z_][A-Za-z0-9_]*``; anything else between ``${`` and ``}``,
  or a ``${`` without ``}``, is an error.

A substituted value is a string, never re-read as YAML: ``timeout: ${T:-5}`` works
because the model converts ``"5"`` to a float, but a plugin setting ``port: ${PORT}``
reaches the plugin as the string ``"8080"``.

Every failure is a :class:`~cvibot.errors.ConfigError` naming the file, line and key as
far as they are known; only the first validation problem is described, with the count
of the others.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from cvibot.config.model import BotConfig, LocatedValueError
from cvibot.config.model import _describe as _got
from cvibot.errors import ConfigError

__all__ = ["KeyPath", "LoadedConfig", "load_config", "parse_config"]

KeyPath = tuple[str | int, ...]
"""Keys from the top of the file down: mapping keys and list indexes."""

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"

# A key that reads unambiguously after a dot; others are written ["..."].
_PLAIN_KEY = re.compile(r"[^\s.\[\]\"']+")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config and where each of its keys was written.

    - ``config``: the model; ``transport.path`` and ``transport.out`` are absolute.
    - ``path``: absolute path of the file (``<string>`` in the current directory for
      :func:`parse_config` without ``path``).
    - ``lines``: key path → 1-based line of that key; for a list item, of the item.
      ``()`` is the line where the top-level mapping starts.
    """

    config: BotConfig
    path: Path
    lines: Mapping[KeyPath, int]

    @property
    def base_dir(self) -> Path:
        """Folder of the config file: module plugins and relative paths resolve from here."""
        return self.path.parent

    def line_of(self, *keys: str | int) -> int | None:
        """Line of ``keys``, else of its nearest ancestor that was written; ``None`` if none."""
        return _line_of(self.lines, keys)

    def error(self, message: str, *keys: str | int) -> ConfigError:
        """A :class:`ConfigError` located at ``keys``, for problems found after loading.

        The key reads like ``plugins[0].settings.db`` or ``tools.lookup_order.reply``;
        the line is that of :meth:`line_of`. The caller raises it.
        """
        return _error(self.path, self.lines, message, keys)


def load_config(path: str | Path, *, environ: Mapping[str, str] | None = None) -> LoadedConfig:
    """Read, interpolate and validate the config file at ``path`` (UTF-8 YAML).

    ``environ`` is the variables ``${VAR}`` reads (default ``os.environ``). Raises
    :class:`ConfigError` and nothing else for a missing, unreadable or invalid file.
    """
    file = _expand(Path(path)).absolute()
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise ConfigError("file not found", file=file) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a config file", file=file) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {exc.strerror or exc}", file=file) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        decoded = bytes(exc.object)  # the data after a BOM, which exc.start counts in
        line = decoded[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"not UTF-8 text (byte 0x{decoded[exc.start]:02x})", file=file, line=line
        ) from None
    return _load(text, file, os.environ if environ is None else environ)


def parse_config(
    text: str, *, path: str | Path = "<string>", environ: Mapping[str, str] | None = None
) -> LoadedConfig:
    """Like :func:`load_config` for YAML ``text``; ``path`` names the file in errors and
    its folder is the base of relative paths (made absolute from the current directory)."""
    file = _expand(Path(path)).absolute()
    return _load(text, file, os.environ if environ is None else environ)


def _load(text: str, file: Path, environ: Mapping[str, str]) -> LoadedConfig:
    root = _compose(text, file)
    if root is None or (isinstance(root, ScalarNode) and root.tag == "tag:yaml.org,2002:null"):
        raise ConfigError(
            "the file is empty: expected a mapping of settings (at least 'transport:')",
            file=file,
        )
    if not isinstance(root, MappingNode):
        kind = "a list" if isinstance(root, SequenceNode) else "a single value"
        raise ConfigError(
            f"the top level must be a mapping of settings (got {kind})",
            file=file,
            line=root.start_mark.line + 1,
        )
    lines: dict[KeyPath, int] = {}
    data = _Builder(file, environ, lines).build(root)
    frozen_lines = types.MappingProxyType(lines)
    try:
        config = BotConfig.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(exc, file, frozen_lines) from None
    loaded = LoadedConfig(config=config, path=file, lines=frozen_lines)
    return _resolve_paths(loaded)


# --- YAML ---------------------------------------------------------------------------


def _compose(text: str, file: Path) -> Node | None:
    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(text)  # checks for unprintable characters already
        node: Node | None = loader.get_single_node()
        return node
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, file, None) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        character = exc.character if isinstance(exc.character, str) else chr(exc.character)
        raise ConfigError(
            f"invalid YAML: control character U+{ord(character):04X} is not allowed",
            file=file,
            line=line,
        ) from None
    except RecursionError:
        raise ConfigError("invalid YAML: nested too deeply", file=file) from None
    finally:
        if loader is not None:
            loader.dispose()


def _yaml_error(exc: yaml.MarkedYAMLError, file: Path, keys: KeyPath | None) -> ConfigError:
    # PyYAML's own wording, context first ("while parsing a flow sequence, expected ...");
    # the line is the problem's, as the mark there is where reading failed.
    mark = exc.problem_mark or exc.context_mark
    message = exc.problem or ""
    if exc.context:
        where = ""
        if exc.context_mark and mark and exc.context_mark.line != mark.line:
            where = f" at line {exc.context_mark.line + 1}"
        message = f"{exc.context}{where}, {message}" if message else exc.context
    return ConfigError(
        f"invalid YAML: {message or 'cannot read'}",
        file=file,
        line=mark.line + 1 if mark else None,
        key=_key_text(keys) if keys else None,
    )


class _Builder:
    """Builds Python data from composed nodes, recording key lines and interpolating."""

    def __init__(self, file: Path, environ: Mapping[str, str], lines: dict[KeyPath, int]) -> None:
        self._file = file
        self._environ = environ
        self._lines = lines
        # Resolves scalar tags exactly as safe_load does; no stream of its own is read.
        self._constructor = yaml.SafeLoader("")
        # An alias is the very node of its anchor: build it once (sharing, as safe_load
        # does) and refuse a node that contains itself.
        self._built: dict[Node, Any] = {}
        self._building: set[Node] = set()

    def build(self, root: Node) -> Any:
        self._lines[()] = root.start_mark.line + 1
        try:
            return self._node(root, ())
        except yaml.MarkedYAMLError as exc:
            raise _yaml_error(exc, self._file, None) from None
        except RecursionError:
            raise ConfigError("invalid YAML: nested too deeply", file=self._file) from None
        finally:
            self._constructor.dispose()

    def _error(self, message: str, keys: KeyPath, node: Node) -> ConfigError:
        return ConfigError(
            message, file=self._file, line=node.start_mark.line + 1, key=_key_text(keys)
        )

    def _node(self, node: Node, keys: KeyPath) -> Any:
        if node in self._built:
            return self._built[node]
        if node in self._building:
            raise self._error(
                "invalid YAML: an alias refers to a node that contains it", keys, node
            )
        self._building.add(node)
        try:
            if isinstance(node, MappingNode):
                value: Any = self._mapping(node, keys)
            elif isinstance(node, SequenceNode):
                value = self._sequence(node, keys)
            else:
                value = self._scalar(node, keys)
        finally:
            self._building.discard(node)
        self._built[node] = value
        return value

    def _check_tag(self, node: Node, expected: str, keys: KeyPath) -> None:
        if node.tag != expected:
            raise self._error(f"invalid YAML: tag {node.tag!r} is not supported here", keys, node)

    def _construct(self, node: Node, keys: KeyPath) -> Any:
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:
            raise _yaml_error(exc, self._file, keys) from None
        except (ValueError, KeyError):
            # An explicit tag on a value that does not fit it: `!!int abc`, `!!bool maybe`.
            tag = node.tag.removeprefix("tag:yaml.org,2002:")
            message = f"invalid YAML: {node.value!r} is not a valid !!{tag}"
            raise self._error(message, keys, node) from None

    def _key(self, node: Node, keys: KeyPath) -> Any:
        if not isinstance(node, ScalarNode):
            raise self._error("invalid YAML: a key must be a plain value", keys, node)
        return self._construct(node, keys)

    def _mapping(self, node: MappingNode, keys: KeyPath) -> dict[Any, Any]:
        self._check_tag(node, _MAP_TAG, keys)
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self._key(key_node, keys)
            line = key_node.start_mark.line + 1
            if key in first_line:
                raise ConfigError(
                    f"duplicate key (first written at line {first_line[key]})",
                    file=self._file,
                    line=line,
                    key=_key_text((*keys, _path_key(key))),
                )
            first_line[key] = line
        # `<<` merges: the merged entries come first, so the mapping's own keys win.
        self._constructor.flatten_mapping(node)
        entries: dict[Any, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            entries[self._key(key_node, keys)] = (key_node, value_node)
        result: dict[Any, Any] = {}
        for key, (key_node, value_node) in entries.items():
            child = (*keys, _path_key(key))
            self._lines[child] = key_node.start_mark.line + 1
            result[key] = self._node(value_node, child)
        return result

    def _sequence(self, node: SequenceNode, keys: KeyPath) -> list[Any]:
        self._check_tag(node, _SEQ_TAG, keys)
        result: list[Any] = []
        for index, item in enumerate(node.value):
            child = (*keys, index)
            self._lines[child] = item.start_mark.line + 1
            result.append(self._node(item, child))
        return result

    def _scalar(self, node: Node, keys: KeyPath) -> Any:
        value = self._construct(node, keys)
        if not isinstance(value, str):
            return value
        try:
            return _interpolate(value, self._environ)
        except ValueError as exc:
            raise self._error(str(exc), keys, node) from None


def _path_key(key: Any) -> str | int:
    if isinstance(key, str) or (isinstance(key, int) and not isinstance(key, bool)):
        return key
    return str(key)


# --- interpolation -------------------------------------------------------------------


def _interpolate(text: str, environ: Mapping[str, str]) -> str:
    """Replace ``${NAME}`` / ``${NAME:-default}`` in ``text``; ``$${`` is a literal ``${``.

    Raises :class:`ValueError` with a message for the user on an unset variable without
    default or a malformed reference.
    """
    if "$" not in text:
        return text
    out: list[str] = []
    pos = 0
    while (start := text.find("$", pos)) >= 0:
        out.append(text[pos:start])
        if text.startswith("$${", start):
            out.append("${")
            pos = start + 3
            continue
        if not text.startswith("${", start):
            out.append("$")
            pos = start + 1
            continue
        end = text.find("}", start + 2)
        if end < 0:
            raise ValueError("unterminated '${' (write '$${' for a literal '${')")
        body = text[start + 2 : end]
        name, has_default, default = body.partition(":-")
        if not _VAR_NAME.fullmatch(name):
            raise ValueError(
                f"bad variable reference '${{{body}}}': expected ${{NAME}} or ${{NAME:-default}}"
            )
        if "${" in default:
            raise ValueError(f"'${{' inside the default of ${{{name}}} is not supported")
        value = environ.get(name)
        if has_default:
            value = value or default
        elif value is None:
            raise ValueError(
                f"environment variable {name} is not set "
                f"(write ${{{name}:-default}} to give a default)"
            )
        out.append(value)
        pos = end + 1
    out.append(text[pos:])
    return "".join(out)


# --- locating keys -------------------------------------------------------------------


def _line_of(lines: Mapping[KeyPath, int], keys: KeyPath) -> int | None:
    for length in range(len(keys), -1, -1):
        line = lines.get(keys[:length])
        if line is not None:
            return line
    return None


def _key_text(keys: KeyPath) -> str | None:
    parts: list[str] = []
    for key in keys:
        if isinstance(key, int) and not isinstance(key, bool):
            parts.append(f"[{key}]")
        elif _PLAIN_KEY.fullmatch(text := str(key)):
            parts.append(f".{text}" if parts else text)
        else:
            parts.append(f"[{json.dumps(text)}]")
    return "".join(parts) or None


def _error(file: Path, lines: Mapping[KeyPath, int], message: str, keys: KeyPath) -> ConfigError:
    return ConfigError(message, file=file, line=_line_of(lines, keys), key=_key_text(keys))


# --- validation errors ----------------------------------------------------------------


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


def _describe_error(error: ErrorDetails) -> tuple[KeyPath, str, KeyPath | None]:
    """The YAML key path and a short message for one pydantic error, and the key path
    whose line to give if not that of the key (a bad mapping key: its own line)."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    got = error.get("input")
    loc = error["loc"]
    is_key = bool(loc) and loc[-1] == "[key]"
    site = _site(loc[:-1] if is_key else loc)
    keys = site.keys
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
    exc: ValidationError, file: Path, lines: Mapping[KeyPath, int]
) -> ConfigError:
    problems: list[tuple[int | None, KeyPath, str]] = []
    for error in exc.errors():
        keys, message, line_keys = _describe_error(error)
        problems.append((_line_of(lines, line_keys or keys), keys, message))
    # The problem written first in the file, so fixing from the top down works (stable
    # for ties: pydantic's order).
    line, keys, message = min(problems, key=lambda problem: (problem[0] is None, problem[0] or 0))
    others = len(problems) - 1
    if others:
        message += f" (and {others} more problem{'s' if others > 1 else ''})"
    return ConfigError(message, file=file, line=line, key=_key_text(keys))


def _resolve_paths(loaded: LoadedConfig) -> LoadedConfig:
    """Make ``transport.path`` and ``transport.out`` absolute, from the config's folder."""
    transport = loaded.config.transport
    update: dict[str, Path] = {}
    for key in ("path", "out"):
        path: Path | None = getattr(transport, key)
        if path is None:
            continue
        expanded = _expand(path)
        if expanded.parts and expanded.parts[0].startswith("~"):
            message = f"cannot expand {expanded.parts[0]!r}: no such user or home folder"
            raise loaded.error(message, "transport", key)
        update[key] = expanded if expanded.is_absolute() else loaded.base_dir / expanded
    config = loaded.config.model_copy(update={"transport": transport.model_copy(update=update)})
    return dataclasses.replace(loaded, config=config)


def _expand(path: Path) -> Path:
    """``~`` and ``~user`` expanded; unchanged if the home folder is unknown."""
    try:
        return path.expanduser()
    except RuntimeError:
        return path
