"""Per-event observer hooks, called through pluggy without holding up the event.

:class:`Observer` is what the session calls for ``cvibot_event`` and
``cvibot_tool_outcome``: pluggy's call, then each sync implementation queued for its
plugin's worker thread (:mod:`cvibot.plugins._workers`) and the ``async def`` ones handed
back as one awaitable. The bot resolves one per hook once, and none for a hook no plugin
implements, so a bot without observers pays nothing per event.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Mapping
from typing import Any

import pluggy
import structlog

from cvibot.plugins._binding import HookCall
from cvibot.plugins._loading import EMPTY_SETTINGS
from cvibot.plugins._workers import HookWorkers

__all__ = ["Observer"]

log = structlog.get_logger("cvibot.plugins")

# What a queued call is given: its arguments are bound in the HookCall.
_NO_ARGS: Mapping[str, Any] = EMPTY_SETTINGS


class Observer:
    """An observer hook (``cvibot_event``, ``cvibot_tool_outcome``) called through pluggy.

    Called with the hook's arguments other than ``settings``, it calls
    ``pm.hook.<hook>(...)`` and returns at once: each sync implementation is queued for
    its plugin's worker thread (:class:`~cvibot.plugins._workers.HookWorkers`); the
    ``async def`` ones come back as one awaitable (``None`` when there are none) that
    the caller runs as a task: each is awaited in a task of its own. An exception is
    logged (``"plugin observer raised"``, with the plugin), counted
    (:attr:`HookWorkers.failed <cvibot.plugins._workers.HookWorkers.failed>`) and never
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
            plugin = call.plugin_name if isinstance(call, HookCall) else None
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
