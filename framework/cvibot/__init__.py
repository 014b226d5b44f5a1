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
    from cvibot.context import ToolContext
    from cvibot.dispatch import ToolOutcome
    from cvibot.errors import (
        ConfigError,
        CvibotError,
        DuplicateToolError,
        PluginLoadError,
        PluginSettingsError,
        SyncError,
        ToolDefinitionError,
        ToolError,
    )
    from cvibot.plugins import hookimpl
    from cvibot.protocol.events import Event, ToolCall, Utterance
    from cvibot.protocol.interactions import (
        AppendContext,
        Echo,
        Interrupt,
        MessageTooLarge,
        OverwriteContext,
        Respond,
        Sensitivity,
        ToolResult,
    )
    from cvibot.runtime import Bot, PluginStartupError
    from cvibot.session import Session
    from cvibot.tavus.api_errors import TavusAPIError
    from cvibot.tools import ReplyMode, ToolSpec, tool
    from cvibot.transports.base import TransportError

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
    "AppendContext": "cvibot.protocol.interactions",
    "Bot": "cvibot.runtime",
    "ConfigError": "cvibot.errors",
    "CvibotError": "cvibot.errors",
    "DuplicateToolError": "cvibot.errors",
    "Echo": "cvibot.protocol.interactions",
    "Event": "cvibot.protocol.events",
    "Interrupt": "cvibot.protocol.interactions",
    "MessageTooLarge": "cvibot.protocol.interactions",
    "OverwriteContext": "cvibot.protocol.interactions",
    "PluginLoadError": "cvibot.errors",
    "PluginSettingsError": "cvibot.errors",
    "PluginStartupError": "cvibot.runtime",
    "ReplyMode": "cvibot.tools",
    "Respond": "cvibot.protocol.interactions",
    "Sensitivity": "cvibot.protocol.interactions",
    "Session": "cvibot.session",
    "SyncError": "cvibot.errors",
    "TavusAPIError": "cvibot.tavus.api_errors",
    "ToolCall": "cvibot.protocol.events",
    "ToolContext": "cvibot.context",
    "ToolDefinitionError": "cvibot.errors",
    "ToolError": "cvibot.errors",
    "ToolOutcome": "cvibot.dispatch",
    "ToolResult": "cvibot.protocol.interactions",
    "ToolSpec": "cvibot.tools",
    "TransportError": "cvibot.transports.base",
    "Utterance": "cvibot.protocol.events",
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
