"""The bot configuration: pydantic models of the YAML file ``cvibot`` runs.

Every model forbids unknown keys and is frozen. The loader (:mod:`cvibot.config._loader`)
turns a :class:`pydantic.ValidationError` into a :class:`~cvibot._errors.ConfigError` that
names the file, line and key; validators here that need to point below the value they
check raise :class:`LocatedValueError` with the relative key path.

The main keys, with their defaults (``config.example.yaml`` and
``docs/configuration.md`` describe every key)::

    pipeline_mode: full            # full | echo
    conversation:
      id: null                     # null: taken from the first event
    transport:
      type: replay                 # replay | daily
      path: recordings/order.jsonl # relative to this file's folder
    plugins:
      - shop_tools                 # module or installed plugin name (kind: auto)
      - module: bots.shop.tools    # kind: module
        settings: {db: shop.sqlite}
      - name: cvibot-faq           # kind: entry_point
    plugins_autoload: false        # true: also load installed plugins nobody names
    tools:
      lookup_order: {reply: tool_result, timeout: 5, cancel_on_interrupt: true}
    defaults:
      reply: auto
      perception_reply: none
      timeout: 10.0                # seconds
      cancel_on_interrupt: false
    dispatch:
      max_concurrent_calls: 16
      max_concurrent_per_tool: null # null: half of max_concurrent_calls
      max_waiting_calls: 64
      max_waiting_calls_total: 1024
      sync_workers: 8
      max_sync_threads: 32
      observer_queue: 1000
      loop_warn_after: 0.25        # seconds; null: no watchdog
      message_limit: 4096          # bytes
      on_oversize: truncate        # truncate | error
      shutdown_grace: 10.0         # seconds
    logging:
      level: null                  # debug | info | warning | error
      format: auto                 # auto | console | json
      transcript: true
    serve: null                    # cvibot serve (cvibot.serve._options.ServeOptions)

The live sections (``conversation.url`` / ``create``, ``tavus``, ``trust``, the
``daily`` transport) are in :mod:`cvibot.config._live` and :mod:`cvibot.config._transport`.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Literal, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator

from cvibot._dispatch.policy import DispatchPolicy, section_keys
from cvibot._participants import TrustPolicy
from cvibot.config._common import LocatedValueError
from cvibot.config._live import (
    ConversationConfig,
    CreateConversationConfig,
    TavusConfig,
    ToolSyncConfig,
)
from cvibot.config._plugins import PluginEntry
from cvibot.config._transport import (
    DailyTransportConfig,
    ReplayTransportConfig,
    TransportConfig,
)
from cvibot.serve._options import ServeOptions
from cvibot.tools._options import ReplyMode, config_model

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
    "ReplayTransportConfig",
    "TavusConfig",
    "ToolOverride",
    "ToolSyncConfig",
    "TransportConfig",
]

_RESPOND_UNDER_ECHO = "respond needs Tavus's LLM, which pipeline_mode: echo turns off"


# The ``tools.<name>:`` section: the ToolOptions fields marked ``config``, all optional.
if TYPE_CHECKING:

    class ToolOverride(BaseModel):  # what type checkers see of the model made below
        def __getattr__(self, name: str) -> Any: ...

else:
    ToolOverride = config_model()


def section_model(section: str, name: str, doc: str) -> type[BaseModel]:
    """The model of the config section ``section`` of :class:`DispatchPolicy`: its fields
    read from there (:func:`~cvibot._dispatch.policy.section_keys`) under their config
    keys, with their types, constraints and defaults; frozen, unknown keys refused. The
    checks across fields run too, located at the key they name."""
    keys = section_keys(section)
    hints = get_type_hints(DispatchPolicy, include_extras=True)
    defaults = {f.name: f.default for f in dataclasses.fields(DispatchPolicy)}
    fields: dict[str, Any] = {key: (hints[field], defaults[field]) for field, key in keys.items()}

    def check(model: BaseModel) -> BaseModel:
        try:
            DispatchPolicy(**{field: getattr(model, key) for field, key in keys.items()})
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            cause = error.get("ctx", {}).get("error")
            field = str(error["loc"][0]) if error["loc"] else ""
            raise LocatedValueError(
                str(cause) if cause is not None else error["msg"], (keys.get(field, field),)
            ) from None
        return model

    return create_model(
        name,
        __config__=ConfigDict(extra="forbid", frozen=True),
        __doc__=doc,
        __module__=__name__,
        __validators__={"_checked_by_policy": model_validator(mode="after")(check)},  # type: ignore[dict-item]
        **fields,
    )


# The ``defaults:`` and ``dispatch:`` sections: DispatchPolicy's fields, by section.
if TYPE_CHECKING:

    class Defaults(BaseModel):  # what type checkers see of the models made below
        def __getattr__(self, name: str) -> Any: ...

    class DispatchConfig(BaseModel):
        def __getattr__(self, name: str) -> Any: ...

else:
    Defaults = section_model(
        "defaults",
        "Defaults",
        "What applies to a tool that neither declares nor overrides a setting "
        "(see :class:`cvibot._dispatch.DispatchPolicy`).",
    )
    DispatchConfig = section_model(
        "dispatch", "DispatchConfig", "Limits of the dispatcher (see DispatchPolicy)."
    )


class LoggingConfig(BaseModel):
    """Log output: ``level`` unset is ``warning`` while the transcript is printed and the
    logs are console lines (the transcript is the view; log lines that repeat it are left
    out), ``info`` otherwise; ``format`` ``auto`` is console on a terminal, JSON otherwise;
    ``transcript`` prints the conversation (speech, tool calls and their answers) and a
    summary on stdout (``--quiet`` turns it off)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    level: Literal["debug", "info", "warning", "error"] | None = None
    format: Literal["auto", "console", "json"] = "auto"
    transcript: bool = True


class BotConfig(BaseModel):
    """The whole config file; every key has a default.

    ``transport`` ``None`` (no section) leaves the transport to the command: ``replay``,
    ``console``, ``check``, ``tools`` and ``run --conversation-url`` supply their own;
    ``run`` without ``--conversation-url`` refuses such a config.

    ``tools`` maps tool names to overrides. Under ``pipeline_mode: echo`` (Tavus's LLM
    off), ``respond`` in ``defaults.reply``, ``defaults.perception_reply`` or a
    ``tools.<name>.reply`` is an error located at that key.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    pipeline_mode: Literal["full", "echo"] = "full"
    conversation: ConversationConfig = ConversationConfig()
    # The discriminator on the field itself (not inside an Optional), so that errors
    # are reported at transport.<key> as for a required section.
    transport: ReplayTransportConfig | DailyTransportConfig | None = Field(
        default=None, discriminator="type"
    )
    tavus: TavusConfig = TavusConfig()
    trust: TrustPolicy = TrustPolicy()
    plugins: list[PluginEntry] = []
    # Installed plugins nobody names join the bot only on request (they bring tools an
    # LLM can call): see cvibot.plugins._selection.
    plugins_autoload: bool = False
    tools: dict[str, ToolOverride] = {}
    defaults: Defaults = Defaults()
    dispatch: DispatchConfig = DispatchConfig()
    logging: LoggingConfig = LoggingConfig()
    # Read by `cvibot serve` only; None: serve with the defaults of ServeOptions.
    serve: ServeOptions | None = None

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
