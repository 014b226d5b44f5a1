"""What the dispatcher does where a tool sets nothing, and its limits: :class:`DispatchPolicy`.

Declared once. The config's ``defaults:`` and ``dispatch:`` sections are made from its
fields (each field's metadata names its section and, when it differs, its key there; see
:func:`cvibot.config._model.section_model`), and :meth:`DispatchPolicy.from_sections`
builds the policy back from them, so a new setting is one field here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import field
from typing import Annotated, Any, Final, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator
from pydantic.dataclasses import dataclass

from cvibot._dispatch.admission import WaitingBound
from cvibot.tools._options import ReplyMode, TimeoutSeconds

__all__ = ["SECTION", "DispatchPolicy", "section_keys"]

#: The field metadata key: ``(section, key)``, the config key a field is read from.
SECTION: Final = "config_key"

_AtLeastOne = Annotated[int, Field(ge=1)]
_AtLeastZero = Annotated[int, Field(ge=0)]


def _at(section: str, key: str | None = None) -> dict[str, tuple[str, str | None]]:
    return {SECTION: (section, key)}


@dataclass(frozen=True, config=ConfigDict(extra="forbid", arbitrary_types_allowed=True))
class DispatchPolicy:
    """How tool calls are run where a tool sets nothing, and the limits of the dispatcher.

    From the config's ``defaults:`` section (YAML key in brackets):

    - ``default_reply`` (``reply``): reply mode of LLM tool calls.
    - ``perception_reply``: reply mode of perception tool calls, which Tavus treats as
      fire-and-forget (protocol reference §4.5, §6 rule 7), hence ``none``.
    - ``default_timeout`` (``timeout``): seconds from the call's arrival to its answer
      (0 < timeout <= 3600).
    - ``cancel_on_interrupt``: cancel a running call when the replica is interrupted.

    From the ``dispatch:`` section:

    - ``max_concurrent_calls``: tool calls running at once per conversation, >= 1.
    - ``max_concurrent_per_tool``: calls of one tool running at once per conversation,
      for tools that set no ``max_concurrent``, >= 1; ``None``: half of
      ``max_concurrent_calls`` (rounded up), so one slow tool never takes every slot.
    - ``max_waiting_calls``: calls of one conversation waiting for a slot, >= 0; more
      are answered at once with a ``busy`` error.
    - ``max_waiting_calls_total``: the same bound for all conversations of the process
      (the size of :attr:`waiting` that :meth:`from_sections` makes).
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

    ``waiting`` is the process-wide bound on waiting calls: share one policy (or one
    :class:`~cvibot._dispatch.WaitingBound`) between the conversations of a process.
    Values are checked on construction (pydantic's ``ValidationError``, a ``ValueError``).
    """

    default_reply: ReplyMode = field(default=ReplyMode.AUTO, metadata=_at("defaults", "reply"))
    perception_reply: ReplyMode = field(default=ReplyMode.NONE, metadata=_at("defaults"))
    default_timeout: TimeoutSeconds = field(default=10.0, metadata=_at("defaults", "timeout"))
    cancel_on_interrupt: bool = field(default=False, metadata=_at("defaults"))
    max_concurrent_calls: _AtLeastOne = field(default=16, metadata=_at("dispatch"))
    max_concurrent_per_tool: _AtLeastOne | None = field(default=None, metadata=_at("dispatch"))
    max_waiting_calls: _AtLeastZero = field(default=64, metadata=_at("dispatch"))
    max_waiting_calls_total: _AtLeastZero = field(default=1024, metadata=_at("dispatch"))
    sync_workers: _AtLeastOne = field(default=8, metadata=_at("dispatch"))
    max_sync_threads: _AtLeastOne = field(default=32, metadata=_at("dispatch"))
    observer_queue: _AtLeastOne = field(default=1000, metadata=_at("dispatch"))
    loop_warn_after: TimeoutSeconds | None = field(default=0.25, metadata=_at("dispatch"))
    message_limit: Annotated[int, Field(ge=256)] = field(default=4096, metadata=_at("dispatch"))
    on_oversize: Literal["truncate", "error"] = field(default="truncate", metadata=_at("dispatch"))
    shutdown_grace: TimeoutSeconds = field(default=10.0, metadata=_at("dispatch"))
    waiting: WaitingBound = field(default_factory=WaitingBound, compare=False, repr=False)

    @field_validator("max_sync_threads")
    @classmethod
    def _threads_cover_workers(cls, value: int, info: ValidationInfo) -> int:
        workers = info.data.get("sync_workers")
        if workers is not None and value < workers:
            raise ValueError(f"must be at least sync_workers ({workers})")
        return value

    @property
    def per_tool_limit(self) -> int:
        """The limit of a tool that sets no ``max_concurrent``."""
        if self.max_concurrent_per_tool is not None:
            return self.max_concurrent_per_tool
        return max(1, (self.max_concurrent_calls + 1) // 2)

    @classmethod
    def from_sections(cls, **sections: Any) -> DispatchPolicy:
        """The policy of the config's sections (``defaults=config.defaults,
        dispatch=config.dispatch``), each read by the keys :func:`section_keys` gives,
        with a new :attr:`waiting` bound of ``max_waiting_calls_total``."""
        values = {
            name: getattr(sections[section], key)
            for section in sections
            for name, key in section_keys(section).items()
        }
        return cls(**values, waiting=WaitingBound(values["max_waiting_calls_total"]))


def section_keys(section: str) -> Mapping[str, str]:
    """``{field name: config key}`` of the :class:`DispatchPolicy` fields read from
    ``section`` (``"defaults"`` or ``"dispatch"``), in declaration order."""
    keys: dict[str, str] = {}
    for f in dataclasses.fields(DispatchPolicy):
        where = f.metadata.get(SECTION)
        if where is not None and where[0] == section:
            keys[f.name] = where[1] or f.name
    return keys
