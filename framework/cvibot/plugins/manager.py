"""Loading plugins, collecting their tools and calling their hooks.

:class:`PluginHost` wraps one :class:`pluggy.PluginManager`. It is built once at start-up
by :meth:`PluginHost.load`, which imports every plugin the config names (failures are
:class:`~cvibot.errors.PluginLoadError`) and every other installed ``cvibot`` entry point
(failures are logged and skipped, so one broken package never stops the bot).

Hooks are called by the host, not by pluggy: each implementation is called on its own
with its own plugin's ``settings``, and an awaitable result is awaited, so ``async def``
implementations work. Nothing here is meant for the per-tool-call path: tools are
collected once into a list, and per-event observers are resolved once by
:meth:`PluginHost.observers`.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import TYPE_CHECKING, Any, Literal, Protocol

import pluggy
import structlog

from cvibot.errors import DuplicateToolError, PluginLoadError
from cvibot.plugins import hookspecs
from cvibot.plugins.hookspecs import PROJECT_NAME

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from cvibot.tools import ToolSpec

__all__ = [
    "ENTRY_POINT_GROUP",
    "BoundImpl",
    "LoadedPlugin",
    "PluginEntryLike",
    "PluginHost",
]

ENTRY_POINT_GROUP = "cvibot"

log = structlog.get_logger("cvibot.plugins")

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_REGISTER_TOOLS = "cvibot_register_tools"


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


class BoundImpl:
    """One hook implementation with its plugin's ``settings`` bound.

    Call it with the hook's arguments other than ``settings``, as keywords; it passes on
    only those the implementation declares and returns what the implementation returns
    (an awaitable for an ``async def``, which the caller awaits). ``plugin_name`` and
    ``function`` say whose code it is, for logging a failure.
    """

    __slots__ = ("_argnames", "_settings", "function", "plugin_name")

    def __init__(
        self,
        function: Callable[..., Any],
        argnames: Sequence[str],
        plugin_name: str,
        settings: Mapping[str, Any],
    ) -> None:
        self.function = function
        self.plugin_name = plugin_name
        self._argnames = tuple(argnames)
        self._settings = settings

    def __call__(self, **kwargs: Any) -> Any:
        # Positional, as pluggy calls implementations: this also works for
        # positional-only parameters.
        settings = self._settings
        return self.function(
            *[settings if name == "settings" else kwargs[name] for name in self._argnames]
        )

    def __repr__(self) -> str:
        qualname = getattr(self.function, "__qualname__", repr(self.function))
        return f"<BoundImpl {self.plugin_name}:{qualname}>"


class PluginHost:
    """The loaded plugins, their hooks and their tools.

    ``pm`` is the pluggy manager with the cvibot hookspecs added; ``plugins`` lists the
    plugins in registration order: built-ins, then the config's plugins in config
    order, then autoloaded entry points in name order. Implementations are called in
    pluggy's order (last registered first), so a config plugin runs before a built-in.

    A host built with ``PluginHost()`` has no plugins; plugins registered on ``pm``
    directly take part in every hook with empty ``settings``.
    """

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: tuple[LoadedPlugin, ...] = ()
        self._settings: dict[str, Mapping[str, Any]] = {}
        self._keys: dict[str, str] = {}
        self._observers: dict[str, tuple[list[pluggy.HookImpl], tuple[BoundImpl, ...]]] = {}

    # -- loading ---------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        entries: Sequence[PluginEntryLike],
        *,
        base_dir: Path | None = None,
        autoload: bool = True,
        builtins: Sequence[tuple[str, object]] = (),
    ) -> PluginHost:
        """Import and register plugins; runs once at start-up, before the event loop.

        ``builtins`` are registered first, as given. Each of ``entries`` is then
        resolved by ``kind``:

        - ``"module"``: ``ref`` is a dotted module name, looked up in ``base_dir`` and on
          ``sys.path``, or a path to a ``.py`` file (relative to ``base_dir``).
        - ``"entry_point"``: the entry point named ``ref`` in group ``cvibot``.
        - ``"auto"``: that entry point if one is installed, else a module.

        ``base_dir`` (the config file's directory) is put at the front of ``sys.path``
        unless it is already on it, and so is the directory of a ``.py`` plugin, so that
        plugin modules can import their siblings.

        With ``autoload``, every other installed entry point of group ``cvibot`` is
        loaded too, with empty settings; one that fails to import or register is logged
        as a warning (logger ``cvibot.plugins``) and skipped. A module that is both
        named and autoloaded is registered once, under its config name.

        Raises :class:`~cvibot.errors.PluginLoadError` (``key="plugins[<index>]"``) when
        a plugin the config names cannot be found, imported or registered: a hook
        implementation with an argument the hook does not have, a marked function that
        is no cvibot hook, a hook wrapper, or an ``async`` ``cvibot_register_tools``.
        """
        host = cls()
        if base_dir is not None:
            base_dir = Path(base_dir).resolve()
            _add_to_sys_path(base_dir)
        # Import paths may have been written since the interpreter looked last.
        importlib.invalidate_caches()
        entry_points = _EntryPoints()

        for name, obj in builtins:
            host._register(
                LoadedPlugin(
                    name=name,
                    kind="builtin",
                    module=obj.__name__ if isinstance(obj, ModuleType) else None,
                    distribution=None,
                    version=None,
                    settings=_EMPTY,
                    plugin=obj,
                ),
                key=None,
            )

        for index, entry in enumerate(entries):
            key = f"plugins[{index}]"
            if host.pm.has_plugin(entry.ref):
                first = host._keys.get(entry.ref)
                raise PluginLoadError(
                    f"plugin {entry.ref!r} is listed more than once (first as {first})"
                    if first is not None
                    else f"plugin {entry.ref!r} has the name of a built-in plugin",
                    plugin=entry.ref,
                    key=key,
                )
            loaded = _load_entry(entry, key, base_dir, entry_points)
            other = host.pm.get_name(loaded.plugin)
            if other is not None:
                raise PluginLoadError(
                    f"plugin {entry.ref!r} is the same plugin as {other!r}, which is "
                    "already loaded; list it once",
                    plugin=entry.ref,
                    distribution=loaded.distribution,
                    key=key,
                )
            host._register(loaded, key=key)

        if autoload:
            named = {entry.ref for entry in entries}
            for name, ep in entry_points.all().items():
                if name in named or host.pm.has_plugin(name):
                    continue
                try:
                    loaded = _load_entry_point(ep, name, _EMPTY, key=None)
                    if host.pm.is_registered(loaded.plugin):
                        continue  # also named in the config (under another name): once
                    host._register(loaded, key=None)
                except PluginLoadError as exc:
                    _warn_skipped(exc)
        return host

    def _register(self, loaded: LoadedPlugin, *, key: str | None) -> None:
        """Register ``loaded`` with pluggy and check its hook implementations."""
        try:
            self.pm.register(loaded.plugin, name=loaded.name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            detail = self._invalid_args(loaded.plugin) or " ".join(str(exc).split())
            raise PluginLoadError(
                f"plugin {loaded.name!r} could not be registered: {detail}",
                plugin=loaded.name,
                distribution=loaded.distribution,
                cause=exc,
                key=key,
            ) from exc
        problem = self._check_impls(loaded)
        if problem is not None:
            self.pm.unregister(loaded.plugin)
            raise PluginLoadError(
                f"plugin {loaded.name!r} could not be registered: {problem}",
                plugin=loaded.name,
                distribution=loaded.distribution,
                key=key,
            )
        self.plugins = (*self.plugins, loaded)
        self._settings[loaded.name] = loaded.settings
        if key is not None:
            self._keys[loaded.name] = key

    def _invalid_args(self, plugin: object) -> str | None:
        """Name the hook implementation that declares an argument its hook lacks, if any.

        pluggy's own message spans several lines; this one fits a config error.
        """
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        for attr in dir(plugin):
            opts = self.pm.parse_hookimpl_opts(plugin, attr)
            if opts is None:
                continue
            hook = opts.get("specname") or attr
            spec = getattr(getattr(self.pm.hook, hook, None), "spec", None)
            if spec is None:
                continue
            try:
                params = inspect.signature(getattr(plugin, attr)).parameters.values()
            except (TypeError, ValueError):
                continue
            # pluggy passes the positional parameters without a default.
            names = [p.name for p in params if p.kind in positional and p.default is p.empty]
            unknown = [name for name in names if name not in spec.argnames]
            if unknown:
                return (
                    f"{attr}() declares {', '.join(map(repr, unknown))}, which hook {hook!r} "
                    f"does not have (its arguments: {', '.join(spec.argnames)})"
                )
        return None

    def _check_impls(self, loaded: LoadedPlugin) -> str | None:
        """What pluggy accepts but the host cannot honour, or ``None``."""
        for caller in self.pm.get_hookcallers(loaded.plugin) or ():
            for impl in caller.get_hookimpls():
                if impl.plugin is not loaded.plugin:
                    continue
                if not caller.has_spec():
                    if impl.optionalhook:
                        continue
                    return (
                        f"{caller.name!r} is marked as a hook implementation but is not a "
                        f"cvibot hook (hooks: {', '.join(_hook_names())})"
                    )
                if impl.wrapper or impl.hookwrapper:
                    return f"hook wrappers are not supported ({caller.name!r})"
                if caller.name == _REGISTER_TOOLS and _is_async(impl.function):
                    return f"{_REGISTER_TOOLS!r} must be a plain function, not async"
        return None

    def _unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self.plugins = tuple(p for p in self.plugins if p.name != name)
        self._settings.pop(name, None)
        self._observers.clear()

    # -- tools -----------------------------------------------------------------------

    def collect_tools(self) -> list[ToolSpec]:
        """Every plugin's tools, each with ``spec.plugin`` set to the plugin's name.

        Per plugin, in :attr:`plugins` order: the ``@tool`` functions in the namespace
        of a module or entry-point plugin (no hook code needed), then what its
        ``cvibot_register_tools`` implementations register, each called with that
        plugin's settings. Plugins registered on :attr:`pm` directly come last.

        The same function under the same tool name from two plugins is collected once,
        for the first. Call once at start-up; the result is the bot's tool set.

        Raises :class:`~cvibot.errors.DuplicateToolError` when two different functions
        share a tool name, naming both plugins, and
        :class:`~cvibot.errors.PluginLoadError` when a plugin the config names fails to
        register its tools (an autoloaded one is logged as a warning and unregistered).
        """
        from cvibot.tools import collect_tools

        register_impls: dict[str, list[pluggy.HookImpl]] = {}
        for impl in reversed(getattr(self.pm.hook, _REGISTER_TOOLS).get_hookimpls()):
            register_impls.setdefault(impl.plugin_name, []).append(impl)

        order: list[tuple[str, LoadedPlugin | None]] = [(p.name, p) for p in self.plugins]
        known = {p.name for p in self.plugins}
        order += [(name, None) for name in register_impls if name not in known]

        tools: dict[str, ToolSpec] = {}
        for name, loaded in order:
            key = self._keys.get(name)
            try:
                found: list[ToolSpec] = []
                # Built-ins bring their tools through the hook only.
                if (
                    loaded is not None
                    and loaded.kind != "builtin"
                    and isinstance(loaded.plugin, ModuleType)
                ):
                    found += collect_tools(loaded.plugin)
                for impl in register_impls.get(name, ()):
                    found += self._registered_tools(impl)
            except Exception as exc:
                error = PluginLoadError(
                    f"plugin {name!r} could not register its tools: {type(exc).__name__}: {exc}",
                    plugin=name,
                    distribution=loaded.distribution if loaded is not None else None,
                    cause=exc,
                    key=key,
                )
                if key is None and loaded is not None and loaded.kind == "entry_point":
                    _warn_skipped(error)
                    self._unregister(name)
                    continue
                raise error from exc

            for spec in found:
                earlier = tools.get(spec.name)
                if earlier is None:
                    tools[spec.name] = spec.with_options(plugin=name)
                elif earlier.function is not spec.function:
                    raise DuplicateToolError(spec.name, earlier.plugin or "?", name)
        return list(tools.values())

    def _registered_tools(self, impl: pluggy.HookImpl) -> list[ToolSpec]:
        """Call one ``cvibot_register_tools`` implementation and return what it registered."""
        from cvibot.tools import ToolSpec, build_tool_spec, get_tool_spec

        registered: list[ToolSpec] = []
        open_ = True

        def register(obj: object, /, **options: Any) -> None:
            if not open_:
                raise RuntimeError("register() was called after cvibot_register_tools returned")
            if isinstance(obj, ToolSpec):
                spec = obj
            elif (marked := get_tool_spec(obj)) is not None:
                spec = marked
            elif callable(obj):
                # The @tool defaults, without marking the plugin's function (which may
                # also be a bound method, which cannot carry the marker).
                spec = build_tool_spec(obj)
            else:
                raise TypeError(
                    f"register() takes a tool function or a ToolSpec, not {type(obj).__name__}"
                )
            registered.append(spec.with_options(**options) if options else spec)

        bound = BoundImpl(impl.function, impl.argnames, impl.plugin_name, self._settings_of(impl))
        try:
            result = bound(register=register)
        finally:
            open_ = False
        if inspect.isawaitable(result):
            if inspect.iscoroutine(result):
                result.close()  # never awaited on purpose; closing avoids a RuntimeWarning
            raise TypeError(f"{_REGISTER_TOOLS} must be a plain function, not async")
        return registered

    # -- hooks -----------------------------------------------------------------------

    async def call(self, hook: str, **kwargs: Any) -> list[Any]:
        """Call every implementation of ``hook`` and return the results that are not None.

        ``kwargs`` are the hook's arguments other than ``settings`` (which the host
        passes to each plugin); implementations run in pluggy's order (see
        :meth:`observers`), and an awaitable result is awaited before the next one
        runs. For a ``firstresult`` hook the call stops at the first result, as in
        pluggy, so the list holds at most one item.

        Exceptions propagate: the caller decides whether a failing implementation is
        fatal. Raises :class:`ValueError` for an unknown hook and :class:`TypeError`
        for missing or unexpected arguments.
        """
        self._check_call(hook, kwargs)
        spec = self._caller(hook).spec
        firstresult = spec is not None and bool(spec.opts.get("firstresult"))
        results: list[Any] = []
        for impl in self.observers(hook):
            result = impl(**kwargs)
            if inspect.isawaitable(result):
                result = await result
            if result is not None:
                results.append(result)
                if firstresult:
                    break
        return results

    async def call_first(self, hook: str, **kwargs: Any) -> Any:
        """The first result of ``hook`` that is not None, or None when there is none.

        Implementations run one at a time in pluggy's order, each awaited before the
        next; the rest are not called. Arguments and errors as for :meth:`call`.
        """
        self._check_call(hook, kwargs)
        for impl in self.observers(hook):
            result = impl(**kwargs)
            if inspect.isawaitable(result):
                result = await result
            if result is not None:
                return result
        return None

    async def notify(self, hook: str, **kwargs: Any) -> list[Exception]:
        """Call every implementation of ``hook``, isolating failures; return what they raised.

        For the hooks whose failures must never stop the bot (session start and end,
        shutdown): like :meth:`call`, but an exception is logged with the plugin's name
        (logger ``cvibot.plugins``, event ``"plugin hook raised"``) and the remaining
        implementations still run. Results are ignored. The list holds the exceptions in
        call order, empty when every implementation succeeded; cancellation propagates.
        Raises :class:`ValueError` / :class:`TypeError` as :meth:`call` does.
        """
        self._check_call(hook, kwargs)
        errors: list[Exception] = []
        for impl in self.observers(hook):
            try:
                result = impl(**kwargs)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                log.exception("plugin hook raised", hook=hook, plugin=impl.plugin_name)
                errors.append(exc)
        return errors

    def observers(self, hook: str) -> tuple[BoundImpl, ...]:
        """The implementations of ``hook`` as callables with ``settings`` already bound.

        For the hot path: resolve once, then call each with the hook's other arguments
        as keywords and await the result if it is awaitable. Order is pluggy's call
        order: ``tryfirst`` ones, then the others from last registered to first, then
        ``trylast`` ones. The tuple is cached until the implementations change.

        Raises :class:`ValueError` for an unknown hook.
        """
        impls = self._caller(hook).get_hookimpls()
        cached = self._observers.get(hook)
        if cached is not None and cached[0] == impls:
            return cached[1]
        bound = tuple(
            BoundImpl(impl.function, impl.argnames, impl.plugin_name, self._settings_of(impl))
            for impl in reversed(impls)
            if not (impl.wrapper or impl.hookwrapper)
        )
        self._observers[hook] = (impls, bound)
        return bound

    def settings_for(self, plugin_name: str) -> Mapping[str, Any]:
        """The read-only settings of the named plugin; empty for a name the host did not load."""
        return self._settings.get(plugin_name, _EMPTY)

    def _settings_of(self, impl: pluggy.HookImpl) -> Mapping[str, Any]:
        return self._settings.get(impl.plugin_name, _EMPTY)

    def _caller(self, hook: str) -> pluggy.HookCaller:
        caller: pluggy.HookCaller | None = getattr(self.pm.hook, hook, None)
        if caller is None or not caller.has_spec():
            raise ValueError(f"unknown hook {hook!r} (hooks: {', '.join(_hook_names())})")
        return caller

    def _check_call(self, hook: str, kwargs: Mapping[str, Any]) -> None:
        spec = self._caller(hook).spec
        assert spec is not None  # _caller only returns hooks with a spec
        expected = set(spec.argnames) - {"settings"}
        missing = expected - kwargs.keys()
        unexpected = kwargs.keys() - expected
        if missing or unexpected:
            raise TypeError(
                f"{hook}() takes {', '.join(sorted(expected)) or 'no arguments'}"
                f" (settings is passed per plugin); missing: {sorted(missing)}, "
                f"unexpected: {sorted(unexpected)}"
            )


# -- resolving config entries ----------------------------------------------------------


class _EntryPoints:
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


def _load_entry(
    entry: PluginEntryLike, key: str, base_dir: Path | None, entry_points: _EntryPoints
) -> LoadedPlugin:
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
            return _load_entry_point(ep, ref, settings, key=key)
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
    except Exception as exc:
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


def _load_entry_point(
    ep: EntryPoint, name: str, settings: Mapping[str, Any], *, key: str | None
) -> LoadedPlugin:
    dist = ep.dist
    distribution = dist.name if dist is not None else None
    version = dist.version if dist is not None else None
    try:
        obj = ep.load()
    except Exception as exc:
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
    _add_to_sys_path(path.parent)

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


def _add_to_sys_path(directory: Path) -> None:
    """Put ``directory`` first on ``sys.path`` unless it is on it already."""
    target = os.path.normcase(str(directory))
    for entry in sys.path:
        if os.path.normcase(os.path.abspath(entry or os.curdir)) == target:
            return
    sys.path.insert(0, str(directory))


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


def _is_async(function: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)


def _hook_names() -> list[str]:
    return sorted(name for name in hookspecs.__all__ if name.startswith("cvibot_"))


def _warn_skipped(error: PluginLoadError) -> None:
    log.warning(
        "plugin skipped",
        plugin=error.plugin,
        distribution=error.distribution,
        error=error.message,
    )
