"""The exceptions cvibot raises, and the one handlers raise on purpose.

Hierarchy::

    CvibotError
    ├── ToolError               raised by a handler: its message is the error answer
    ├── ToolDefinitionError     a bad ``@tool`` (name rule, missing annotation, ...)
    └── ConfigError             a bad config, plugin or tool set; names file, line, key
        ├── PluginLoadError     a plugin named in the config could not be imported or registered
        └── DuplicateToolError  two plugins register the same tool name
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ConfigError",
    "CvibotError",
    "DuplicateToolError",
    "PluginLoadError",
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
