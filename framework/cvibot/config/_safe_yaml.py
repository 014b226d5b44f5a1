"""YAML read safely: bounded size, nesting and alias expansion, every failure located.

``yaml.safe_load`` constructs no arbitrary objects, but it is not safe against hostile
text: aliases multiply (a "billion laughs" file of a few hundred bytes describes
billions of nodes, and whatever walks the result (validation, a copy, a JSON dump)
takes minutes and gigabytes), and nesting ten thousand brackets deep overflows the
stack. Every YAML file cvibot reads goes through this module, and plugins should use it
too (:func:`load_yaml` for data, :func:`compose_yaml` when they need lines):

- the file is read with :func:`~cvibot.config._files.read_text_file` (a regular file of
  at most :attr:`YamlLimits.max_bytes`);
- nesting deeper than :attr:`YamlLimits.max_depth` levels is an error at the line of
  the node that goes too deep (aliases count with the depth of what they stand for);
- aliases may add at most :attr:`YamlLimits.max_alias_nodes` nodes and
  :attr:`YamlLimits.max_alias_chars` characters of scalar text to what the file writes
  out; the alias that crosses a limit is the error's line. Reusing an anchor a few
  times, the ordinary use, is far below the limits;
- an alias inside the node it refers to (a recursive structure) is an error.

The checks run while the text is composed into nodes, so a bomb is refused after
reading its few lines: in milliseconds, with no more memory than the text itself.
Errors are :class:`~cvibot._errors.ConfigError` with the file and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode

from cvibot._errors import ConfigError
from cvibot.config._files import MAX_FILE_BYTES, read_text_file

__all__ = [
    "DEFAULT_LIMITS",
    "YamlLimits",
    "compose_yaml",
    "construct_yaml",
    "load_yaml",
    "parse_yaml",
    "yaml_error",
]


@dataclass(frozen=True)
class YamlLimits:
    """What a YAML text may cost; the defaults fit any config or knowledge-base file.

    - ``max_bytes``: size of the file (:func:`load_yaml` only), in bytes;
    - ``max_depth``: nesting of mappings and sequences, in levels (the top is level 1);
    - ``max_alias_nodes``: nodes that aliases add, summed over every alias (an alias to
      a list of 3 strings adds 4);
    - ``max_alias_chars``: characters of scalar text that aliases add, likewise.
    """

    max_bytes: int = MAX_FILE_BYTES
    max_depth: int = 100
    max_alias_nodes: int = 100_000
    max_alias_chars: int = 10_000_000


DEFAULT_LIMITS = YamlLimits()


@dataclass(frozen=True)
class _Size:
    """A composed node as its aliases expand: nodes, scalar characters and height."""

    nodes: int
    chars: int
    height: int


class _BoundedLoader(yaml.SafeLoader):
    """``SafeLoader`` whose composer keeps the expanded size and depth within limits."""

    def __init__(self, text: str, file: Path, limits: YamlLimits) -> None:
        super().__init__(text)
        self._file = file
        self._limits = limits
        self._depth = 0
        self._sizes: dict[Node, _Size] = {}
        self._alias_nodes = 0
        self._alias_chars = 0

    def _fail(self, message: str, mark: Any) -> ConfigError:
        line = mark.line + 1 if mark is not None else None
        return ConfigError(f"invalid YAML: {message}", file=self._file, line=line)

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, AliasEvent):
            self._count_alias(event)
            return super().compose_node(parent, index)
        mark = event.start_mark
        self._depth += 1
        if self._depth > self._limits.max_depth:
            raise self._fail(f"nested deeper than {self._limits.max_depth} levels", mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is not None:
            self._sizes[node] = self._size_of(node)
        return node

    def _size_of(self, node: Node) -> _Size:
        if isinstance(node, ScalarNode):
            return _Size(1, len(node.value), 1)
        children: list[Node] = (
            [child for pair in node.value for child in pair]
            if isinstance(node, MappingNode)
            else list(node.value)
        )
        sizes = [self._sizes[child] for child in children]
        return _Size(
            1 + sum(size.nodes for size in sizes),
            sum(size.chars for size in sizes),
            1 + max((size.height for size in sizes), default=0),
        )

    def _count_alias(self, event: AliasEvent) -> None:
        target = self.anchors.get(event.anchor)
        if target is None:
            return  # PyYAML reports the undefined alias
        mark = event.start_mark
        size = self._sizes.get(target)
        if size is None:
            raise self._fail(
                f"alias *{event.anchor} refers to a node that contains it "
                f"(anchor at line {target.start_mark.line + 1})",
                mark,
            )
        limits = self._limits
        if self._depth + size.height > limits.max_depth:
            raise self._fail(
                f"alias *{event.anchor} nests deeper than {limits.max_depth} levels", mark
            )
        self._alias_nodes += size.nodes
        self._alias_chars += size.chars
        if self._alias_nodes > limits.max_alias_nodes:
            what = f"{limits.max_alias_nodes:,} nodes"
        elif self._alias_chars > limits.max_alias_chars:
            what = f"{limits.max_alias_chars:,} characters"
        else:
            return
        raise self._fail(
            f"aliases expand to more than {what} (the limit), here at *{event.anchor} "
            f"(anchor at line {target.start_mark.line + 1})",
            mark,
        )


def compose_yaml(
    text: str, *, file: str | Path = "<string>", limits: YamlLimits = DEFAULT_LIMITS
) -> Node | None:
    """The node tree of the single YAML document in ``text``; ``None`` if it has none.

    ``file`` names the text in errors. The nodes keep their ``start_mark`` (0-based
    line and column); build data from them with :func:`construct_yaml`. Raises
    :class:`ConfigError` with the line for invalid YAML, more than one document, and
    text over the depth and alias ``limits`` (``max_bytes`` is not checked here).
    """
    path = Path(file)
    loader: _BoundedLoader | None = None
    try:
        loader = _BoundedLoader(text, path, limits)  # checks for unprintable characters
        node: Node | None = loader.get_single_node()
        return node
    except yaml.MarkedYAMLError as exc:
        raise yaml_error(exc, path) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        character = exc.character if isinstance(exc.character, str) else chr(exc.character)
        raise ConfigError(
            f"invalid YAML: control character U+{ord(character):04X} is not allowed",
            file=path,
            line=line,
        ) from None
    except RecursionError:  # only when called with little stack left: depth is bounded
        raise ConfigError("invalid YAML: nested too deeply", file=path) from None
    finally:
        if loader is not None:
            loader.dispose()


def construct_yaml(node: Node, *, file: str | Path = "<string>") -> Any:
    """Plain data from a node of :func:`compose_yaml`, as ``yaml.safe_load`` builds it.

    Raises :class:`ConfigError` with the line for a value that does not fit its tag
    (``!!int abc``) or a tag ``safe_load`` does not know.
    """
    constructor = yaml.SafeLoader("")
    try:
        return constructor.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise yaml_error(exc, Path(file)) from None
    except (ValueError, KeyError) as exc:  # a value that does not fit its tag: `!!int abc`
        raise ConfigError(
            f"invalid YAML: a value does not fit its tag ({exc})", file=file
        ) from None
    finally:
        constructor.dispose()


def parse_yaml(
    text: str, *, file: str | Path = "<string>", limits: YamlLimits = DEFAULT_LIMITS
) -> Any:
    """The data of the YAML ``text`` like ``yaml.safe_load`` (``None`` for no document),
    within ``limits``; ``file`` names it in errors. Raises :class:`ConfigError`."""
    node = compose_yaml(text, file=file, limits=limits)
    return None if node is None else construct_yaml(node, file=file)


def load_yaml(path: str | Path, *, limits: YamlLimits = DEFAULT_LIMITS) -> Any:
    """The data of the YAML file at ``path``, like :func:`parse_yaml` of its text.

    The file must be a regular UTF-8 file of at most ``limits.max_bytes`` bytes (see
    :func:`~cvibot.config._files.read_text_file`). Raises :class:`ConfigError` naming the
    file, and the line where there is one.
    """
    text = read_text_file(path, max_bytes=limits.max_bytes)
    return parse_yaml(text, file=path, limits=limits)


def yaml_error(exc: yaml.MarkedYAMLError, file: str | Path, key: str | None = None) -> ConfigError:
    """PyYAML's error as a located :class:`ConfigError`: ``invalid YAML: <its words>``.

    PyYAML's own wording, context first ("while parsing a flow sequence, expected ...");
    the line is the problem's, as the mark there is where reading failed.
    """
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
        key=key,
    )
