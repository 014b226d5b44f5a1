"""Calling hooks: each implementation on its own, with its own plugin's ``settings``.

Hooks are called here, not by pluggy, so that an awaitable result is awaited (``async
def`` implementations work) and each plugin sees only its own settings.
:class:`HookRunner` holds the pluggy manager and the settings per plugin name;
:class:`~cvibot.plugins.PluginHost` builds on it. Nothing here is meant for the
per-tool-call path: per-event observers are resolved once by :meth:`HookRunner.observers`
(and moved off the event loop by :class:`~cvibot.plugins.workers.HookWorkers`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import pluggy
import structlog

from cvibot.plugins import hookspecs
from cvibot.plugins.hookspecs import PROJECT_NAME
from cvibot.plugins.loading import EMPTY_SETTINGS
from cvibot.plugins.workers import call_in_thread
from cvibot.tools.schema import is_async_callable

__all__ = ["BoundImpl", "HookRunner"]

log = structlog.get_logger("cvibot.plugins")


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


class HookRunner:
    """A pluggy manager with the cvibot hookspecs, and the settings of each plugin.

    ``pm`` is the pluggy manager; plugins registered on it without settings take part
    in every hook with empty ``settings``.
    """

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self._settings: dict[str, Mapping[str, Any]] = {}
        # Plugins nobody named (autoloaded): their implementations run after the others.
        self._unnamed: set[str] = set()
        self._observers: dict[str, tuple[list[pluggy.HookImpl], tuple[BoundImpl, ...]]] = {}

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

    async def call_first(self, hook: str, *, in_thread: bool = False, **kwargs: Any) -> Any:
        """The first result of ``hook`` that is not None, or None when there is none.

        Implementations run one at a time in pluggy's order, each awaited before the
        next; the rest are not called. With ``in_thread``, a sync implementation runs in
        a thread of its own (:func:`~cvibot.plugins.workers.call_in_thread`), so a slow
        one cannot block the event loop. Arguments and errors as for :meth:`call`.
        """
        self._check_call(hook, kwargs)
        for impl in self.observers(hook):
            if in_thread and not is_async_callable(impl.function):
                result = await call_in_thread(impl, **kwargs)
            else:
                result = impl(**kwargs)
            if inspect.isawaitable(result):
                result = await result
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
        Implementations of the plugins named in ``skip`` are not called.
        Raises :class:`ValueError` / :class:`TypeError` as :meth:`call` does.
        """
        self._check_call(hook, kwargs)
        errors: list[Exception] = []
        for impl in self.observers(hook):
            if impl.plugin_name in skip:
                continue
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
        order (``tryfirst`` ones, then the others from last registered to first, then
        ``trylast`` ones), except that installed plugins nobody named come after all the
        others: a plugin the config names answers :func:`cvibot_respond_to_utterance`
        before one that merely is installed. The tuple is cached until the
        implementations change.

        Raises :class:`ValueError` for an unknown hook.
        """
        impls = self._caller(hook).get_hookimpls()
        cached = self._observers.get(hook)
        if cached is not None and cached[0] == impls:
            return cached[1]
        ordered = [i for i in reversed(impls) if not (i.wrapper or i.hookwrapper)]
        ordered.sort(key=lambda impl: impl.plugin_name in self._unnamed)  # stable
        bound = tuple(self.bind(impl) for impl in ordered)
        self._observers[hook] = (impls, bound)
        return bound

    def settings_for(self, plugin_name: str) -> Mapping[str, Any]:
        """The read-only settings of the named plugin; empty for a name the host did not load."""
        return self._settings.get(plugin_name, EMPTY_SETTINGS)

    def bind(self, impl: pluggy.HookImpl) -> BoundImpl:
        """``impl`` with the settings of its plugin bound."""
        return BoundImpl(
            impl.function, impl.argnames, impl.plugin_name, self.settings_for(impl.plugin_name)
        )

    def _caller(self, hook: str) -> pluggy.HookCaller:
        caller: pluggy.HookCaller | None = getattr(self.pm.hook, hook, None)
        if caller is None or not caller.has_spec():
            raise ValueError(f"unknown hook {hook!r} (hooks: {', '.join(hook_names())})")
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


def hook_names() -> list[str]:
    """The names of the cvibot hooks, sorted, for error messages."""
    return sorted(name for name in hookspecs.__all__ if name.startswith("cvibot_"))
