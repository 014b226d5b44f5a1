"""Compose YAML text into plain data, recording the line of every key.

YAML is read like ``yaml.safe_load`` (same scalar types, anchors, aliases and ``<<``
merge keys), within the limits of :mod:`~cvibot.config._safe_yaml` (size, depth, alias
expansion), with three differences: a key repeated in one mapping is an error, tags on
mappings and sequences (``!!set``, ``!!omap``, ...) are refused, and string values are
interpolated (:mod:`~cvibot.config._interpolate`). :func:`_compose` parses the text into
nodes; :class:`_Builder` turns the nodes into data and fills the key path → line map.
Every failure is a :class:`~cvibot._errors.ConfigError` with the file and line.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from cvibot._errors import ConfigError
from cvibot.config._interpolate import _interpolate
from cvibot.config._keypaths import KeyPath, key_text
from cvibot.config._safe_yaml import compose_yaml, yaml_error

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"


def _compose(text: str, file: Path) -> Node | None:
    return compose_yaml(text, file=file)


def _yaml_error(exc: yaml.MarkedYAMLError, file: Path, keys: KeyPath | None) -> ConfigError:
    return yaml_error(exc, file, key_text(keys) if keys else None)


class _Builder:
    """Builds Python data from composed nodes, recording key lines and interpolating.

    After :meth:`build`, ``sources`` maps the key path of each interpolated string to
    its text as written (``"${API_KEY}"``) and ``references`` each value taken from the
    environment to its ``${NAME}``: error messages show those, never the values.
    """

    def __init__(self, file: Path, environ: Mapping[str, str], lines: dict[KeyPath, int]) -> None:
        self._file = file
        self._environ = environ
        self._lines = lines
        self.sources: dict[KeyPath, str] = {}
        self.references: dict[str, str] = {}
        self._written: dict[Node, str] = {}  # interpolated scalar node → its text
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
            message, file=self._file, line=node.start_mark.line + 1, key=key_text(keys)
        )

    def _node(self, node: Node, keys: KeyPath) -> Any:
        if node in self._built:
            if node in self._written:  # an alias of an interpolated string
                self.sources[keys] = self._written[node]
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
                    key=key_text((*keys, _path_key(key))),
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
        if not isinstance(value, str) or "$" not in value:
            return value
        try:
            result = _interpolate(value, self._environ, self.references)
        except ValueError as exc:
            raise self._error(str(exc), keys, node) from None
        if result != value:
            self.sources[keys] = self._written[node] = value
        return result


def _path_key(key: Any) -> str | int:
    if isinstance(key, str) or (isinstance(key, int) and not isinstance(key, bool)):
        return key
    return str(key)
