"""Finding and importing plugins: what a config entry, a ``.py`` file or an entry point is.

Turns each ``plugins:`` item of the config into a :class:`LoadedPlugin` (a module by
name or ``.py`` path, or an installed entry point of group ``cvibot``), and autoloads the
other installed entry points, logging and skipping the ones that fail so that one broken
package never stops the bot. Registering with pluggy is :mod:`.registering`'s job.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import zlib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import TYPE_CHECKING, Any, Literal, Protocol

import structlog

from cvibot._errors import PluginLoadError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    import pluggy

__all__ = ["ENTRY_POINT_GROUP", "LoadedPlugin", "PluginEntryLike", "PluginRef"]

ENTRY_POINT_GROUP = "cvibot"

log = structlog.get_logger("cvibot.plugins")

EMPTY_SETTINGS: Mapping[str, Any] = MappingProxyType({})
"""The settings of a plugin the config does not name (one shared read-only mapping)."""


class PluginEntryLike(Protocol):
    """One ``plugins:`` item of the config, as the host reads it.

    ``kind`` is ``"auto"``, ``"module"`` or ``"entry_point"``; ``settings`` is handed to
    the plugin's hooks as ``settings``.
    """

    @property
    def ref(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def settings(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class PluginRef:
    """A plugin named without settings: ``-p NAME`` (kind ``auto``), or an installed
    entry point looked at on its own (kind ``entry_point``)."""

    ref: str
    kind: str = "auto"
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadedPlugin:
    """A plugin registered with the host.

    - ``name``: the config ``ref``, the entry-point name (autoloaded) or the built-in's
      name; also its pluggy name and the ``plugin`` of the tools it provides.
    - ``kind``: ``"module"`` (imported by module name or ``.py`` path), ``"entry_point"``
      or ``"builtin"``.
    - ``module``: the imported module's name, when there is one.
    - ``distribution``, ``version``: the installed distribution of an entry point; for a
      module, ``version`` is its ``__version__`` string if it has one.
    - ``settings``: the read-only ``settings`` the config gives this plugin.
    - ``plugin``: the object registered with pluggy (usually the module).
    """

    name: str
    kind: Literal["module", "entry_point", "builtin"]
    module: str | None
    distribution: str | None
    version: str | None
    settings: Mapping[str, Any]
    plugin: object


def builtin_plugin(name: str, obj: object) -> LoadedPlugin:
    """A built-in plugin (one the bot brings, not the config): no settings, no version."""
    return LoadedPlugin(
        name=name,
        kind="builtin",
        module=obj.__name__ if isinstance(obj, ModuleType) else None,
        distribution=None,
        version=None,
        settings=EMPTY_SETTINGS,
        plugin=obj,
    )


class EntryPoints:
    """The installed ``cvibot`` entry points by name, read once and only when needed."""

    def __init__(self) -> None:
        self._by_name: dict[str, EntryPoint] | None = None

    def all(self) -> dict[str, EntryPoint]:
        if self._by_name is None:
            from importlib.metadata import entry_points

            by_name: dict[str, EntryPoint] = {}
            for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
                by_name.setdefault(ep.name, ep)  # the first on sys.path wins, like imports
            self._by_name = by_name
        return self._by_name


def load_entry(
    entry: PluginEntryLike, key: str, base_dir: Path | None, entry_points: EntryPoints
) -> LoadedPlugin:
    """Import the plugin a config entry names; failures are :class:`PluginLoadError` at ``key``."""
    ref, kind = entry.ref, entry.kind
    settings: Mapping[str, Any] = MappingProxyType(dict(entry.settings))
    if kind not in ("auto", "module", "entry_point"):
        raise PluginLoadError(
            f"plugin {ref!r} has kind {kind!r}; expected auto, module or entry_point",
            plugin=ref,
            key=key,
        )
    if kind == "entry_point" or (kind == "auto" and not _is_path(ref)):
        ep = entry_points.all().get(ref)
        if ep is not None:
            return load_entry_point(ep, ref, settings, key=key)
        if kind == "entry_point":
            installed = ", ".join(entry_points.all()) or "none"
            raise PluginLoadError(
                f"plugin {ref!r} is not an installed entry point of group "
                f"{ENTRY_POINT_GROUP!r} (installed: {installed})",
                plugin=ref,
                key=key,
            )
    try:
        module = _import_path(ref, base_dir) if _is_path(ref) else importlib.import_module(ref)
    except (Exception, SystemExit) as exc:  # a plugin's sys.exit() must not end the bot
        raise PluginLoadError(
            _import_failure(ref, exc, base_dir), plugin=ref, cause=exc, key=key
        ) from exc
    return LoadedPlugin(
        name=ref,
        kind="module",
        module=module.__name__,
        distribution=None,
        version=_version_of(module),
        settings=settings,
        plugin=module,
    )


def load_entry_point(
    ep: EntryPoint, name: str, settings: Mapping[str, Any], *, key: str | None
) -> LoadedPlugin:
    """Import an entry point's object; failures name its distribution and version."""
    dist = ep.dist
    distribution = dist.name if dist is not None else None
    version = dist.version if dist is not None else None
    try:
        obj = ep.load()
    except (Exception, SystemExit) as exc:
        source = f" of {distribution} {version}" if distribution else ""
        raise PluginLoadError(
            f"plugin {name!r} could not be imported: {type(exc).__name__}: {exc} "
            f"(entry point {ep.name} = {ep.value}{source})",
            plugin=name,
            distribution=distribution,
            cause=exc,
            key=key,
        ) from exc
    return LoadedPlugin(
        name=name,
        kind="entry_point",
        module=obj.__name__ if isinstance(obj, ModuleType) else ep.module,
        distribution=distribution,
        version=version,
        settings=settings,
        plugin=obj,
    )


def autoload(
    entry_points: EntryPoints,
    pm: pluggy.PluginManager,
    named: Collection[str],
    register: Callable[[LoadedPlugin], None],
    *,
    loaded: Callable[[object], bool],
) -> None:
    """Load and ``register`` every installed entry point that is not loaded yet.

    Entry points the config ``named`` or that share a name with a registered plugin are
    left out, and so is one whose object is registered already (named in the config
    under another name: ``loaded(plugin)`` says so). One that fails to import or
    register is logged as a warning and skipped.
    """
    for name, ep in entry_points.all().items():
        if name in named or pm.has_plugin(name):
            continue
        try:
            found = load_entry_point(ep, name, EMPTY_SETTINGS, key=None)
            if loaded(found.plugin):
                continue
            register(found)
        except PluginLoadError as exc:
            warn_skipped(exc)


def warn_skipped(error: PluginLoadError) -> None:
    """Log that an autoloaded plugin was left out, and why."""
    log.warning(
        "plugin skipped",
        plugin=error.plugin,
        distribution=error.distribution,
        error=error.message,
    )


def add_to_sys_path(directory: Path) -> None:
    """Put ``directory`` first on ``sys.path`` unless it is on it already."""
    target = os.path.normcase(str(directory))
    for entry in sys.path:
        if os.path.normcase(os.path.abspath(entry or os.curdir)) == target:
            return
    sys.path.insert(0, str(directory))


def _is_path(ref: str) -> bool:
    return ref.endswith(".py") or "/" in ref or os.sep in ref


def _import_path(ref: str, base_dir: Path | None) -> ModuleType:
    """Import a ``.py`` file; its directory goes on ``sys.path`` for sibling imports."""
    path = Path(ref).expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    path = path.resolve()
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    add_to_sys_path(path.parent)

    # Use the file's stem as module name so that a sibling's ``import stem`` shares the
    # module; fall back to a name of its own when the stem is taken by another module.
    name = path.stem
    existing = sys.modules.get(name) if name.isidentifier() else None
    if existing is not None and _module_file(existing) == path:
        return existing
    if existing is not None or not name.isidentifier():
        safe = "".join(c if c.isalnum() else "_" for c in path.stem)
        name = f"cvibot_plugin_{safe}_{zlib.crc32(str(path).encode()):08x}"
        if name in sys.modules:
            return sys.modules[name]

    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _module_file(module: ModuleType) -> Path | None:
    file = getattr(module, "__file__", None)
    return Path(file).resolve() if isinstance(file, str) else None


def _import_failure(ref: str, exc: BaseException, base_dir: Path | None) -> str:
    message = f"plugin {ref!r} could not be imported: {type(exc).__name__}: {exc}"
    missing = exc.name if isinstance(exc, ModuleNotFoundError) else None
    # Only say where we looked when the plugin itself is missing, not one of its imports.
    if missing and (ref == missing or ref.startswith(missing + ".")):
        where = f"{base_dir} and sys.path" if base_dir is not None else "sys.path"
        message += f" (looked in {where})"
    return message


def _version_of(module: ModuleType) -> str | None:
    version = getattr(module, "__version__", None)
    return version if isinstance(version, str) else None
