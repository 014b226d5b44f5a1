"""Registering a loaded plugin with pluggy, refusing what the host cannot call.

The host registers a plugin as its :class:`~cvibot.plugins._binding.PluginImpls` (its
hook implementations with its ``settings`` bound), which pluggy validates as it would
the plugin itself. pluggy accepts some hook implementations the host cannot honour (a
marked function that is no cvibot hook, a hook wrapper, an ``async``
``cvibot_register_tools``), and reports an unknown argument over several lines;
:func:`register` turns each of these into one
:class:`~cvibot._errors.PluginLoadError` that fits a config error.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pluggy

from cvibot._errors import PluginLoadError
from cvibot.plugins._binding import PluginImpls, original
from cvibot.plugins._calling import hook_names
from cvibot.plugins._loading import LoadedPlugin

REGISTER_TOOLS = "cvibot_register_tools"


def register(
    pm: pluggy.PluginManager, loaded: LoadedPlugin, *, key: str | None, last: bool = False
) -> PluginImpls:
    """Register ``loaded`` with ``pm`` under its name and check its hook implementations.

    Returns what was registered (``pm.get_plugin(loaded.name)``); with ``last`` its
    implementations are marked ``trylast`` (see :class:`PluginImpls`). On failure
    nothing stays registered and :class:`PluginLoadError` is raised at ``key``.
    """
    impls = PluginImpls(loaded.plugin, loaded.name, loaded.settings, pm, last=last)
    if impls.wrappers:
        raise PluginLoadError(
            f"plugin {loaded.name!r} could not be registered: hook wrappers are not "
            f"supported ({impls.wrappers[0]!r})",
            plugin=loaded.name,
            distribution=loaded.distribution,
            key=key,
        )
    try:
        pm.register(impls, name=loaded.name)
    except (pluggy.PluginValidationError, ValueError) as exc:
        detail = _invalid_args(pm, loaded.plugin) or " ".join(str(exc).split())
        raise PluginLoadError(
            f"plugin {loaded.name!r} could not be registered: {detail}",
            plugin=loaded.name,
            distribution=loaded.distribution,
            cause=exc,
            key=key,
        ) from exc
    problem = _check_impls(pm, impls)
    if problem is not None:
        pm.unregister(impls)
        raise PluginLoadError(
            f"plugin {loaded.name!r} could not be registered: {problem}",
            plugin=loaded.name,
            distribution=loaded.distribution,
            key=key,
        )
    return impls


def _invalid_args(pm: pluggy.PluginManager, plugin: object) -> str | None:
    """Name the hook implementation that declares an argument its hook lacks, if any.

    pluggy's own message spans several lines; this one fits a config error.
    """
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    for attr in dir(plugin):
        opts = pm.parse_hookimpl_opts(plugin, attr)
        if opts is None:
            continue
        hook = opts.get("specname") or attr
        spec = getattr(getattr(pm.hook, hook, None), "spec", None)
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


def _check_impls(pm: pluggy.PluginManager, impls: PluginImpls) -> str | None:
    """What pluggy accepts but the host cannot honour, or ``None``."""
    for caller in pm.get_hookcallers(impls) or ():
        for impl in caller.get_hookimpls():
            if impl.plugin is not impls:
                continue
            if not caller.has_spec():
                if impl.optionalhook:
                    continue
                return (
                    f"{caller.name!r} is marked as a hook implementation but is not a "
                    f"cvibot hook (hooks: {', '.join(hook_names())})"
                )
            if caller.name == REGISTER_TOOLS and _is_async(original(impl.function)):
                return f"{REGISTER_TOOLS!r} must be a plain function, not async"
    return None


def _is_async(function: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)
