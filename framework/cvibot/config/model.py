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

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from cvibot.tools.options import ReplyMode

__all__ = [
    "BotConfig",
    "ConversationConfig",
    "CreateConversationConfig",
    "DailyTransportConfig",
    "Defaults",
    "DispatchConfig",
    "LocatedValueError",
    "LoggingConfig",
    "PluginEntry",
    "ReconnectConfig",
    "ReplayTransportConfig",
    "ReplicaConfig",
    "TavusConfig",
    "ToolOverride",
    "TransportConfig",
    "TrustConfig",
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


# Seconds for the network waits of the Daily transport: positive, at most 10 minutes.
_Wait = Annotated[float, Field(gt=0, le=600, allow_inf_nan=False)]


class ReconnectConfig(BaseModel):
    """Rejoining the room after the network dropped (exponential backoff with jitter).

    - ``enabled``: rejoin at all; ``false`` ends the run with an error on a drop.
    - ``max_attempts``: rejoin attempts before giving up, >= 1.
    - ``initial_backoff`` / ``max_backoff``: seconds before the first retry / at most
      between two.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    max_attempts: int = Field(default=5, ge=1, le=100)
    initial_backoff: _Wait = 0.5
    max_backoff: _Wait = 10.0


class DailyTransportConfig(BaseModel):
    """Join the conversation's Daily room with daily-python (the live transport).

    The room is ``conversation.url`` (or the conversation the bot creates, or
    ``cvibot run --conversation-url``). The bot subscribes to no media and publishes
    none: it lives on the app-message data channel.

    - ``meeting_token``: Daily meeting token for private rooms (``require_auth``);
      ``None`` joins without one (a created private conversation's token is used).
    - ``user_name``: the bot's participant name in the room.
    - ``join_timeout``: seconds to wait for the join; the SDK itself only gives up on
      an unreachable room after about 19 s.
    - ``leave_timeout`` / ``send_timeout``: seconds to wait for a leave / for one
      app-message's delivery.
    - ``reconnect``: see :class:`ReconnectConfig`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["daily"]
    meeting_token: SecretStr | None = None
    user_name: str = Field(default="cvibot", min_length=1, max_length=100)
    join_timeout: _Wait = 15.0
    leave_timeout: _Wait = 5.0
    send_timeout: _Wait = 5.0
    reconnect: ReconnectConfig = ReconnectConfig()

    _empty_token_is_none = field_validator("meeting_token", mode="before")(
        lambda value: None if value == "" else value
    )


# A union discriminated by ``type``: errors name the allowed types and the keys of the
# chosen one.
TransportConfig = Annotated[
    ReplayTransportConfig | DailyTransportConfig, Field(discriminator="type")
]


class CreateConversationConfig(BaseModel):
    """Ask Tavus for a new conversation when the bot starts (protocol reference §8.2).

    ``persona_id`` and ``replica_id`` (the latter optional when the persona has a
    default replica) pick who the human talks to; ``name``, ``context`` and
    ``greeting`` become ``conversation_name``, ``conversational_context`` and
    ``custom_greeting``; ``properties`` is sent as is (``max_call_duration``,
    ``participant_left_timeout``, ``language``, ...). ``test_mode`` creates a
    conversation the replica never joins (no billing). ``end_on_exit`` ends the
    conversation (``POST /conversations/{id}/end``) when the bot stops.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    persona_id: str = Field(min_length=1)
    replica_id: str | None = None
    name: str | None = None
    context: str | None = None
    greeting: str | None = None
    callback_url: AnyHttpUrl | None = None
    audio_only: bool | None = None
    require_auth: bool | None = None
    test_mode: bool = False
    properties: dict[str, Any] = {}
    end_on_exit: bool = True

    # ``${TAVUS_REPLICA_ID:-}`` left empty means "not given".
    _empty_is_none = field_validator(
        "replica_id", "name", "context", "greeting", "callback_url", mode="before"
    )(lambda value: None if value == "" else value)


class ConversationConfig(BaseModel):
    """Which conversation the bot serves.

    - ``id``: events of any other ``conversation_id`` are dropped; ``None`` takes it from
      the first trusted event.
    - ``url``: the ``conversation_url`` (Daily room) of an existing conversation, for the
      ``daily`` transport.
    - ``create``: create a conversation instead (:class:`CreateConversationConfig`);
      excludes ``url`` and ``id``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str | None = None
    url: AnyHttpUrl | None = None
    create: CreateConversationConfig | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ConversationConfig:
        if self.create is not None:
            if self.url is not None:
                raise LocatedValueError("give either 'url' or 'create', not both", ("create",))
            if self.id is not None:
                raise LocatedValueError(
                    "a created conversation gets its id from Tavus: remove 'id'", ("id",)
                )
        return self


class TavusConfig(BaseModel):
    """The Tavus REST API (protocol reference §8), used to create and end conversations.

    ``api_key``: write ``${TAVUS_API_KEY}``; unset, the ``TAVUS_API_KEY`` environment
    variable is read when the API is needed. It never appears in logs or errors.
    ``base_url``: the API root. ``timeout``: seconds per request.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_key: SecretStr | None = None
    base_url: AnyHttpUrl = AnyHttpUrl("https://tavusapi.com/v2")
    timeout: _Wait = 10.0

    _empty_key_is_none = field_validator("api_key", mode="before")(
        lambda value: None if value == "" else value
    )


class ReplicaConfig(BaseModel):
    """How the replica's participant is recognised (see :mod:`cvibot.participants`).

    - ``user_id_contains``: markers of its Daily ``user_id`` (Tavus's rule:
      ``tavus-replica``).
    - ``user_names``: its participant names (the persona's name), optional.
    - ``participant_ids``: fixed participant ids, optional.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    user_id_contains: list[Annotated[str, Field(min_length=1)]] = ["tavus-replica"]
    user_names: list[Annotated[str, Field(min_length=1)]] = []
    participant_ids: list[Annotated[str, Field(min_length=1)]] = []


class TrustConfig(BaseModel):
    """Whose app-messages the bot acts on and where its answers go.

    - ``senders``: ``replica`` (default) acts only on messages from the replica's
      participant: other participants (a human's browser) can broadcast app-messages
      too, and a forged tool call must not run a handler. ``any`` trusts everyone.
    - ``answer_to``: ``broadcast`` (default, as Tavus documents) or ``replica`` (address
      answers to the replica's participant, so other participants never see them).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    senders: Literal["replica", "any"] = "replica"
    replica: ReplicaConfig = ReplicaConfig()
    answer_to: Literal["broadcast", "replica"] = "broadcast"


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
    - ``shutdown_grace``: seconds running calls get to finish when the bot stops (a
      signal, the end of the conversation) before they are cancelled and answered.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_concurrent_calls: int = Field(default=16, ge=1)
    sync_workers: int = Field(default=8, ge=1)
    message_limit: int = Field(default=4096, ge=256)
    on_oversize: Literal["truncate", "error"] = "truncate"
    shutdown_grace: _Timeout = 10.0


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
    tavus: TavusConfig = TavusConfig()
    trust: TrustConfig = TrustConfig()
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
