"""The bot configuration: the YAML file's models and the loader that reads it.

Load with :func:`load_config`; the result's ``config`` is a :class:`BotConfig`, and its
``error(...)`` builds a :class:`~cvibot.errors.ConfigError` at any key of the file.
"""

from __future__ import annotations

from cvibot.config.loader import KeyPath, LoadedConfig, load_config, parse_config
from cvibot.config.model import (
    BotConfig,
    ConversationConfig,
    CreateConversationConfig,
    DailyTransportConfig,
    Defaults,
    DispatchConfig,
    LoggingConfig,
    PluginEntry,
    ReconnectConfig,
    ReplayTransportConfig,
    ReplicaConfig,
    TavusConfig,
    ToolOverride,
    ToolSyncConfig,
    TransportConfig,
    TrustConfig,
)

__all__ = [
    "BotConfig",
    "ConversationConfig",
    "CreateConversationConfig",
    "DailyTransportConfig",
    "Defaults",
    "DispatchConfig",
    "KeyPath",
    "LoadedConfig",
    "LoggingConfig",
    "PluginEntry",
    "ReconnectConfig",
    "ReplayTransportConfig",
    "ReplicaConfig",
    "TavusConfig",
    "ToolOverride",
    "ToolSyncConfig",
    "TransportConfig",
    "TrustConfig",
    "load_config",
    "parse_config",
]
