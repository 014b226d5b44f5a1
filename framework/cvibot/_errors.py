"""Every exception a cvibot user can catch, and the one handlers raise on purpose.

The hierarchy (a test checks this drawing against the classes; a builtin in brackets is
a second base, kept because callers catch it, e.g. pydantic turns a ``ValueError`` raised
in a validator into a validation error)::

    CvibotError
    ├── ToolError                     a handler's error answer; its message is sent as is
    │   └── UnsendableResult          the handler's return value is not JSON
    ├── ToolDefinitionError [TypeError]   a bad ``@tool`` (name rule, annotation, option)
    ├── ArgumentsError [ValueError]   the LLM's arguments do not fit the tool's parameters
    ├── MessageTooLarge [ValueError]  an encoded interaction is over the app-message limit
    ├── PoolBusy [RuntimeError]       no thread is free for a sync handler
    ├── ConfigError                   a bad config, plugin or tool set; file, line, key
    │   ├── PluginLoadError           a plugin in the config fails to import or register
    │   ├── DuplicateToolError        two plugins register the same tool name
    │   └── MissingAPIKey             ``TAVUS_API_KEY`` is not set
    ├── PluginSettingsError [ValueError]  a plugin's ``settings`` are invalid, key by key
    ├── SelectionError [ValueError]   a bad ``-p`` value or ``CVIBOT_AUTOLOAD`` setting
    ├── PluginStartupError            a plugin's ``cvibot_startup`` hook raised
    ├── TransportError                the transport cannot carry on (file, room, ...)
    │   ├── DailyError                a failure of the Daily room, with the SDK's ``raw``
    │   │   ├── JoinFailed            the bot could not join the room
    │   │   │   ├── InvalidRoomUrl    not an http(s) URL with a host
    │   │   │   ├── RoomUnreachable   the room lookup failed (network, DNS)
    │   │   │   ├── JoinTimeout       no join completion within ``join_timeout``
    │   │   │   ├── InvalidClientSettings   the SDK refused the client settings
    │   │   │   └── RoomEnded         ejected, or the meeting ended or expired
    │   │   ├── NotJoined             a send while not in the room
    │   │   ├── SendFailed            a send the SDK refused or never confirmed
    │   │   ├── InvalidAppMessage [ValueError]  a message the SDK cannot carry
    │   │   └── ConnectionLost        the room was lost and a rejoin gave up
    │   └── NoRoom                    a ``delivery.api`` tool call asked for a room action
    ├── TavusAPIError                 a Tavus REST call failed: status, method, path
    │   ├── BadRequest                400: invalid body, or the concurrency limit
    │   ├── Unauthorized              401, 403: the API key was refused
    │   ├── NotFound                  404: the conversation or persona does not exist
    │   ├── Conflict                  409: the resource is in use or exists already
    │   ├── RateLimited               429: too many requests (``retry_after``)
    │   ├── ServerError               5xx
    │   ├── TavusUnreachable          no HTTP answer: connect error, timeout, drop
    │   └── UnexpectedResponse        a 2xx answer whose body is not the documented shape
    ├── BackendError                  ``cvibot serve``'s job backend cannot carry out a request
    │   ├── HostFull                  a ``local`` backend's host has no free slot
    │   ├── AlreadyEnded              the conversation's record is in a terminal state
    │   └── AnswerStoreUnavailable    Redis did not answer a ``delivery.api`` claim or read
    ├── SyncError                     ``cvibot tools sync`` cannot make Tavus match
    │   ├── LimitsExceeded            the tools break Tavus's limits; nothing was sent
    │   └── ApplyFailed               a request failed; ``applied`` is what was done
    ├── ProjectExists [FileExistsError]  ``cvibot new``: the folder exists already
    ├── PluginNameError [ValueError]  ``cvibot new``: the plugin name breaks the rule
    ├── BotNameError [ValueError]     ``cvibot new``: the bot name is not allowed
    └── ReplyTimeout [AssertionError, TimeoutError]  a fake conversation waited in vain

Each class lives beside the code that raises it. Import the bases users catch from
``cvibot`` (``CvibotError``, ``ToolError``, ``ConfigError``, ``TransportError``,
``TavusAPIError``, ``MessageTooLarge``, ...), the rest from their public package:
``cvibot.tavus`` (the Tavus API errors), ``cvibot.transports`` (the Daily errors),
``cvibot.tools`` (``ArgumentsError``), ``cvibot.serve`` (the backend's),
``cvibot.testing`` (``ReplyTimeout``). The
command line's own (``cvibot tools sync``, ``cvibot new``, ``-p``) are reported by the
command line and stay in its private modules.

Left outside the tree on purpose: exceptions that never reach a user because the code
that raises them catches them too (``LocatedValueError``, a pydantic validator's
``ValueError`` that the loader turns into a :class:`ConfigError`; the command line's
``StopRequested`` and ``BotEnded``; the fleet's ``MalformedJob``, a stream entry it
drops; ``cvibot serve``'s ``BodyTooLarge`` and ``NotAToolCall``, which its routes turn
into 413 and 400 answers; private ``_``-named signals). The test doubles of
``tests/doubles`` are not part of the package (the fake SDK's misuse error stands for
the real SDK aborting the process, and must not be caught).
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
    "SyncError",
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
            from cvibot.config._keypaths import key_text

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


class SyncError(CvibotError):
    """``cvibot tools sync`` could not make the tools Tavus knows match the code.

    The base of :class:`~cvibot._sync.LimitsExceeded` (checked before any request) and
    :class:`~cvibot._sync.ApplyFailed` (a request failed part way).
    """
