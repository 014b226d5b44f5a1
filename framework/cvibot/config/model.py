"""The bot configuration: pydantic models of the YAML file ``cvibot`` runs.

Every model forbids unknown keys and is frozen. The loader (:mod:`cvibot.config.loader`)
turns a :class:`pydantic.ValidationError` into a :class:`~cvibot.errors.ConfigError` that
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
      level: info                  # debug | info | warning | error
      format: auto                 # auto | console | json
      transcript: true

The live sections (``conversation.url`` / ``create``, ``tavus``, ``trust``, the
``daily`` transport) are in :mod:`cvibot.config.live` and :mod:`cvibot.config.transport`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cvibot.config.common import LocatedValueError, TimeoutSeconds
from cvibot.config.live import (
    ConversationConfig,
    CreateConversationConfig,
    TavusConfig,
    ToolSyncConfig,
)
from cvibot.config.plugins import PluginEntry
from cvibot.config.transport import (
    DailyTransportConfig,
    ReplayTransportConfig,
    TransportConfig,
)
from cvibot.participants import TrustPolicy
from cvibot.tools.options import ReplyMode, config_model

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
    timeout: TimeoutSeconds = 10.0
    cancel_on_interrupt: bool = False


class DispatchConfig(BaseModel):
    """Limits of the dispatcher.

    - ``max_concurrent_calls``: tool calls running at once per conversation, >= 1.
    - ``max_concurrent_per_tool``: calls of one tool running at once per conversation,
      for tools that set no ``max_concurrent``, >= 1; ``None``: half of
      ``max_concurrent_calls`` (rounded up), so one slow tool never takes every slot.
    - ``max_waiting_calls``: calls of one conversation waiting for a slot, >= 0; more
      are answered at once with a ``busy`` error.
    - ``max_waiting_calls_total``: the same bound for all conversations of the process.
    - ``sync_workers``: sync handlers running at once (threads), >= 1.
    - ``max_sync_threads``: threads in all, counting those still stuck in a handler whose
      call timed out, >= ``sync_workers``; past it a sync call gets a ``busy`` error.
    - ``observer_queue``: events queued per plugin for its sync observer hooks, >= 1;
      past it events are dropped for that plugin (counted, warned about).
    - ``loop_warn_after``: seconds the event loop may be held before a warning names
      what holds it; ``None`` turns the watchdog off.
    - ``message_limit``: bytes per outbound app-message (Daily's limit), >= 256.
    - ``on_oversize``: ``truncate`` the answer to fit, or send an ``error`` instead.
    - ``shutdown_grace``: seconds running calls get to finish when the bot stops (a
      signal, the end of the conversation) before they are cancelled and answered.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_concurrent_calls: int = Field(default=16, ge=1)
    max_concurrent_per_tool: int | None = Field(default=None, ge=1)
    max_waiting_calls: int = Field(default=64, ge=0)
    max_waiting_calls_total: int = Field(default=1024, ge=0)
    sync_workers: int = Field(default=8, ge=1)
    max_sync_threads: int = Field(default=32, ge=1)
    observer_queue: int = Field(default=1000, ge=1)
    loop_warn_after: TimeoutSeconds | None = 0.25
    message_limit: int = Field(default=4096, ge=256)
    on_oversize: Literal["truncate", "error"] = "truncate"
    shutdown_grace: TimeoutSeconds = 10.0

    @model_validator(mode="after")
    def _threads_cover_workers(self) -> DispatchConfig:
        if self.max_sync_threads < self.sync_workers:
            raise LocatedValueError(
                f"must be at least sync_workers ({self.sync_workers})", ("max_sync_threads",)
            )
        return self

    @property
    def per_tool_limit(self) -> int:
        """The limit of a tool that sets no ``max_concurrent``."""
        if self.max_concurrent_per_tool is not None:
            return self.max_concurrent_per_tool
        return max(1, (self.max_concurrent_calls + 1) // 2)


class LoggingConfig(BaseModel):
    """Log output: ``format`` ``auto`` is console on a terminal, JSON otherwise;
    ``transcript`` prints the conversation (speech, tool calls and their answers) and a
    summary on stdout (``--quiet`` turns it off)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    level: Literal["debug", "info", "warning", "error"] = "info"
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
    # LLM can call): see cvibot.plugins.selection.
    plugins_autoload: bool = False
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
