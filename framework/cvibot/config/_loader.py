"""Read a bot config file: YAML with line tracking, ``${VAR}`` interpolation, clear errors.

:func:`load_config` (a file) and :func:`parse_config` (text) return a
:class:`LoadedConfig`: the validated :class:`~cvibot.config._model.BotConfig`, the file's
absolute path and the line of every key, so later stages (plugin loading, tool
registration) can report problems at the right place with :meth:`LoadedConfig.error`.

This module ties the stages together; each has its own module:

- :mod:`~cvibot.config._yaml_nodes`: YAML read like ``yaml.safe_load``, except that a
  repeated key is an error, tags on mappings and sequences are refused, and the line of
  every key is recorded;
- :mod:`~cvibot.config._interpolate`: ``${NAME}`` and ``${NAME:-default}`` in every string
  value (not in keys), ``$${`` for a literal ``${``;
- :mod:`~cvibot.config._validation`: pydantic's errors mapped back to file, line and key.

Every failure is a :class:`~cvibot._errors.ConfigError` naming the file, line and key as
far as they are known; only the first validation problem is described, with the count
of the others.
"""

from __future__ import annotations

import dataclasses
import os
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from cvibot._errors import ConfigError
from cvibot.config._files import read_text_file
from cvibot.config._interpolate import redact
from cvibot.config._keypaths import KeyPath, _line_of, key_text
from cvibot.config._model import BotConfig
from cvibot.config._validation import _validation_error
from cvibot.config._yaml_nodes import _Builder, _compose

__all__ = ["KeyPath", "LoadedConfig", "load_config", "parse_config"]


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config and where each of its keys was written.

    - ``config``: the model; ``transport.path`` and ``transport.out`` are absolute.
    - ``path``: absolute path of the file (``<string>`` in the current directory for
      :func:`parse_config` without ``path``).
    - ``lines``: key path → 1-based line of that key; for a list item, of the item.
      ``()`` is the line where the top-level mapping starts.
    - ``references``: each value ``${NAME}`` took from the environment → ``"${NAME}"``,
      for :meth:`redact` (not shown in the repr).
    """

    config: BotConfig
    path: Path
    lines: Mapping[KeyPath, int]
    references: Mapping[str, str] = field(
        default_factory=lambda: types.MappingProxyType({}), repr=False, compare=False
    )

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
        the line is that of :meth:`line_of`; the message is :meth:`redact`-ed. The
        caller raises it.
        """
        return ConfigError(
            self.redact(message),
            file=self.path,
            line=_line_of(self.lines, keys),
            key=key_text(keys),
        )

    def redact(self, text: str) -> str:
        """``text`` with every value that came from ``${NAME}`` (8 characters or more)
        written ``${NAME}`` instead: for messages quoting what a plugin was given."""
        return redact(text, self.references)


def load_config(path: str | Path, *, environ: Mapping[str, str] | None = None) -> LoadedConfig:
    """Read, interpolate and validate the config file at ``path`` (UTF-8 YAML).

    ``environ`` is the variables ``${VAR}`` reads (default ``os.environ``). Raises
    :class:`ConfigError` and nothing else for a missing, unreadable or invalid file, a
    path that is not a regular file (a directory, FIFO or device), and YAML over the
    limits of :mod:`~cvibot.config._safe_yaml`.
    """
    file = _expand(Path(path)).absolute()
    text = read_text_file(file, what="config file")
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
            "the file is empty: expected a mapping of settings (such as 'plugins:')",
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
    builder = _Builder(file, environ, lines)
    data = builder.build(root)
    frozen_lines = types.MappingProxyType(lines)
    references = types.MappingProxyType(builder.references)
    try:
        config = BotConfig.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(exc, file, frozen_lines, builder.sources, references) from None
    loaded = LoadedConfig(config=config, path=file, lines=frozen_lines, references=references)
    return _resolve_paths(loaded)


def _resolve_paths(loaded: LoadedConfig) -> LoadedConfig:
    """Make ``transport.path`` and ``transport.out`` absolute, from the config's folder."""
    transport = loaded.config.transport
    if transport is None:
        return loaded
    update: dict[str, Path] = {}
    for key in ("path", "out"):
        path: Path | None = getattr(transport, key, None)
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
