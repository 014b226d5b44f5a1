"""Calling hooks through pluggy as it is, and running the calls it hands back.

Each plugin is registered as its :class:`~cvibot.plugins._binding.PluginImpls`, so
``pm.hook.X(...)`` returns one :class:`~cvibot.plugins._binding.HookCall` per
implementation, in pluggy's order, with the plugin's ``settings`` bound.
:class:`HookRunner` runs them: awaited in turn (:meth:`~HookRunner.call`), up to the
first result (:meth:`~HookRunner.call_first`), or each isolated from the others'
failures (:meth:`~HookRunner.notify`, which skips plugins through
``pm.subset_hook_caller``). Per-event observers are :mod:`cvibot.plugins._observing`.
"""

from __future__ import annotations

import inspect
from collections.abc import Collection, Mapping
from typing import Any

import pluggy
import structlog

from cvibot.plugins import _hookspecs as hookspecs
from cvibot.plugins._binding import HookCall, HookManager
from cvibot.plugins._hookspecs import FIRST_RESULT_HOOKS, PROJECT_NAME
from cvibot.plugins._loading import EMPTY_SETTINGS
from cvibot.plugins._observing import Observer
from cvibot.plugins._workers import HookWorkers, call_in_thread

__all__ = ["HookRunner"]

log = structlog.get_logger("cvibot.plugins")


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
        before the next one runs. For :func:`~cvibot.plugins._hookspecs.cvibot_respond_to_utterance`
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
        a thread of its own (:func:`~cvibot.plugins._workers.call_in_thread`), so a slow
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
