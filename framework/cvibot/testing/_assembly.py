"""Building the bot of a fake conversation: its config, its plugins and its extra tools.

:func:`load_test_config` turns what a test gives (a dict, YAML text, a config file or
nothing) into the :class:`~cvibot.config.LoadedConfig` the CLI would load, with the
transport made optional and extra plugin entries and a pipeline mode applied on top;
:func:`build_bot` builds the :class:`~cvibot._runtime.Bot` with the test's own plugin
objects and tools, through :meth:`Bot.from_config`. Every problem is a
:class:`~cvibot._errors.ConfigError`, as it would be for ``cvibot run``.
"""

from __future__ import annotations

import dataclasses
import os
import types
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cvibot._errors import ConfigError
from cvibot.plugins import hookimpl

if TYPE_CHECKING:
    from pydantic import ValidationError

    from cvibot._runtime import Bot
    from cvibot._session import Session
    from cvibot.config import LoadedConfig

__all__ = [
    "FAKE_CONVERSATION_PLUGIN",
    "ConfigSource",
    "FakeConversationPlugin",
    "build_bot",
    "load_test_config",
]

ConfigSource = Mapping[str, Any] | str | os.PathLike[str] | None
"""A config as a test gives it: a mapping (the YAML's data), YAML text, a file, or none."""

FAKE_CONVERSATION_PLUGIN = "cvibot.testing"
"""Name of the built-in plugin that brings the test's extra tools and watches the session."""

# The bot never opens it: the fake conversation runs on a memory transport.
_UNUSED_TRANSPORT = {"type": "replay", "path": "fake-conversation.jsonl"}
_DICT_FILE = "<config>"
_TEXT_FILE = "<string>"


def load_test_config(
    config: ConfigSource = None,
    *,
    plugins: Sequence[str | Mapping[str, Any]] = (),
    pipeline_mode: str | None = None,
    base_dir: str | os.PathLike[str] | None = None,
) -> LoadedConfig:
    """The config of ``config`` with ``plugins`` appended to its ``plugins:`` list.

    - ``config``: a mapping as ``yaml.safe_load`` gives it (strings are interpolated like
      the file's, ``${VAR}``), YAML text, a path to a config file, or ``None`` (``{}``).
      ``transport`` may be left out; the bot of a fake conversation runs on a memory
      transport whatever the config says.
    - ``plugins``: more entries in the forms of ``plugins:`` (``"name"``, ``{"name":
      ..., "settings": {...}}``, ``{"module": "x.py"}``), after the config's.
    - ``pipeline_mode``: replaces the config's (``"full"`` or ``"echo"``).
    - ``base_dir``: the folder that relative module paths resolve from, for a mapping or
      text (default: the current directory). A file's is its own folder.

    Raises :class:`ConfigError` (file, line and key where known; no line for a mapping)
    for anything ``cvibot check`` would refuse, and ``TypeError`` for a ``base_dir``
    given with a file or a ``config`` of another type.
    """
    from cvibot.config import parse_config

    folder = Path(base_dir) if base_dir is not None else Path.cwd()
    if config is None or isinstance(config, Mapping):
        data = _plain(dict(config or {}))
        data.setdefault("transport", dict(_UNUSED_TRANSPORT))
        file = folder / _DICT_FILE
        try:
            loaded = parse_config(_dump_yaml(data, file), path=file)
        except ConfigError as exc:
            exc.line = None  # lines of a mapping's dump would point at nothing real
            raise
        loaded = dataclasses.replace(loaded, lines=types.MappingProxyType({}))
    elif isinstance(config, str):
        loaded = parse_config(_with_transport(config), path=folder / _TEXT_FILE)
    elif isinstance(config, os.PathLike):
        if base_dir is not None:
            raise TypeError("base_dir is the config file's folder; do not give both")
        loaded = _load_file(Path(config))
    else:
        raise TypeError(
            f"config must be a mapping, YAML text or a path, not {type(config).__name__}"
        )
    return _apply_overrides(loaded, plugins, pipeline_mode)


def build_bot(
    loaded: LoadedConfig,
    *,
    builtins: Sequence[object] = (),
    tools: Sequence[object] = (),
    autoload: bool = False,
) -> tuple[Bot, FakeConversationPlugin]:
    """The bot of ``loaded``, with ``builtins`` and ``tools`` added; and that plugin.

    ``builtins`` are plugin objects (modules, or objects with ``@hookimpl`` methods),
    registered as built-in plugins under their ``__name__`` (a module's) or class name;
    the ``@tool`` functions of a module are collected too. ``tools`` are ``@tool``
    functions, plain functions or :class:`~cvibot.tools.ToolSpec` objects, attributed
    to the plugin :data:`FAKE_CONVERSATION_PLUGIN`. ``autoload`` loads the installed
    plugins the config does not name. Raises :class:`ConfigError` as :meth:`Bot.from_config` does.
    """
    from cvibot._runtime import Bot

    named: list[tuple[str, object]] = []
    taken: set[str] = {FAKE_CONVERSATION_PLUGIN}
    extra: list[object] = []
    for obj in builtins:
        name = _unique(_plugin_name(obj), taken)
        named.append((name, obj))
        if isinstance(obj, types.ModuleType):
            extra.extend(_module_tools(obj))
    plugin = FakeConversationPlugin([*extra, *tools])
    # Registered last of the built-ins, so a module's own tools stay attributed to it
    # wherever the host collects them itself.
    named.append((FAKE_CONVERSATION_PLUGIN, plugin))
    return Bot.from_config(loaded, autoload=autoload, builtins=named), plugin


class FakeConversationPlugin:
    """The built-in plugin of a fake conversation.

    Registers the test's extra tools (``cvibot_register_tools``) and reports each
    session as it starts to ``on_session`` (``cvibot_session_started``, called before
    the other plugins' implementations).
    """

    def __init__(self, tools: Sequence[object]) -> None:
        self.tools = tuple(tools)
        self.on_session: Callable[[Session], None] | None = None

    @hookimpl
    def cvibot_register_tools(self, register: Callable[..., None]) -> None:
        for obj in self.tools:
            register(obj)

    @hookimpl(tryfirst=True)
    def cvibot_session_started(self, session: Session) -> None:
        if self.on_session is not None:
            self.on_session(session)


def _apply_overrides(
    loaded: LoadedConfig, plugins: Sequence[str | Mapping[str, Any]], pipeline_mode: str | None
) -> LoadedConfig:
    """``loaded`` with more plugin entries and another pipeline mode, validated again."""
    from pydantic import ValidationError

    from cvibot.config import BotConfig, PluginEntry

    if not plugins and pipeline_mode is None:
        return loaded
    cfg = loaded.config
    fields = dict(cfg)
    entries = list(cfg.plugins)
    for item in plugins:
        key = f"plugins[{len(entries)}]"
        try:
            entries.append(PluginEntry.model_validate(item))
        except ValidationError as exc:
            raise ConfigError(
                f"plugin entry {item!r} is invalid: {_first_problem(exc)[0]}",
                file=loaded.path,
                key=key,
            ) from None
    fields["plugins"] = entries
    if pipeline_mode is not None:
        fields["pipeline_mode"] = pipeline_mode
    try:
        config = BotConfig.model_validate(fields)
    except ValidationError as exc:
        message, where = _first_problem(exc)
        raise loaded.error(message, *where) from None
    return dataclasses.replace(loaded, config=config)


def _first_problem(exc: ValidationError) -> tuple[str, tuple[str | int, ...]]:
    """The first error's message and key path (below the located value, if it says)."""
    from cvibot.config._model import LocatedValueError

    first = exc.errors()[0]
    where = tuple(first["loc"])
    cause = first.get("ctx", {}).get("error")
    if isinstance(cause, LocatedValueError):
        return cause.message, where + cause.loc
    return first["msg"], where


def _load_file(path: Path) -> LoadedConfig:
    from cvibot.config import parse_config, read_text_file

    file = path.expanduser().absolute()
    text = read_text_file(file, what="config file")  # the loader's own errors
    return parse_config(_with_transport(text), path=file)


def _with_transport(text: str) -> str:
    """``text``, with an unused transport added when its top-level mapping has none.

    Appended as a last line, so the lines of the other keys stay as written (a flow
    mapping, ``{...}``, is written out again as a block); anything that is not a mapping
    is left for the loader to judge.
    """
    import yaml

    from cvibot.config import compose_yaml, construct_yaml

    try:
        root = compose_yaml(text)  # bounded, like the loader that reads it next
    except ConfigError:
        return text
    if not isinstance(root, yaml.MappingNode):
        return text
    keys = {key.value for key, _ in root.value if isinstance(key, yaml.ScalarNode)}
    if "transport" in keys:
        return text
    if root.flow_style:
        try:
            data = construct_yaml(root)
        except ConfigError:
            return text
        return yaml.safe_dump({**data, "transport": dict(_UNUSED_TRANSPORT)}, sort_keys=False)
    line = f"transport: {{type: replay, path: {_UNUSED_TRANSPORT['path']}}}\n"
    return text + ("" if text.endswith("\n") else "\n") + line


def _dump_yaml(data: Mapping[str, Any], file: Path) -> str:
    import yaml

    try:
        return yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True)
    except yaml.YAMLError as exc:
        raise ConfigError(f"the config mapping cannot be used: {exc}", file=file) from None


def _plain(value: Any) -> Any:
    """``value`` with paths, enums, tuples and mappings made plain YAML data."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, Enum):
        return _plain(value.value)
    return value


def _plugin_name(obj: object) -> str:
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    name = getattr(obj, "__name__", None)
    return name if isinstance(name, str) and name else type(obj).__name__


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}#{n}"
    taken.add(candidate)
    return candidate


def _module_tools(module: types.ModuleType) -> list[object]:
    from cvibot.tools import collect_tools

    return list(collect_tools(module))
