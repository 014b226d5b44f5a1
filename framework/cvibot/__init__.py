"""cvibot: bots that answer the tool calls of Tavus CVI conversations.

The public surface, imported lazily so that ``cvibot --help`` does not pay for pydantic::

    from cvibot import tool, ToolContext, ToolError, hookimpl
    from cvibot import Echo, Respond, AppendContext, ToolResult  # explicit interactions

The other public packages: :mod:`cvibot.testing` (the fake conversation),
:mod:`cvibot.tools` (tools built at run time), :mod:`cvibot.plugins` (the hooks),
:mod:`cvibot.config` (the config file, from code), :mod:`cvibot.transports` (writing a
transport, the Daily transport and its errors), :mod:`cvibot.tavus` (the REST API client)
and :mod:`cvibot.serve` (the host's backend contract). Every other module is private
(its name, or its package's, starts with ``_``) and may change without notice.
"""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from cvibot._context import ToolContext
    from cvibot._dispatch import ToolOutcome
    from cvibot._errors import (
        ConfigError,
        CvibotError,
        DuplicateToolError,
        PluginLoadError,
        PluginSettingsError,
        SyncError,
        ToolDefinitionError,
        ToolError,
    )
    from cvibot._protocol.events import Event, ToolCall, Utterance
    from cvibot._protocol.interactions import (
        AppendContext,
        Echo,
        Interrupt,
        MessageTooLarge,
        OverwriteContext,
        Respond,
        Sensitivity,
        ToolResult,
    )
    from cvibot._runtime import Bot, PluginStartupError
    from cvibot._session import Session
    from cvibot.plugins import hookimpl
    from cvibot.tavus._api_errors import TavusAPIError
    from cvibot.tools import ReplyMode, ToolSpec, tool
    from cvibot.transports._base import TransportError

__all__ = [
    "AppendContext",
    "Bot",
    "ConfigError",
    "CvibotError",
    "DuplicateToolError",
    "Echo",
    "Event",
    "Interrupt",
    "MessageTooLarge",
    "OverwriteContext",
    "PluginLoadError",
    "PluginSettingsError",
    "PluginStartupError",
    "ReplyMode",
    "Respond",
    "Sensitivity",
    "Session",
    "SyncError",
    "TavusAPIError",
    "ToolCall",
    "ToolContext",
    "ToolDefinitionError",
    "ToolError",
    "ToolOutcome",
    "ToolResult",
    "ToolSpec",
    "TransportError",
    "Utterance",
    "__version__",
    "hookimpl",
    "tool",
]

_HOMES = {
    "AppendContext": "cvibot._protocol.interactions",
    "Bot": "cvibot._runtime",
    "ConfigError": "cvibot._errors",
    "CvibotError": "cvibot._errors",
    "DuplicateToolError": "cvibot._errors",
    "Echo": "cvibot._protocol.interactions",
    "Event": "cvibot._protocol.events",
    "Interrupt": "cvibot._protocol.interactions",
    "MessageTooLarge": "cvibot._protocol.interactions",
    "OverwriteContext": "cvibot._protocol.interactions",
    "PluginLoadError": "cvibot._errors",
    "PluginSettingsError": "cvibot._errors",
    "PluginStartupError": "cvibot._runtime",
    "ReplyMode": "cvibot.tools",
    "Respond": "cvibot._protocol.interactions",
    "Sensitivity": "cvibot._protocol.interactions",
    "Session": "cvibot._session",
    "SyncError": "cvibot._errors",
    "TavusAPIError": "cvibot.tavus._api_errors",
    "ToolCall": "cvibot._protocol.events",
    "ToolContext": "cvibot._context",
    "ToolDefinitionError": "cvibot._errors",
    "ToolError": "cvibot._errors",
    "ToolOutcome": "cvibot._dispatch",
    "ToolResult": "cvibot._protocol.interactions",
    "ToolSpec": "cvibot.tools",
    "TransportError": "cvibot.transports._base",
    "Utterance": "cvibot._protocol.events",
    "hookimpl": "cvibot.plugins",
    "tool": "cvibot.tools",
}


def __getattr__(name: str) -> _typing.Any:
    if name == "__version__":
        from importlib.metadata import version

        return version("cvibot")
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'cvibot' has no attribute {name!r}")
    value = getattr(_importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
