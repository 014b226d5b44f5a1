"""The hooks a cvibot plugin may implement.

Implement a hook by defining a function of the same name, marked with
:data:`cvibot.plugins.hookimpl`, in a plugin module::

    from cvibot.plugins import hookimpl
    from cvibot._protocol.interactions import Echo

    @hookimpl
    async def cvibot_session_started(session, settings):
        await session.send(Echo(text=settings.get("greeting", "Hello!")))

Rules shared by every hook:

- An implementation may declare any subset of the hook's arguments, in any order; it
  receives only those it names (pluggy's rule). A name the hook does not have is a
  registration error.
- Every hook except :func:`cvibot_register_tools` may be a plain function or an
  ``async def``; the host awaits a result that is awaitable.
- ``settings`` is always the read-only ``settings`` mapping the config gives *that*
  plugin (``plugins: [{ref: ..., settings: {...}}]``), so each plugin sees its own;
  ``{}`` for a plugin the config does not name.
- Implementations run in pluggy's call order: last registered first, with ``tryfirst``
  and ``trylast`` respected; installed plugins nobody named (autoloaded) are registered
  ``trylast``, so they run after the plugins the config names and the built-ins.
  Wrappers (``wrapper=True`` / ``hookwrapper=True``) are not supported: the host runs
  each implementation on its own once pluggy has ordered them.
- Apart from :func:`cvibot_register_tools`, hooks run on the bot's event loop thread,
  except sync :func:`cvibot_event` / :func:`cvibot_tool_outcome` implementations (in
  their plugin's worker thread, :mod:`cvibot.plugins._workers`) and a sync
  :func:`cvibot_respond_to_utterance` (in a thread of its own). Other sync
  implementations run inline on the loop, so they must return quickly; blocking work
  belongs in an ``async def`` that awaits ``asyncio.to_thread(...)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from cvibot._protocol.events import Event, Utterance

__all__ = [
    "FIRST_RESULT_HOOKS",
    "PROJECT_NAME",
    "cvibot_event",
    "cvibot_register_tools",
    "cvibot_respond_to_utterance",
    "cvibot_session_ended",
    "cvibot_session_started",
    "cvibot_shutdown",
    "cvibot_startup",
    "cvibot_tool_outcome",
    "cvibot_webhook",
    "hookimpl",
    "hookspec",
]

PROJECT_NAME = "cvibot"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

#: Hooks whose first result that is not ``None`` wins: the rest are not called. Not
#: pluggy's ``firstresult``, because the host runs each implementation after pluggy
#: returned it (:mod:`cvibot.plugins._calling`), so that an ``async def`` one can pass.
FIRST_RESULT_HOOKS = frozenset({"cvibot_respond_to_utterance"})


@hookspec
def cvibot_register_tools(
    register: Callable[..., None], settings: Mapping[str, Any], base_dir: Path
) -> None:
    """Register this plugin's tools by calling ``register(obj, **options)`` once per tool.

    ``obj`` is a ``@tool``-decorated function, a plain function (made a tool with the
    ``tool()`` defaults) or a :class:`~cvibot.tools.ToolSpec`; ``options`` (for example
    ``name="lookup_order"``) override the spec's fields. Each registered tool is
    attributed to this plugin.

    Not needed for ``@tool`` functions defined at module level in a plugin module: the
    host finds those on its own. Use this hook for tools built at start-up, for example
    from ``settings``. ``base_dir`` is the absolute folder of the config file (the
    current directory when there is none): resolve relative paths of ``settings``
    against it.

    Runs once per plugin, synchronously, while the bot builds its tool set, before any
    conversation. It must be a plain function: an ``async def`` implementation is a
    load error. An exception (or a bad ``obj``) is a load error for a plugin the config
    names, and makes the host skip an autoloaded plugin with a warning. Raise
    :class:`~cvibot._errors.PluginSettingsError` for bad ``settings``: the error then
    points at the line and key of each bad setting in the config file.
    """


@hookspec
def cvibot_startup(bot: Any, settings: Mapping[str, Any]) -> None:
    """Prepare the plugin: open clients, warm caches, check credentials.

    ``bot`` is the runtime: ``bot.pipeline_mode`` is the conversation's pipeline mode
    and ``bot.tools`` the frozen ``Mapping[str, ToolSpec]`` the bot dispatches to.

    Runs once on the event loop, after the tools are collected and before the first
    event is handled. Return value is ignored. An exception is a start-up failure: the
    bot does not start.
    """


@hookspec
def cvibot_shutdown(bot: Any, settings: Mapping[str, Any]) -> None:
    """Release what :func:`cvibot_startup` acquired.

    Runs once on the event loop, after the last answer was sent. Return value is
    ignored. An exception is logged and the remaining implementations still run.
    """


@hookspec
def cvibot_session_started(session: Any, settings: Mapping[str, Any]) -> None:
    """Observe the start of a conversation.

    ``session.conversation_id`` identifies it; ``await session.send(interaction)`` sends
    an interaction to it (for example a greeting ``Echo``).

    Runs on the event loop once per conversation, before its first event is handled.
    Return value is ignored. An exception is logged and never stops the bot.
    """


@hookspec
def cvibot_session_ended(session: Any, settings: Mapping[str, Any]) -> None:
    """Observe the end of a conversation (the session passed to the start hook).

    Runs on the event loop once per conversation, after its last answer was sent;
    ``session.send`` may no longer reach anyone. Return value is ignored. An exception
    is logged and never stops the bot.
    """


@hookspec
def cvibot_event(event: Event, session: Any, settings: Mapping[str, Any]) -> None:
    """Observe every event the bot accepts, after decoding and deduplication.

    ``event`` is a :class:`~cvibot._protocol.events.Event`; ``session`` the conversation
    it belongs to. This is the hot path, called for every event: a sync implementation
    runs in its plugin's worker thread, in order (events past ``dispatch.observer_queue``
    queued ones are dropped for it, with a warning); an ``async def`` one is awaited in a
    task of its own on the loop. Neither holds up the event. Return value is ignored.
    An exception is logged and never stops the bot.
    """


@hookspec
def cvibot_tool_outcome(outcome: Any, session: Any, settings: Mapping[str, Any]) -> None:
    """Observe the terminal outcome of each tool call: its result, error, timeout or cancel.

    Runs once per tool call, after its answer was sent (or dropped): on the event loop
    for an ``async def``, in the plugin's worker thread for a sync implementation.
    Return value is ignored. An exception is logged and never stops the bot.

    For a call that came over ``delivery.api`` (``cvibot serve``'s ``POST
    /v1/tools/tavus``), ``session`` is a session with no room: its ``send`` raises
    :class:`~cvibot.serve._api_calls.NoRoom`.
    """


@hookspec
def cvibot_webhook(callback: Any, settings: Mapping[str, Any]) -> None:
    """Observe each conversation callback Tavus sends to ``cvibot serve``
    (``POST /v1/webhooks/tavus/{secret}``, protocol reference §9).

    ``callback`` is a :class:`~cvibot.serve.TavusCallback`: ``event_type``
    (``system.replica_joined``, ``system.pal_joined``, ``system.shutdown``,
    ``application.transcription_ready``, ``application.recording_ready``,
    ``application.perception_analysis``, … and types nobody documents, passed on as
    sent), ``conversation_id``, ``properties`` (``replica_id``, ``shutdown_reason``,
    ``transcript``, …), ``message_type``, ``timestamp`` and ``received_at``.

    Callbacks are not signed by Tavus: the secret in the path is all that vouches for
    them, and the same callback may arrive more than once. Act on what you can check
    (a transcript to store, say), and confirm anything else with the Tavus API.

    Runs once per well-formed callback, on the event loop, after cvibot has acted on it
    (joined or stopped the conversation); the HTTP answer does not wait for it. A sync
    implementation must return quickly (it runs on the loop): do slow work in an
    ``async def``. Return value is ignored. An exception is logged and never stops the
    host.
    """


@hookspec
def cvibot_respond_to_utterance(
    utterance: Utterance, session: Any, settings: Mapping[str, Any]
) -> str | None:
    """Answer a final user utterance with text the replica says verbatim.

    Only used under ``pipeline_mode: echo``, where Tavus runs no LLM of its own: the bot
    sends the returned text as a ``conversation.echo``. Return ``None`` to pass; the
    first implementation that returns anything else wins and the rest are not called
    (an empty string, or a value that is not a string, means silence). Implementations
    are asked in pluggy's order, last registered first: of the config's plugins, the
    one listed last is asked first.

    Runs once per final ``utterance`` of the user (a sync implementation in a thread of
    its own, so it cannot block the loop). An exception is
    logged, the utterance gets no answer, and the bot carries on.
    """
