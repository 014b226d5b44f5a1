"""Assembly: a :class:`Bot` is a config with its plugins and tools resolved, once.

Plugins and tools are resolved before the first event and then frozen: no hook lookup
or registry change happens on the hot path of a tool call.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from cvibot._dispatch import DispatchPolicy
from cvibot._dispatch.dispatcher import CallFence
from cvibot._dispatch.pool import ToolPool
from cvibot._errors import (
    ConfigError,
    CvibotError,
    DuplicateToolError,
    PluginLoadError,
    PluginSettingsError,
)
from cvibot._listening import SessionListener
from cvibot._participants import TrustPolicy
from cvibot._protocol.events import Utterance
from cvibot._session import Session
from cvibot._watchdog import LoopWatchdog, code_labels
from cvibot.config import LoadedConfig
from cvibot.plugins import PluginHost
from cvibot.plugins._binding import HookCall
from cvibot.plugins._observing import Observer
from cvibot.plugins._selection import PluginSelection
from cvibot.plugins._workers import HookWorkers
from cvibot.tools import ToolRegistry, ToolSpec
from cvibot.tools._options import ReplyMode
from cvibot.transports._base import Transport

__all__ = ["Bot", "PluginStartupError"]

# Seconds the observers' worker threads get at the end of a conversation to see the
# events queued for them; less when the bot was stopped (a signal), to exit in time.
_OBSERVER_FLUSH = 1.0
_OBSERVER_FLUSH_STOPPING = 0.2


class PluginStartupError(CvibotError):
    """A plugin's ``cvibot_startup`` hook raised, so the bot did not start.

    ``plugin`` names the plugin (as in ``plugins:``); ``cause`` is what it raised.
    """

    def __init__(self, plugin: str, cause: Exception) -> None:
        super().__init__(f"plugin {plugin!r} failed to start: {type(cause).__name__}: {cause}")
        self.plugin = plugin
        self.cause = cause


class Bot:
    """A bot ready to serve conversations.

    Build it with :meth:`from_config`; serve one conversation with :meth:`run`, several
    at once by running :meth:`run` concurrently (one transport each) on one event loop.
    The plugins' ``cvibot_startup`` runs when the first conversation starts and
    ``cvibot_shutdown`` after the last one ends; the thread pool for sync handlers
    (:attr:`pool`), the bound on waiting calls, the worker threads of sync observer hooks
    (:attr:`hook_workers`) and the event-loop :attr:`watchdog` are shared by the
    conversations running at once. :meth:`stop` leaves them all.
    ``tools`` maps tool names to their final :class:`ToolSpec` (config overrides applied).

    Plugins' sync ``cvibot_event`` and ``cvibot_tool_outcome`` implementations run in one
    worker thread per plugin, in order; a sync ``cvibot_respond_to_utterance`` runs in a
    thread of its own. Nothing the bot runs joins a thread that may be stuck.
    """

    def __init__(self, loaded: LoadedConfig, host: PluginHost, tools: ToolRegistry) -> None:
        self.loaded = loaded
        self.config = loaded.config
        self.host = host
        self.tools: Mapping[str, ToolSpec] = tools
        self.policy = DispatchPolicy.from_sections(
            defaults=self.config.defaults, dispatch=self.config.dispatch
        )
        self.trust: TrustPolicy = self.config.trust
        self.hook_workers = HookWorkers(self.policy.observer_queue)
        # Resolved once: the session skips a hook nobody implements.
        self._event_observers = _observers(host, "cvibot_event", self.hook_workers)
        self._outcome_observers = _observers(host, "cvibot_tool_outcome", self.hook_workers)
        self._has_responder = host.has_impls("cvibot_respond_to_utterance")
        self.watchdog: LoopWatchdog | None = None
        if self.policy.loop_warn_after is not None:
            hooks = [
                (name, impl.plugin_name, impl.function)
                for name in host.pm.hook.__dict__
                if name.startswith("cvibot_")
                for impl in getattr(host.pm.hook, name).get_hookimpls()
            ]
            self.watchdog = LoopWatchdog(
                self.policy.loop_warn_after, labels=code_labels(self.tools, hooks)
            )
        self._sessions: set[Session] = set()
        self._runs = 0
        self._started: asyncio.Future[None] | None = None
        self._executor: ToolPool | None = None
        self._stop_reason: str | None = None

    @property
    def pipeline_mode(self) -> str:
        return self.config.pipeline_mode

    @classmethod
    def from_config(
        cls,
        loaded: LoadedConfig,
        *,
        autoload: bool | None = None,
        builtins: Sequence[tuple[str, object]] = (),
        selection: PluginSelection | None = None,
    ) -> Bot:
        """Load the plugins, collect and check the tools.

        ``selection`` adds and blocks plugins beyond the config (``-p NAME``,
        ``-p no:NAME``); ``None`` reads only the environment. Installed plugins the
        config does not name are loaded as :meth:`PluginSelection.autoloads` decides:
        ``autoload`` ``True`` or ``False`` decides unless ``CVIBOT_DISABLE_PLUGIN_AUTOLOAD``
        is set; ``None`` leaves it to ``CVIBOT_PLUGINS_AUTOLOAD``, then to the config's
        ``plugins_autoload``.

        Raises :class:`ConfigError` (located at the config key where possible) for a
        plugin that cannot be loaded, a tool name registered twice, an override of a
        tool that does not exist, or a ``respond`` reply under ``pipeline_mode: echo``.
        """
        cfg = loaded.config
        select = PluginSelection.parse() if selection is None else selection
        try:
            host = PluginHost.load(
                cfg.plugins,
                base_dir=loaded.base_dir,
                autoload=select.autoloads(cfg.plugins_autoload, given=autoload),
                builtins=builtins,
                added=select.add,
                blocked=select.block,
            )
            # A failing cvibot_register_tools is a PluginLoadError too.
            registry = ToolRegistry.build(host.collect_tools())
        except PluginLoadError as exc:
            index = _plugin_index(exc.key)
            _locate(exc, loaded, index)
            if isinstance(exc.cause, PluginSettingsError) and index is not None:
                _locate_settings(exc, exc.cause, loaded, index)
            raise
        except DuplicateToolError as exc:
            # At the key the user can act on (see collect_tools), since the tool's name
            # need not appear in the file.
            _locate(exc, loaded, _plugin_index(exc.key))
            if exc.key == "plugins_autoload" and cfg.plugins_autoload:
                exc.line = loaded.error("", "plugins_autoload").line
            elif exc.key == "plugins_autoload":  # turned on outside the file
                exc.key = None
            raise
        overrides: dict[str, dict[str, Any]] = {}
        for name, override in cfg.tools.items():
            if name not in registry:
                known = ", ".join(sorted(registry)) or "none"
                raise loaded.error(f"no tool named {name!r} (known tools: {known})", "tools", name)
            overrides[name] = override.model_dump(exclude_none=True)
        registry = registry.apply_overrides(overrides)
        if cfg.pipeline_mode == "echo":
            for spec in registry.values():
                if spec.reply is ReplyMode.RESPOND:
                    where = (
                        ("tools", spec.name, "reply")
                        if "reply" in overrides.get(spec.name, {})
                        else ("pipeline_mode",)
                    )
                    raise loaded.error(
                        f"tool {spec.name!r} (plugin {spec.plugin}) replies with 'respond', "
                        "which needs Tavus's LLM; pipeline_mode: echo turns it off",
                        *where,
                    )
        return cls(loaded, host, registry)

    async def _respond(self, utterance: Utterance, session: Session) -> str | None:
        result = await self.host.call_first(
            "cvibot_respond_to_utterance", in_thread=True, utterance=utterance, session=session
        )
        return result if isinstance(result, str) else None

    async def run(
        self,
        transport: Transport,
        *,
        listeners: Sequence[SessionListener] = (),
        grace: float | None = None,
        conversation_id: str | None = None,
        call_fence: CallFence | None = None,
    ) -> Session:
        """Serve one conversation on ``transport`` until it ends; return the session.

        The conversation ends when the transport's stream ends, a ``system.shutdown``
        arrives or the replica leaves; the bot leaves it on :meth:`stop`. Running calls
        then get ``grace`` seconds (default ``dispatch.shutdown_grace``) to finish before
        they are cancelled; every call is answered either way. ``conversation_id``
        (default ``conversation.id`` of the config) is the conversation served: events
        of others are dropped; ``None`` takes it from the first trusted event.
        ``listeners`` are the framework's own inline observers of this conversation
        (the transcript, the fake conversation: :mod:`cvibot._listening`), not a plugin
        API: plugins observe through hooks.
        ``call_fence`` (``cvibot serve``) is asked before each call's handler runs and
        before an answer is sent: ``False`` and the call is not this host's to answer
        (outcome ``fenced``, nothing sent; see :mod:`cvibot._dispatch.dispatcher`).
        Raises :class:`cvibot.transports.TransportError` when the transport fails, and
        :class:`PluginStartupError` (the plugin's exception as its ``cause``) when a
        plugin's ``cvibot_startup`` hook raises: the bot then does not start.
        """
        grace = self.policy.shutdown_grace if grace is None else grace
        async with self.active():
            try:
                await transport.open()
                session = self.open_session(
                    transport,
                    conversation_id=conversation_id or self.config.conversation.id,
                    listeners=listeners,
                    call_fence=call_fence,
                )
                self._sessions.add(session)
                if self._stop_reason is not None:
                    session.stop(self._stop_reason)
                try:
                    await self.host.notify("cvibot_session_started", session=session)
                    await self._serve(transport, session, grace)
                    # The session's events reach the observers before its end does.
                    await self.hook_workers.flush(self._flush_time())
                    await self.host.notify("cvibot_session_ended", session=session)
                finally:
                    self._sessions.discard(session)
            finally:
                await transport.close()
        return session

    @contextlib.asynccontextmanager
    async def active(self) -> AsyncIterator[None]:
        """Hold the bot started while the block runs: the plugins' ``cvibot_startup`` has
        run (once, for the first holder) and the sync handlers' pool is up; after the
        last holder leaves, ``cvibot_shutdown`` runs and the pool closes.

        :meth:`run` holds it for each conversation; a caller that runs tool calls with
        no room (``cvibot serve``'s ``delivery.api`` receiver) holds it around each
        call, and a long-lived host holds it for its whole life so the plugins are not
        started and shut down around every call. Raises :class:`PluginStartupError`
        as :meth:`run` does.
        """
        self._runs += 1
        if self.watchdog is not None:
            self.watchdog.start()  # idempotent: the first holder starts it
        try:
            await self._start()
            yield
        finally:
            self._runs -= 1
            if self._runs == 0:
                await self._finish()

    def open_session(
        self,
        transport: Transport,
        *,
        conversation_id: str | None,
        listeners: Sequence[SessionListener] = (),
        tools: Mapping[str, ToolSpec] | None = None,
        policy: DispatchPolicy | None = None,
        call_fence: CallFence | None = None,
    ) -> Session:
        """A :class:`Session` wired to this bot: its tools, policy, sync pool, plugin
        settings, observers and responder. Call it inside :meth:`active`.

        :meth:`run` uses it for a room; ``tools`` and ``policy`` replace the bot's for a
        session that dispatches differently (the ``delivery.api`` receiver caps the
        timeouts and answers every call as a result). The session's transport is not
        opened here, and no session hook runs.
        """
        return Session(
            transport=transport,
            tools=self.tools if tools is None else tools,
            policy=self.policy if policy is None else policy,
            executor=self._pool(),
            pipeline_mode=self.pipeline_mode,
            conversation_id=conversation_id,
            settings_for=self._settings_for,
            event_observers=self._event_observers,
            outcome_observers=self._outcome_observers,
            responder=self._respond if self._has_responder else None,
            listeners=tuple(listeners),
            trust=self.trust,
            call_fence=call_fence,
        )

    def stop(self, reason: str = "stopped") -> int:
        """Leave every conversation being served: no new calls (they are answered with a
        shutdown error), running calls get the grace period, then each transport closes.
        Conversations that start later are left at once. Returns how many were running."""
        self._stop_reason = reason
        for session in list(self._sessions):
            session.stop(reason)
        return len(self._sessions)

    async def _start(self) -> None:
        """Run the plugins' ``cvibot_startup`` once, for the first conversation; later
        ones wait for it (and fail with it)."""
        if self._started is not None:
            await asyncio.shield(self._started)
            return
        self._started = asyncio.get_running_loop().create_future()
        startups = self.host.calls("cvibot_startup", bot=self)
        for index, call in enumerate(startups):
            try:
                started = call() if isinstance(call, HookCall) else call
                if inspect.isawaitable(started):
                    await started
            except Exception as exc:
                # Plugins that started get their shutdown; this one and those after it
                # never started, so they do not.
                rest = {c.plugin_name for c in startups[index:] if isinstance(c, HookCall)}
                await self.host.notify("cvibot_shutdown", skip=rest, bot=self)
                plugin = call.plugin_name if isinstance(call, HookCall) else "?"
                error = PluginStartupError(plugin, exc)
                self._started.set_exception(error)
                self._started.exception()  # retrieved: later runs re-raise it themselves
                self._started = None
                raise error from exc
        self._started.set_result(None)

    @property
    def pool(self) -> ToolPool | None:
        """The threads of sync handlers while a conversation is served, else ``None``."""
        return self._executor

    async def _finish(self) -> None:
        # Never joins: a handler or observer stuck in its thread is left behind (daemon
        # threads), so the process can still exit within the grace.
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        # Observers see what was queued for them before the plugins shut down.
        await self.hook_workers.close(self._flush_time())
        try:
            if self._started is not None and self._started.done() and not self._started.exception():
                self._started = None
                await self.host.notify("cvibot_shutdown", bot=self)
        finally:
            if self.watchdog is not None and self._runs == 0:
                self.watchdog.stop()

    def _flush_time(self) -> float:
        return _OBSERVER_FLUSH if self._stop_reason is None else _OBSERVER_FLUSH_STOPPING

    def _pool(self) -> ToolPool:
        if self._executor is None:
            policy = self.policy
            self._executor = ToolPool(policy.sync_workers, policy.max_sync_threads)
        return self._executor

    async def _serve(self, transport: Transport, session: Session, grace: float) -> None:
        feed = asyncio.create_task(transport.run(session))
        ended = asyncio.create_task(session.ended.wait())
        stopping = asyncio.create_task(session.stopping.wait())
        try:
            await asyncio.wait({feed, ended, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if session.stopping.is_set() and not feed.done():
                # The bot leaves a conversation that goes on: keep receiving, so calls
                # that arrive during the drain are answered (with a shutdown error).
                await session.drain(grace)
        finally:
            ended.cancel()
            stopping.cancel()
            if not feed.done():
                # Stop delivering, but leave the transport open: calls still running get
                # their answers during the drain, and run() closes it afterwards.
                feed.cancel()
        try:
            await feed
        except asyncio.CancelledError:
            if not (session.closed or session.stopping.is_set()):
                raise
        except BaseException:
            # The transport failed: nothing more can be answered, so running calls are
            # cancelled now (each still ends with its outcome) rather than after the grace.
            await session.drain(0)
            raise
        await session.drain(grace)

    def _settings_for(self, plugin: str | None) -> Mapping[str, Any]:
        return self.host.settings_for(plugin) if plugin else {}


def _observers(host: PluginHost, hook: str, workers: HookWorkers) -> tuple[Observer, ...]:
    observer = host.observer(hook, workers)
    return () if observer is None else (observer,)


def _locate(exc: ConfigError, loaded: LoadedConfig, index: int | None) -> None:
    """Point ``exc`` at the config file and, given an index, at ``plugins[index]``;
    values that came from ``${VAR}`` are written ``${VAR}`` in its message."""
    exc.file = str(loaded.path)
    exc.message = loaded.redact(exc.message)
    exc.args = (exc.message,)
    if index is not None:
        located = loaded.error(exc.message, "plugins", index)
        exc.line, exc.key = located.line, located.key


def _locate_settings(
    exc: PluginLoadError, cause: PluginSettingsError, loaded: LoadedConfig, index: int
) -> None:
    """Point ``exc`` at the first bad setting's key and line, and list every problem."""
    prefix = ("plugins", index, "settings")
    located = loaded.error("", *prefix, *cause.key_path())
    exc.line, exc.key = located.line, located.key
    first, *others = cause.problems
    message = f"{first[1]} (plugin {exc.plugin!r})"
    for key, problem in others:
        where = loaded.error("", *prefix, *PluginSettingsError.parse_key(key)).key
        message += f"; {where}: {problem}"
    exc.message = loaded.redact(message)
    exc.args = (exc.message,)


def _plugin_index(key: str | None) -> int | None:
    # PluginLoadError keys look like "plugins[3]".
    if key and key.startswith("plugins[") and key.endswith("]"):
        try:
            return int(key[len("plugins[") : -1])
        except ValueError:
            return None
    return None
