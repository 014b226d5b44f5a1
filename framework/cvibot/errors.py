"""The exceptions cvibot raises, and the one handlers raise on purpose.

Hierarchy::

    CvibotError
    ├── ToolError               raised by a handler: its message is the error answer
    ├── PluginSettingsError     raised by a plugin: its settings are invalid, key by key
    ├── ToolDefinitionError     a bad ``@tool`` (name rule, missing annotation, ...)
    └── ConfigError             a bad config, plugin or tool set; names file, line, key
        ├── PluginLoadError     a plugin named in the config could not be imported or registered
        └── DuplicateToolError  two plugins register the same tool name
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Self

__all__ = [
    "ConfigError",
    "CvibotError",
    "DuplicateToolError",
    "PluginLoadError",
    "PluginSettingsError",
    "ToolDefinitionError",
    "ToolError",
]


class CvibotError(Exception):
    """Base class of every error cvibot raises."""


class ToolError(CvibotError):
    """Raise from a tool handler to answer the call with an error the LLM may read.

    The message is sent as is: as the ``output`` of a ``conversation.tool_result`` with
    ``status: "error"`` (protocol reference §3.7), or as the spoken/appended text in the
    other reply modes. Any other exception is logged with its traceback and the LLM only
    gets a generic message, so internals never leak into the conversation.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PluginSettingsError(CvibotError, ValueError):
    """Raise from a plugin's hook when the ``settings`` the config gives it are invalid.

    ``problems`` lists ``(key, message)`` pairs; ``key`` is the path below the plugin's
    ``settings`` in the config's key syntax (``"top_k"``, ``"tools[0].request.url"``;
    ``""`` for the settings as a whole). Raised from ``cvibot_register_tools``, the bot
    reports it as a config error at the line of the first problem's key (for example
    ``bot.yaml:9: plugins[0].settings.top_k: expected an integer (got 0)``), listing the
    others after it. ``str(err)`` reads ``KEY: MESSAGE; ...``.
    """

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        if not problems:
            raise ValueError("PluginSettingsError needs at least one problem")
        self.problems = [(str(key), str(message)) for key, message in problems]
        super().__init__("; ".join(f"{k}: {m}" if k else m for k, m in self.problems))

    def __reduce__(self) -> tuple[type[PluginSettingsError], tuple[list[tuple[str, str]]]]:
        return type(self), (self.problems,)

    @classmethod
    def at(cls, key: str | Sequence[str | int], message: str) -> Self:
        """One problem at ``key``: a key text, or a path such as ``("tools", 0, "url")``."""
        if not isinstance(key, str):
            from cvibot.config.keypaths import key_text

            key = key_text(tuple(key)) or ""
        return cls([(key, message)])

    def key_path(self) -> tuple[str | int, ...]:
        """The first problem's key as a path: ``"tools[0].url"`` → ``("tools", 0, "url")``."""
        return self.parse_key(self.problems[0][0])

    @staticmethod
    def parse_key(key: str) -> tuple[str | int, ...]:
        """A key text as a path: ``"tools[0].url"`` → ``("tools", 0, "url")``."""
        return tuple(
            int(index) if index else json.loads(quoted) if quoted else name
            for index, quoted, name in re.findall(
                r'\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]|([^.\[\]]+)', key
            )
        )


class ToolDefinitionError(CvibotError, TypeError):
    """A function cannot be a tool: bad name, unannotated parameter, bad option value."""


class ConfigError(CvibotError):
    """A configuration problem, located as precisely as the source allows.

    ``str(err)`` reads ``FILE:LINE: KEY: MESSAGE`` (parts that are unknown are left out),
    which the command line prints before exiting with status 2.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.key = key

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "") + ": "
        key = f"{self.key}: " if self.key else ""
        return f"{where}{key}{self.message}"


class PluginLoadError(ConfigError):
    """A plugin named in the config failed to import or register.

    ``plugin`` is the name used in the config, ``distribution`` the installed
    distribution that provides it (``None`` for a module), ``cause`` the original error.
    """

    def __init__(
        self,
        message: str,
        *,
        plugin: str,
        distribution: str | None = None,
        cause: BaseException | None = None,
        file: str | Path | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        super().__init__(message, file=file, line=line, key=key)
        self.plugin = plugin
        self.distribution = distribution
        self.cause = cause


class DuplicateToolError(ConfigError):
    """Two plugins register tools of the same name; both plugins are named."""

    def __init__(self, tool: str, first_plugin: str, second_plugin: str) -> None:
        super().__init__(
            f"tool {tool!r} is registered by both {first_plugin!r} and {second_plugin!r}",
            key=f"tools.{tool}",
        )
        self.tool = tool
        self.first_plugin = first_plugin
        self.second_plugin = second_plugin
