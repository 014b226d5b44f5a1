"""Assembly: a :class:`Bot` is a config with its plugins and tools resolved, once.

Plugins and tools are resolved before the first event and then frozen: no hook lookup
or registry change happens on the hot path of a tool call.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cvibot.config import LoadedConfig
from cvibot.dispatch import DispatchPolicy
from cvibot.errors import ConfigError, CvibotError, DuplicateToolError, PluginLoadError
from cvibot.plugins import PluginHost
from cvibot.protocol.events import Utterance
from cvibot.session import Session, SessionListener
from cvibot.tools import ToolRegistry, ToolSpec
from cvibot.tools.options import ReplyMode
from cvibot.transports.base import Transport

__all__ = ["Bot", "PluginStartupError"]


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

    Build it with :meth:`from_config`; serve one conversation with :meth:`run`.
    ``tools`` maps tool names to their final :class:`ToolSpec` (config overrides applied).
    """

    def __init__(self, loaded: LoadedConfig, host: PluginHost, tools: ToolRegistry) -> None:
        self.loaded = loaded
        self.config = loaded.config
        self.host = host
        self.tools: Mapping[str, ToolSpec] = tools
        defaults = self.config.defaults
        dispatch = self.config.dispatch
        self.policy = DispatchPolicy(
            default_reply=defaults.reply,
            perception_reply=defaults.perception_reply,
            default_timeout=defaults.timeout,
            cancel_on_interrupt=defaults.cancel_on_interrupt,
            max_concurrent_calls=dispatch.max_concurrent_calls,
            message_limit=dispatch.message_limit,
            on_oversize=dispatch.on_oversize,
        )
        self._event_observers = host.observers("cvibot_event")
        self._outcome_observers = host.observers("cvibot_tool_outcome")
        self._has_responder = bool(host.pm.hook.cvibot_respond_to_utterance.get_hookimpls())

    @property
    def pipeline_mode(self) -> str:
        return self.config.pipeline_mode

    @classmethod
    def from_config(
        cls,
        loaded: LoadedConfig,
        *,
        autoload: bool = True,
        builtins: Sequence[tuple[str, object]] = (),
    ) -> Bot:
        """Load the plugins, collect and check the tools.

        Raises :class:`ConfigError` (located at the config key where possible) for a
        plugin that cannot be loaded, a tool name registered twice, an override of a
        tool that does not exist, or a ``respond`` reply under ``pipeline_mode: echo``.
        """
        cfg = loaded.config
        try:
            host = PluginHost.load(
                cfg.plugins, base_dir=loaded.base_dir, autoload=autoload, builtins=builtins
            )
            # A failing cvibot_register_tools is a PluginLoadError too.
            registry = ToolRegistry.build(host.collect_tools())
        except PluginLoadError as exc:
            _locate(exc, loaded, _plugin_index(exc.key))
            raise
        except DuplicateToolError as exc:
            # At the config entry of the plugin that brought the second tool (else the
            # first one's), since the tool's name need not appear in the file.
            refs = [entry.ref for entry in cfg.plugins]
            plugin = next((p for p in (exc.second_plugin, exc.first_plugin) if p in refs), None)
            _locate(exc, loaded, refs.index(plugin) if plugin is not None else None)
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
            "cvibot_respond_to_utterance", utterance=utterance, session=session
        )
        return result if isinstance(result, str) else None

    async def run(
        self,
        transport: Transport,
        *,
        listeners: Sequence[SessionListener] = (),
        grace: float | None = None,
    ) -> Session:
        """Serve one conversation on ``transport`` until it ends; return the session.

        The conversation ends when the transport's stream ends or a ``system.shutdown``
        arrives. Running calls then get ``grace`` seconds (default: the default tool
        timeout) to finish before they are cancelled; every call is answered either way.
        Raises :class:`cvibot.transports.TransportError` when the transport fails, and
        :class:`PluginStartupError` (the plugin's exception as its ``cause``) when a
        plugin's ``cvibot_startup`` hook raises: the bot then does not start.
        """
        grace = self.policy.default_timeout if grace is None else grace
        startups = self.host.observers("cvibot_startup")
        for index, impl in enumerate(startups):
            try:
                started = impl(bot=self)
                if inspect.isawaitable(started):
                    await started
            except Exception as exc:
                # Plugins that started get their shutdown; this one and those after it
                # never started, so they do not.
                await self.host.notify(
                    "cvibot_shutdown", skip={i.plugin_name for i in startups[index:]}, bot=self
                )
                raise PluginStartupError(impl.plugin_name, exc) from exc
        executor = ThreadPoolExecutor(
            max_workers=self.config.dispatch.sync_workers, thread_name_prefix="cvibot-tool"
        )
        try:
            await transport.open()
            session = Session(
                transport=transport,
                tools=self.tools,
                policy=self.policy,
                executor=executor,
                pipeline_mode=self.pipeline_mode,
                conversation_id=self.config.conversation.id,
                settings_for=self._settings_for,
                event_observers=self._event_observers,
                outcome_observers=self._outcome_observers,
                responder=self._respond if self._has_responder else None,
                listeners=tuple(listeners),
            )
            try:
                await self.host.notify("cvibot_session_started", session=session)
                await self._serve(transport, session)
                await session.drain(grace)
                await self.host.notify("cvibot_session_ended", session=session)
            finally:
                await transport.close()
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
            await self.host.notify("cvibot_shutdown", bot=self)
        return session

    async def _serve(self, transport: Transport, session: Session) -> None:
        feed = asyncio.create_task(transport.run(session))
        ended = asyncio.create_task(session.ended.wait())
        try:
            await asyncio.wait({feed, ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()
        if not feed.done():
            # system.shutdown: stop delivering, but leave the transport open: calls still
            # running get their answers during the drain, and run() closes it afterwards.
            feed.cancel()
        try:
            await feed
        except asyncio.CancelledError:
            if not session.closed:
                raise

    def _settings_for(self, plugin: str | None) -> Mapping[str, Any]:
        return self.host.settings_for(plugin) if plugin else {}


def _locate(exc: ConfigError, loaded: LoadedConfig, index: int | None) -> None:
    """Point ``exc`` at the config file and, given an index, at ``plugins[index]``."""
    exc.file = str(loaded.path)
    if index is not None:
        located = loaded.error(exc.message, "plugins", index)
        exc.line, exc.key = located.line, located.key


def _plugin_index(key: str | None) -> int | None:
    # PluginLoadError keys look like "plugins[3]".
    if key and key.startswith("plugins[") and key.endswith("]"):
        try:
            return int(key[len("plugins[") : -1])
        except ValueError:
            return None
    return None
