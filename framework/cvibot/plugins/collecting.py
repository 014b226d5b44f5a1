"""Collecting the plugins' tools, each attributed to its plugin, with duplicates refused.

A plugin provides tools in two ways: ``@tool`` functions in its module's namespace, and
what its ``cvibot_register_tools`` implementations pass to ``register``. Both are
gathered once at start-up, by :meth:`~cvibot.plugins.PluginHost.collect_tools`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from cvibot.errors import DuplicateToolError, PluginLoadError
from cvibot.plugins.loading import LoadedPlugin, warn_skipped
from cvibot.plugins.registering import REGISTER_TOOLS

if TYPE_CHECKING:
    import pluggy

    from cvibot.plugins.calling import HookRunner
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
                raise DuplicateToolError(spec.name, earlier.plugin or "?", name)
    return list(tools.values())


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

    bound = hooks.bind(impl)
    try:
        result = bound(register=register, base_dir=base_dir)
    finally:
        open_ = False
    if inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()  # never awaited on purpose; closing avoids a RuntimeWarning
        raise TypeError(f"{REGISTER_TOOLS} must be a plain function, not async")
    return registered
