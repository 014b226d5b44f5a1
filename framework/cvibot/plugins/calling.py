"""Calling hooks through pluggy, each plugin with its own ``settings``.

pluggy passes every implementation the same arguments, but each plugin must see its
own ``settings``. So the host registers each plugin as a :class:`PluginImpls`: one
function per hook implementation, with the implementation's signature and hookimpl
options, that returns a :class:`HookCall` (the implementation with its arguments and
its plugin's ``settings`` bound) instead of running it. pluggy, called as it is
(``pm.hook.X(...)``, ``pm.subset_hook_caller``), decides who takes part, in which order
and with which arguments; :class:`HookRunner` then decides how each call runs: awaited
in turn, in a thread, or isolated so that one failure never stops the others.

A plugin registered on ``pm`` directly is wrapped the same way, with empty ``settings``
(:class:`HookManager`).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

import pluggy
import structlog

from cvibot.plugins import hookspecs
from cvibot.plugins.hookspecs import FIRST_RESULT_HOOKS, PROJECT_NAME
from cvibot.plugins.loading import EMPTY_SETTINGS
from cvibot.plugins.workers import HookWorkers, call_in_thread
from cvibot.tools.schema import is_async_callable

__all__ = ["HookCall", "HookManager", "HookRunner", "Observer", "PluginImpls"]

log = structlog.get_logger("cvibot.plugins")

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


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
    bound in a :class:`HookCall`, with the plugin's ``settings`` in their place."""
    try:
        params = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        params = ()  # type: ignore[assignment]
    # pluggy passes the positional parameters without a default, in order.
    names = [p.name for p in params if p.kind in _POSITIONAL and p.default is p.empty]
    at = names.index("settings") if "settings" in names else None
    is_async = is_async_callable(function)

    def defer(*args: Any) -> HookCall:
        if at is not None:
            args = (*args[:at], settings, *args[at + 1 :])
        return HookCall(hook, plugin_name, function, args, is_async)

    defer.__wrapped__ = function  # type: ignore[attr-defined]  # pluggy reads the argnames
    defer.__qualname__ = getattr(function, "__qualname__", defer.__qualname__)
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
        return super().register(plugin, name)


class HookRunner:
    """A pluggy manager with the cvibot hookspecs, and the settings of each plugin.

    ``pm`` is the pluggy manager; plugins registered on it without settings take part
    in every hook with empty ``settings``. Implementations run in pluggy's order:
    ``tryfirst`` ones, then the others from last registered to first, then ``trylast``
    ones (installed plugins nobody named are registered as ``trylast``).
    """

    def __init__(self) -> None:
        self.pm: pluggy.PluginManager = HookManager(PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self._settings: dict[str, Mapping[str, Any]] = {}

    def calls(self, hook: str, **kwargs: Any) -> list[Any]:
        """``pm.hook.<hook>(...)``: a :class:`HookCall` per implementation, in order.

        ``kwargs`` are the hook's arguments other than ``settings``. Raises
        :class:`ValueError` for an unknown hook and :class:`TypeError` for missing or
        unexpected arguments.
        """
        caller = self._caller(hook)
        _check_call(caller, kwargs)
        results: list[Any] = caller(settings=EMPTY_SETTINGS, **kwargs)
        return results

    async def call(self, hook: str, **kwargs: Any) -> list[Any]:
        """Call every implementation of ``hook`` and return the results that are not None.

        Implementations run one at a time in pluggy's order, an awaitable result awaited
        before the next one runs. For :func:`~cvibot.plugins.hookspecs.cvibot_respond_to_utterance`
        the call stops at the first result, so the list holds at most one item.

        Exceptions propagate: the caller decides whether a failing implementation is
        fatal. Raises as :meth:`calls` does.
        """
        first = hook in FIRST_RESULT_HOOKS
        results: list[Any] = []
        for call in self.calls(hook, **kwargs):
            result = await _run(call)
            if result is not None:
                results.append(result)
                if first:
                    break
        return results

    async def call_first(self, hook: str, *, in_thread: bool = False, **kwargs: Any) -> Any:
        """The first result of ``hook`` that is not None, or None when there is none.

        Implementations run one at a time in pluggy's order, each awaited before the
        next; the rest are not called. With ``in_thread``, a sync implementation runs in
        a thread of its own (:func:`~cvibot.plugins.workers.call_in_thread`), so a slow
        one cannot block the event loop. Arguments and errors as for :meth:`calls`.
        """
        for call in self.calls(hook, **kwargs):
            result = await _run(call, in_thread=in_thread)
            if result is not None:
                return result
        return None

    async def notify(
        self, hook: str, *, skip: Collection[str] = (), **kwargs: Any
    ) -> list[Exception]:
        """Call every implementation of ``hook``, isolating failures; return what they raised.

        For the hooks whose failures must never stop the bot (session start and end,
        shutdown): like :meth:`call`, but an exception is logged with the plugin's name
        (logger ``cvibot.plugins``, event ``"plugin hook raised"``) and the remaining
        implementations still run. Results are ignored. The list holds the exceptions in
        call order, empty when every implementation succeeded; cancellation propagates.
        The plugins named in ``skip`` take no part (``pm.subset_hook_caller``).
        Raises :class:`ValueError` / :class:`TypeError` as :meth:`calls` does.
        """
        caller = self._caller(hook)
        _check_call(caller, kwargs)
        if skip:
            removed = [p for p in map(self.pm.get_plugin, skip) if p is not None]
            caller = self.pm.subset_hook_caller(hook, removed)
        errors: list[Exception] = []
        for call in caller(settings=EMPTY_SETTINGS, **kwargs):
            try:
                await _run(call)
            except Exception as exc:
                log.exception("plugin hook raised", hook=hook, plugin=_plugin_of(call))
                errors.append(exc)
        return errors

    def observer(self, hook: str, workers: HookWorkers) -> Observer | None:
        """The per-event observer hook ``hook`` as one callable, or ``None`` when no
        plugin implements it (so the hot path skips it). See :class:`Observer`."""
        caller = self._caller(hook)
        return Observer(hook, caller, workers) if caller.get_hookimpls() else None

    def has_impls(self, hook: str) -> bool:
        """True if any plugin implements ``hook``. Raises :class:`ValueError` for an
        unknown hook."""
        return bool(self._caller(hook).get_hookimpls())

    def settings_for(self, plugin_name: str) -> Mapping[str, Any]:
        """The read-only settings of the named plugin; empty for a name the host did not load."""
        return self._settings.get(plugin_name, EMPTY_SETTINGS)

    def _caller(self, hook: str) -> pluggy.HookCaller:
        caller: pluggy.HookCaller | None = getattr(self.pm.hook, hook, None)
        if caller is None or not caller.has_spec():
            raise ValueError(f"unknown hook {hook!r} (hooks: {', '.join(hook_names())})")
        return caller


class Observer:
    """An observer hook (``cvibot_event``, ``cvibot_tool_outcome``) called through pluggy.

    Called with the hook's arguments other than ``settings``, it calls
    ``pm.hook.<hook>(...)`` and returns at once: each sync implementation is queued for
    its plugin's worker thread (:class:`~cvibot.plugins.workers.HookWorkers`); the
    ``async def`` ones come back as one awaitable (``None`` when there are none) that
    the caller runs as a task: each is awaited in a task of its own. An exception is
    logged (``"plugin observer raised"``, with the plugin), counted
    (:attr:`HookWorkers.failed <cvibot.plugins.workers.HookWorkers.failed>`) and never
    reaches the caller or the other observers. ``plugin_name`` and ``function`` describe
    the hook as a whole, for logs.
    """

    __slots__ = ("_caller", "_workers", "function", "hook", "plugin_name")

    def __init__(self, hook: str, caller: pluggy.HookCaller, workers: HookWorkers) -> None:
        self.hook = hook
        self._caller = caller
        self._workers = workers
        self.plugin_name: str | None = None
        self.function = self

    def __call__(self, **kwargs: Any) -> Awaitable[None] | None:
        pending: list[Any] = []
        for call in self._caller(settings=EMPTY_SETTINGS, **kwargs):
            if isinstance(call, HookCall):
                if call.is_async:
                    pending.append(call)
                else:
                    self._workers.submit(call.plugin_name, call, self.hook, _NO_ARGS)
            elif inspect.isawaitable(call):  # a plugin registered on pm directly
                pending.append(call)
        if not pending:
            return None
        if len(pending) == 1:
            return self._observed(pending[0])
        return self._observe_each(pending)

    async def _observe_each(self, pending: list[Any]) -> None:
        await asyncio.gather(*map(self._observed, pending))

    async def _observed(self, call: Any) -> None:
        try:
            await (call() if isinstance(call, HookCall) else call)
        except Exception:
            plugin = _plugin_of(call)
            self._workers.count_failure(plugin or "?")
            function = call.function if isinstance(call, HookCall) else call
            log.exception(
                "plugin observer raised",
                hook=self.hook,
                plugin=plugin,
                observer=getattr(function, "__qualname__", repr(function)),
            )

    def __repr__(self) -> str:
        return f"<Observer {self.hook}>"


_NO_ARGS: Mapping[str, Any] = EMPTY_SETTINGS


async def _run(call: Any, *, in_thread: bool = False) -> Any:
    """Run one item of a pluggy call's results and return its result, awaited."""
    if isinstance(call, HookCall):
        if in_thread and not call.is_async:
            return await call_in_thread(call)
        call = call()
    if inspect.isawaitable(call):
        return await call
    return call


def _plugin_of(call: Any) -> str | None:
    return call.plugin_name if isinstance(call, HookCall) else None


def _check_call(caller: pluggy.HookCaller, kwargs: Mapping[str, Any]) -> None:
    spec = caller.spec
    assert spec is not None  # _caller only returns hooks with a spec
    expected = set(spec.argnames) - {"settings"}
    missing = expected - kwargs.keys()
    unexpected = kwargs.keys() - expected
    if missing or unexpected:
        raise TypeError(
            f"{caller.name}() takes {', '.join(sorted(expected)) or 'no arguments'}"
            f" (settings is passed per plugin); missing: {sorted(missing)}, "
            f"unexpected: {sorted(unexpected)}"
        )


def hook_names() -> list[str]:
    """The names of the cvibot hooks, sorted, for error messages."""
    return sorted(name for name in hookspecs.__all__ if name.startswith("cvibot_"))
