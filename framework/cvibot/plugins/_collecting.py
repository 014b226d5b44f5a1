"""Collecting the plugins' tools, each attributed to its plugin, with duplicates refused.

A plugin provides tools in two ways: ``@tool`` functions in its module's namespace, and
what its ``cvibot_register_tools`` implementations pass to ``register``. Both are
gathered once at start-up, by :meth:`~cvibot.plugins.PluginHost.collect_tools`.

Two plugins that provide one tool name stop the bot with an error that names both (and
their distributions), says how each came to be loaded and how to fix it, and sits at the
config key the user can act on (:func:`clash_error`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from cvibot._errors import DuplicateToolError, PluginLoadError
from cvibot.plugins._binding import HookCall
from cvibot.plugins._loading import EMPTY_SETTINGS, LoadedPlugin, warn_skipped
from cvibot.plugins._registering import REGISTER_TOOLS

#: The key of a clash brought by an installed plugin nobody names: autoloading loaded it.
AUTOLOAD_KEY = "plugins_autoload"

if TYPE_CHECKING:
    import pluggy

    from cvibot.plugins._calling import HookRunner
    from cvibot.tools import ToolSpec


def collect_plugin_tools(
    hooks: HookRunner,
    plugins: Sequence[LoadedPlugin],
    keys: Mapping[str, str],
    drop: Callable[[str], None],
    base_dir: Path,
) -> list[ToolSpec]:
    """The tools of ``plugins`` and of plugins registered on ``hooks.pm`` directly.

    ``keys`` gives the config key of each plugin the config names; a failure of any
    other autoloaded plugin is logged and the plugin is ``drop``-ped by name.
    ``base_dir`` reaches ``cvibot_register_tools`` as its ``base_dir``. See
    :meth:`~cvibot.plugins.PluginHost.collect_tools` for the rules.
    """
    from cvibot.tools import collect_tools

    register_impls: dict[str, list[pluggy.HookImpl]] = {}
    for impl in reversed(getattr(hooks.pm.hook, REGISTER_TOOLS).get_hookimpls()):
        register_impls.setdefault(impl.plugin_name, []).append(impl)

    order: list[tuple[str, LoadedPlugin | None]] = [(p.name, p) for p in plugins]
    known = {p.name for p in plugins}
    order += [(name, None) for name in register_impls if name not in known]

    tools: dict[str, ToolSpec] = {}
    by_name = {p.name: p for p in plugins}
    for name, loaded in order:
        key = keys.get(name)
        try:
            found: list[ToolSpec] = []
            if loaded is not None and isinstance(loaded.plugin, ModuleType):
                found += collect_tools(loaded.plugin)
            for impl in register_impls.get(name, ()):
                found += _registered_tools(hooks, impl, base_dir)
        except Exception as exc:
            error = PluginLoadError(
                f"plugin {name!r} could not register its tools: {type(exc).__name__}: {exc}",
                plugin=name,
                distribution=loaded.distribution if loaded is not None else None,
                cause=exc,
                key=key,
            )
            if key is None and loaded is not None and loaded.kind == "entry_point":
                warn_skipped(error)
                drop(name)
                continue
            raise error from exc

        for spec in found:
            earlier = tools.get(spec.name)
            if earlier is None:
                tools[spec.name] = spec.with_options(plugin=name)
            elif earlier.function is not spec.function:
                raise clash_error(spec.name, earlier.plugin or "?", name, by_name, keys)
    return list(tools.values())


def clash_error(
    tool: str,
    first: str,
    second: str,
    plugins: Mapping[str, LoadedPlugin],
    keys: Mapping[str, str],
) -> DuplicateToolError:
    """The error for two plugins providing ``tool``: who they are, and the fix.

    ``plugins`` are the loaded plugins by name, ``keys`` the config key of each plugin the
    config names (``plugins[2]``) or ``-p`` adds (``-p NAME``). The error's ``key`` is
    where the user acts: :data:`AUTOLOAD_KEY` when one of the two is an installed plugin
    nobody names (autoloading brought it in), else the key of a plugin added with ``-p``,
    else that of the later config entry.
    """
    names = (first, second)
    autoloaded = [n for n in names if _autoloaded(plugins.get(n), keys.get(n))]
    listed = [n for n in names if keys.get(n, "").startswith("plugins[")]
    added = [n for n in names if keys.get(n, "").startswith("-p ")]
    blockable = [n for n in names if plugins.get(n) is None or plugins[n].kind != "builtin"]
    fixes: list[str] = []
    if listed:
        fixes.append(
            "remove one from plugins:"
            if len(listed) == 2
            else f"remove {listed[0]!r} from plugins:"
        )
    if added:
        fixes.append(" or ".join(f"drop -p {n}" for n in added))
    if blockable:
        fixes.append("block one with " + " or ".join(f"-p no:{n}" for n in blockable))
    if autoloaded:
        fixes.append(
            "turn autoloading off (plugins_autoload, CVIBOT_PLUGINS_AUTOLOAD) so that "
            "installed plugins join only when named"
        )
    fixes.append("rename the tool in one plugin (@tool(name=...) or register(fn, name=...))")
    error = DuplicateToolError(tool, first, second)
    error.message = (
        f"tool {tool!r} is provided by {_describe(first, plugins, keys)} and "
        f"{_describe(second, plugins, keys)}: {_either(fixes)}"
    )
    if autoloaded:
        error.key = AUTOLOAD_KEY
    elif added:
        error.key = keys[added[-1]]
    elif listed:
        error.key = keys[listed[-1]]
    return error


def _autoloaded(loaded: LoadedPlugin | None, key: str | None) -> bool:
    return loaded is not None and loaded.kind == "entry_point" and key is None


def _describe(name: str, plugins: Mapping[str, LoadedPlugin], keys: Mapping[str, str]) -> str:
    """``plugin 'a' (dist cvibot-a 1.0, plugins[0])`` and the like."""
    loaded = plugins.get(name)
    key = keys.get(name)
    parts: list[str] = []
    if loaded is None:
        parts.append("registered on the plugin manager")
    elif loaded.distribution:
        dist = " ".join(p for p in (loaded.distribution, loaded.version) if p)
        parts.append(f"dist {dist}")
    elif loaded.kind == "builtin":
        parts.append("built-in")
    elif loaded.module:
        parts.append(f"module {loaded.module}")
    if key is not None:
        parts.append(key)
    elif _autoloaded(loaded, key):
        parts.append("installed, not named, autoloaded")
    return f"plugin {name!r} ({', '.join(parts)})" if parts else f"plugin {name!r}"


def _either(options: list[str]) -> str:
    if len(options) == 1:
        return options[0]
    return ", ".join(options[:-1]) + ", or " + options[-1]


def _registered_tools(hooks: HookRunner, impl: pluggy.HookImpl, base_dir: Path) -> list[ToolSpec]:
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

    # One implementation, called as pluggy calls it: its declared arguments, in order.
    given = {"register": register, "base_dir": base_dir, "settings": EMPTY_SETTINGS}
    try:
        result = impl.function(*[given[name] for name in impl.argnames])
        if isinstance(result, HookCall):
            result = result()
    finally:
        open_ = False
    if inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()  # never awaited on purpose; closing avoids a RuntimeWarning
        raise TypeError(f"{REGISTER_TOOLS} must be a plain function, not async")
    return registered
