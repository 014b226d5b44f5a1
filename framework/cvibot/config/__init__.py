"""The bot configuration: the YAML file's models and the loader that reads it.

Load with :func:`load_config`; the result's ``config`` is a :class:`BotConfig`, and its
``error(...)`` builds a :class:`~cvibot._errors.ConfigError` at any key of the file.

Plugins read their own files with the same guards: :func:`read_text_file` (a regular
UTF-8 file of bounded size) and :func:`load_yaml` / :func:`parse_yaml` /
:func:`compose_yaml` (YAML with bounded size, depth and alias expansion; see
:mod:`cvibot.config._safe_yaml`), and write the key path of a problem in their
``settings`` as the config errors do, with :func:`key_text`.
"""

from __future__ import annotations

from cvibot.config._files import MAX_FILE_BYTES, read_text_file
from cvibot.config._keypaths import key_text
from cvibot.config._loader import KeyPath, LoadedConfig, load_config, parse_config
from cvibot.config._model import (
    BotConfig,
    ConversationConfig,
    CreateConversationConfig,
    DailyTransportConfig,
    Defaults,
    DispatchConfig,
    LoggingConfig,
    PluginEntry,
    ReplayTransportConfig,
    TavusConfig,
    ToolOverride,
    ToolSyncConfig,
    TransportConfig,
)
from cvibot.config._safe_yaml import (
    DEFAULT_LIMITS,
    YamlLimits,
    compose_yaml,
    construct_yaml,
    load_yaml,
    parse_yaml,
)

__all__ = [
    "DEFAULT_LIMITS",
    "MAX_FILE_BYTES",
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
    "ReplayTransportConfig",
    "TavusConfig",
    "ToolOverride",
    "ToolSyncConfig",
    "TransportConfig",
    "YamlLimits",
    "compose_yaml",
    "construct_yaml",
    "key_text",
    "load_config",
    "load_yaml",
    "parse_config",
    "parse_yaml",
    "read_text_file",
]
