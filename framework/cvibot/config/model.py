"""The bot configuration: pydantic models of the YAML file ``cvibot`` runs.

Every model forbids unknown keys and is frozen. The loader (:mod:`cvibot.config.loader`)
turns a :class:`pydantic.ValidationError` into a :class:`~cvibot.errors.ConfigError` that
names the file, line and key; validators here that need to point below the value they
check raise :class:`LocatedValueError` with the relative key path.

A file with every key; the values are the defaults, except ``transport.path``,
``plugins`` and ``tools``, which are examples::

    pipeline_mode: full            # full | echo
    conversation:
      id: null                     # null: taken from the first event
    transport:
      type: replay
      path: recordings/order.jsonl # relative to this file's folder
      pace: fast                   # fast | recorded
      speed: 1.0                   # recorded pace multiplier, > 0
      out: null                    # file for every outbound message, one JSON per line
    plugins:
      - shop_tools                 # module or installed plugin name (kind: auto)
      - module: bots.shop.tools    # kind: module
        settings: {db: shop.sqlite}
      - name: cvibot-faq           # kind: entry_point
      - {ref: bots.misc, kind: module, settings: {}}
    tools:
      lookup_order: {reply: tool_result, timeout: 5, cancel_on_interrupt: true}
    defaults:
      reply: auto
      perception_reply: none
      timeout: 10.0                # seconds
      cancel_on_interrupt: false
    dispatch:
      max_concurrent_calls: 16
      sync_workers: 8
      message_limit: 4096          # bytes
      on_oversize: truncate        # truncate | error
    logging:
      level: info                  # debug | info | warning | error
      format: auto                 # auto | console | json
      transcript: true
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cvibot.tools.options import ReplyMode

__all__ = [
    "BotConfig",
    "ConversationConfig",
    "Defaults",
    "DispatchConfig",
    "LocatedValueError",
    "LoggingConfig",
    "PluginEntry",
    "ReplayTransportConfig",
    "ToolOverride",
    "TransportConfig",
]

# Tool timeouts, in seconds: positive, and at most an hour so a typo in minutes or
# milliseconds is caught rather than leaving a call hanging.
_Timeout = Annotated[float, Field(gt=0, le=3600, allow_inf_nan=False)]

_RESPOND_UNDER_ECHO = "respond needs Tavus's LLM, which pipeline_mode: echo turns off"


class LocatedValueError(ValueError):
    """A validation failure at ``loc``, a key path relative to the value being validated.

    pydantic places a validator's error at the validated value; the loader appends
    ``loc`` so the message points at the offending key (and its line) instead.
    """

    def __init__(self, message: str, loc: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.loc = loc


class ReplayTransportConfig(BaseModel):
    """Replay a recorded conversation instead of joining a live room.

    - ``path``: JSONL file of recorded app-messages. The loader resolves a relative path
      from the config file's folder and expands ``~``.
    - ``pace``: ``fast`` delivers each message once the work of the previous one has
      settled (deterministic output); ``recorded`` keeps the recorded arrival times.
    - ``speed``: multiplier of the recorded pace, > 0 (``2.0`` is twice as fast).
    - ``out``: file that receives every outbound message, one JSON per line; resolved
      like ``path``. ``None`` writes nothing.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["replay"]
    path: Path
    pace: Literal["fast", "recorded"] = "fast"
    speed: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    out: Path | None = None

    @field_validator("path", "out", mode="before")
    @classmethod
    def _reject_empty_path(cls, value: Any) -> Any:
        # Path("") is ".", which would silently mean the config's own folder.
        if isinstance(value, str) and not value.strip():
            raise ValueError("must not be empty")
        return value


# A union discriminated by ``type`` so more transports (the live ``daily`` one) join as
# ``ReplayTransportConfig | DailyTransportConfig`` without changing how errors read.
TransportConfig = Annotated[ReplayTransportConfig, Field(discriminator="type")]


class ConversationConfig(BaseModel):
    """Which conversation the bot serves: ``id`` ``None`` takes it from the first event."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str | None = None


_PLUGIN_KEYS = ("kind", "module", "name", "ref", "settings")
_PLUGIN_SHORTHANDS: dict[str, Literal["module", "entry_point"]] = {
    "module": "module",
    "name": "entry_point",
}


def _describe(value: Any) -> str:
    """A YAML value as an error message quotes it: ``null``, ``true``, ``'text'``, ``3``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str) and len(value) > 40:
        return repr(value[:37] + "...")
    return repr(value)


class PluginEntry(BaseModel):
    """One plugin to load, with the ``settings`` mapping its hooks and tools receive.

    ``ref`` is a module (a dotted name, or a ``.py`` path relative to the config file's
    folder) or the name of an installed plugin (an entry point of group ``cvibot``).
    ``kind`` says which; ``auto`` lets the plugin loader take the installed plugin if
    there is one, else the module. ``settings`` (any YAML mapping, interpolated) reaches
    the plugin's hooks and tools unchanged.

    YAML forms accepted::

        - shop_tools                                 # ref, kind: auto
        - {module: bots.shop.tools, settings: {...}} # kind: module
        - {name: cvibot-faq, settings: {...}}        # kind: entry_point
        - {ref: shop_tools, kind: auto, settings: {...}}

    A mapping gives exactly one of ``module``, ``name`` and ``ref``; ``kind`` may be
    repeated next to ``module``/``name`` only if it agrees.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    ref: str = Field(min_length=1)
    kind: Literal["auto", "module", "entry_point"] = "auto"
    settings: dict[str, Any] = {}

    @model_validator(mode="before")
    @classmethod
    def _accept_shorthands(cls, data: Any) -> Any:
        if isinstance(data, PluginEntry):
            return data
        if isinstance(data, str):
            return {"ref": data}
        if not isinstance(data, Mapping):
            raise LocatedValueError(
                "expected a plugin: a name, or a mapping with 'module' or 'name' "
                f"(got {_describe(data)})"
            )
        for key in data:
            if key not in _PLUGIN_KEYS:
                raise LocatedValueError(f"unknown key (allowed: {', '.join(_PLUGIN_KEYS)})", (key,))
        given = [key for key in ("module", "name", "ref") if key in data]
        if not given:
            raise LocatedValueError("needs one of 'module', 'name' or 'ref'")
        if len(given) > 1:
            raise LocatedValueError(
                f"give only one of 'module', 'name' and 'ref' (also given: {given[0]!r})",
                (given[1],),
            )
        form = given[0]
        if form == "ref":
            return data
        value = data[form]
        if not isinstance(value, str) or not value.strip():
            raise LocatedValueError(f"must be a non-empty string (got {_describe(value)})", (form,))
        kind = _PLUGIN_SHORTHANDS[form]
        if "kind" in data and data["kind"] != kind:
            raise LocatedValueError(
                f"contradicts '{form}', which means kind: {kind} (got {_describe(data['kind'])})",
                ("kind",),
            )
        entry: dict[str, Any] = {"ref": value, "kind": kind}
        if "settings" in data:
            entry["settings"] = data["settings"]
        return entry


class ToolOverride(BaseModel):
    """Per-tool settings from ``tools.<name>``; ``None`` keeps what the tool declares.

    ``timeout`` in seconds (0 < timeout <= 3600), from the call's arrival to its answer.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    reply: ReplyMode | None = None
    timeout: _Timeout | None = None
    cancel_on_interrupt: bool | None = None


class Defaults(BaseModel):
    """What applies to a tool that neither declares nor overrides a setting.

    - ``reply``: reply mode of LLM tool calls.
    - ``perception_reply``: reply mode of perception tool calls, which Tavus treats as
      fire-and-forget (protocol reference §4.5, §6 rule 7), hence ``none``.
    - ``timeout``: seconds from the call's arrival to its answer (0 < timeout <= 3600).
    - ``cancel_on_interrupt``: cancel a running call when the replica is interrupted.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    reply: ReplyMode = ReplyMode.AUTO
    perception_reply: ReplyMode = ReplyMode.NONE
    timeout: _Timeout = 10.0
    cancel_on_interrupt: bool = False


class DispatchConfig(BaseModel):
    """Limits of the dispatcher.

    - ``max_concurrent_calls``: tool calls running at once per conversation, >= 1.
    - ``sync_workers``: threads that run sync handlers, >= 1.
    - ``message_limit``: bytes per outbound app-message (Daily's limit), >= 256.
    - ``on_oversize``: ``truncate`` the answer to fit, or send an ``error`` instead.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_concurrent_calls: int = Field(default=16, ge=1)
    sync_workers: int = Field(default=8, ge=1)
    message_limit: int = Field(default=4096, ge=256)
    on_oversize: Literal["truncate", "error"] = "truncate"


class LoggingConfig(BaseModel):
    """Log output: ``format`` ``auto`` is console on a terminal, JSON otherwise;
    ``transcript`` logs the conversation's utterances too."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "console", "json"] = "auto"
    transcript: bool = True


class BotConfig(BaseModel):
    """The whole config file; only ``transport`` is required.

    ``tools`` maps tool names to overrides. Under ``pipeline_mode: echo`` (Tavus's LLM
    off), ``respond`` in ``defaults.reply``, ``defaults.perception_reply`` or a
    ``tools.<name>.reply`` is an error located at that key.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    pipeline_mode: Literal["full", "echo"] = "full"
    conversation: ConversationConfig = ConversationConfig()
    transport: TransportConfig
    plugins: list[PluginEntry] = []
    tools: dict[str, ToolOverride] = {}
    defaults: Defaults = Defaults()
    dispatch: DispatchConfig = DispatchConfig()
    logging: LoggingConfig = LoggingConfig()

    @model_validator(mode="after")
    def _respond_needs_llm(self) -> BotConfig:
        if self.pipeline_mode != "echo":
            return self
        if self.defaults.reply is ReplyMode.RESPOND:
            raise LocatedValueError(_RESPOND_UNDER_ECHO, ("defaults", "reply"))
        if self.defaults.perception_reply is ReplyMode.RESPOND:
            raise LocatedValueError(_RESPOND_UNDER_ECHO, ("defaults", "perception_reply"))
        for name, override in self.tools.items():
            if override.reply is ReplyMode.RESPOND:
                raise LocatedValueError(_RESPOND_UNDER_ECHO, ("tools", name, "reply"))
        return self
