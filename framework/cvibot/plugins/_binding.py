"""Binding plugins for pluggy: each implementation with its plugin's ``settings``.

pluggy passes every implementation the same arguments, but each plugin must see its
own ``settings``. So the host registers each plugin as a :class:`PluginImpls`: one
function per hook implementation, with the implementation's signature (through
``__wrapped__``) and hookimpl options, that returns a :class:`HookCall` (the
implementation with its arguments and its plugin's ``settings`` bound) instead of
running it. pluggy, called as it is, then decides who takes part, in which order and
with which arguments; :mod:`cvibot.plugins._calling` and :mod:`cvibot.plugins._observing`
decide how each call runs. :class:`HookManager` wraps a plugin registered as it is the
same way, with empty ``settings``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import pluggy

from cvibot.plugins._hookspecs import PROJECT_NAME
from cvibot.plugins._loading import EMPTY_SETTINGS
from cvibot.tools._schema import is_async_callable

__all__ = ["HookCall", "HookManager", "PluginImpls", "original"]


class HookCall:
    """One hook implementation with its arguments bound, not yet run.

    ``hook`` is the hook's name, ``plugin_name`` and ``function`` say whose code it is
    (for logs and the loop watchdog). Calling it runs the implementation and returns
    what it returns (a coroutine for an ``async def``, which the caller awaits).
    """

    __slots__ = ("args", "function", "hook", "is_async", "plugin_name")

    def __init__(
        self,
        hook: str,
        plugin_name: str,
        function: Callable[..., Any],
        args: tuple[Any, ...],
        is_async: bool,
    ) -> None:
        self.hook = hook
        self.plugin_name = plugin_name
        self.function = function
        self.args = args
        self.is_async = is_async

    def __call__(self) -> Any:
        return self.function(*self.args)

    def __repr__(self) -> str:
        qualname = getattr(self.function, "__qualname__", repr(self.function))
        return f"<HookCall {self.hook} {self.plugin_name}:{qualname}>"


class PluginImpls:
    """What the host registers with pluggy for one plugin.

    For each hook implementation of ``plugin`` (found as pluggy finds them), an attribute
    of the same name holds a function that pluggy sees as that implementation (same
    argument names through ``__wrapped__``, same hookimpl options) and that returns a
    :class:`HookCall` with ``settings`` bound. With ``last``, every implementation is
    marked ``trylast`` (and not ``tryfirst``): installed plugins nobody named are asked
    after the others. ``plugin`` is the plugin object as loaded (usually the module).
    """

    def __init__(
        self,
        plugin: object,
        name: str,
        settings: Mapping[str, Any],
        pm: pluggy.PluginManager,
        *,
        last: bool = False,
    ) -> None:
        self.plugin = plugin
        self.name = name
        #: The hooks ``plugin`` implements as a wrapper, which the host cannot run (it
        #: runs each implementation on its own); they are left out.
        self.wrappers: list[str] = []
        for attr in dir(plugin):
            opts = pm.parse_hookimpl_opts(plugin, attr)
            if opts is None:
                continue
            if opts.get("wrapper") or opts.get("hookwrapper"):
                self.wrappers.append(opts.get("specname") or attr)
                continue
            marked = dict(opts)
            if last:
                marked.update(tryfirst=False, trylast=True)
            hook = opts.get("specname") or attr
            setattr(self, attr, _deferred(getattr(plugin, attr), hook, name, settings, marked))

    def __repr__(self) -> str:
        return f"<PluginImpls {self.name}: {self.plugin!r}>"


def _deferred(
    function: Callable[..., Any],
    hook: str,
    plugin_name: str,
    settings: Mapping[str, Any],
    opts: Mapping[str, Any],
) -> Callable[..., HookCall]:
    """``function`` as pluggy should see it: called with its arguments, it returns them
    bound in a :class:`HookCall`, with the plugin's ``settings`` in their place.

    Where ``settings`` is among the arguments is set once pluggy has read them
    (:meth:`HookManager.register`), so that it agrees with pluggy's reading."""
    is_async = is_async_callable(function)
    at: list[int | None] = [None]  # the index of settings in pluggy's argnames

    def defer(*args: Any) -> HookCall:
        i = at[0]
        if i is not None:
            args = (*args[:i], settings, *args[i + 1 :])
        return HookCall(hook, plugin_name, function, args, is_async)

    defer.__wrapped__ = function  # type: ignore[attr-defined]  # pluggy reads the argnames
    defer.__qualname__ = getattr(function, "__qualname__", defer.__qualname__)
    defer.settings_at = at  # type: ignore[attr-defined]
    setattr(defer, f"{PROJECT_NAME}_impl", dict(opts))
    return defer


def original(function: Callable[..., Any]) -> Callable[..., Any]:
    """The plugin's own function behind a hook implementation pluggy holds."""
    unwrapped: Callable[..., Any] = inspect.unwrap(function)
    return unwrapped


class HookManager(pluggy.PluginManager):
    """pluggy's plugin manager, with each plugin held as its :class:`PluginImpls`.

    The host registers plugins as :class:`PluginImpls` with their settings; a plugin
    registered here as it is (``pm.register(obj, name=...)``) is wrapped the same way
    with empty ``settings``, so that every plugin gets the host's guarantees (awaited,
    off the loop, isolated). ``get_plugin(name).plugin`` is the object registered.
    Raises :class:`ValueError` for a plugin with a hook wrapper, which the host cannot
    run, as for any other registration error.
    """

    def register(self, plugin: object, name: str | None = None) -> str | None:
        if plugin is not None and not isinstance(plugin, PluginImpls):
            name = name or self.get_canonical_name(plugin)
            impls = PluginImpls(plugin, name, EMPTY_SETTINGS, self)
            if impls.wrappers:
                raise ValueError(f"hook wrappers are not supported ({impls.wrappers[0]!r})")
            plugin = impls
        registered = super().register(plugin, name)
        if isinstance(plugin, PluginImpls):
            for caller in self.get_hookcallers(plugin) or ():
                for impl in caller.get_hookimpls():
                    at = getattr(impl.function, "settings_at", None)
                    if impl.plugin is plugin and at is not None:
                        names = impl.argnames
                        at[0] = names.index("settings") if "settings" in names else None
        return registered
