"""What ``cvibot tools sync`` will change, computed from the bot's tool specs and what
Tavus has, before anything is sent (protocol reference §7).

- :func:`~cvibot._sync.tavus_limits.check_limits`: Tavus's limits on the specs, checked by
  both planners before anything else; :class:`~cvibot._sync.tavus_limits.LimitsExceeded` lists
  every problem.
- :func:`plan_registry`: the registry target (§7.2): which tools to create in the account,
  which to update (only the fields that differ), which to attach to the persona (PAL)
  and which attached tools to detach because the code no longer has them (only tools
  delivered to the room by app-message: API-delivered and post-call tools stay). Account
  tools are never deleted and system tools are never touched.
- :func:`~cvibot._sync.persona_plan.plan_persona`: the persona target (§7.1, §7.3), the
  JSON Patch of the persona's inline tool lists.

The functions only compute: no request is sent here (reading is :mod:`~.remote`, writing
:mod:`~.apply`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from cvibot._sync.persona_plan import PersonaPlan
from cvibot._sync.tavus_limits import check_limits
from cvibot._sync.tool_compare import FieldChange, registry_changes
from cvibot.tavus._tool_models import RegistryTool
from cvibot.tavus._tools_api import MAX_ATTACH
from cvibot.tools._export import ApiDelivery, to_registry_tool
from cvibot.tools._spec import ToolSpec

__all__ = [
    "AttachTool",
    "CreateTool",
    "DetachTool",
    "RegistryPlan",
    "SyncPlan",
    "UpdateTool",
    "plan_registry",
]


@dataclass(frozen=True)
class CreateTool:
    """Create the tool ``name`` in the account: ``POST /tools`` with ``body``."""

    name: str
    body: dict[str, Any]


@dataclass(frozen=True)
class UpdateTool:
    """Change the fields ``changes`` of the account's tool ``tool_id``."""

    name: str
    tool_id: str
    changes: tuple[FieldChange, ...]

    def body(self) -> dict[str, Any]:
        """The ``PATCH /tools/{tool_id}`` body: the changed fields' new values only."""
        return {change.field: change.new for change in self.changes}


@dataclass(frozen=True)
class AttachTool:
    """Attach the tool ``name`` to the persona; ``tool_id`` is None for a tool this sync
    creates (its id is known once it exists)."""

    name: str
    tool_id: str | None


@dataclass(frozen=True)
class DetachTool:
    """Detach the tool ``name`` (``tool_id``) from the persona; it stays in the account."""

    name: str
    tool_id: str


@dataclass(frozen=True)
class RegistryPlan:
    """The changes of a registry sync for ``persona_id``, each tuple sorted by name.

    ``tools``: the names of the bot's tools. ``unchanged``: those already in the account
    as the code describes them and attached. ``kept``: attached tools the code lacks
    that are not the bot's to detach, because their calls never reach the room (see
    :func:`reaches_the_room`). ``detach_first``: detach before attaching,
    since attaching first would take the persona over Tavus's 50 tools.
    """

    persona_id: str
    tools: tuple[str, ...]
    creates: tuple[CreateTool, ...] = ()
    updates: tuple[UpdateTool, ...] = ()
    attaches: tuple[AttachTool, ...] = ()
    detaches: tuple[DetachTool, ...] = ()
    unchanged: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    detach_first: bool = False

    @property
    def empty(self) -> bool:
        """True when Tavus already matches the code: nothing to send."""
        return not (self.creates or self.updates or self.attaches or self.detaches)


SyncPlan: TypeAlias = RegistryPlan | PersonaPlan
"""A plan of either target."""


def reaches_the_room(tool: RegistryTool) -> bool:
    """Whether calls of ``tool`` arrive in the Daily room as app-messages, where a bot
    answers them: an in-call tool delivered by ``app_message`` (§7.2). A tool Tavus
    calls over HTTPS (``delivery.api``) or a post-call action belongs to someone else,
    and sync leaves it attached."""
    delivery = tool.delivery or {"app_message": True}
    return bool(delivery.get("app_message")) and tool.trigger_type != "post_call"


def plan_registry(
    specs: Sequence[ToolSpec],
    account: Sequence[RegistryTool],
    attached: Sequence[RegistryTool],
    persona_id: str,
    *,
    api: ApiDelivery | None = None,
) -> RegistryPlan:
    """The registry plan (§7.2) for making ``persona_id``'s attached tools exactly ``specs``.

    ``account``: the account's tools (``GET /tools``); ``attached``: the persona's
    (``GET /pals/{id}/tools``). Tools are matched by name (unique per account); an
    account tool differs from the code when a managed field differs semantically
    (:func:`~cvibot._sync.tool_compare.registry_changes`). System tools are ignored wherever
    they appear. ``api`` is where Tavus sends the calls of ``delivery="api"`` tools
    (``cvibot serve``'s receiver): it is written into their ``delivery.api`` block.

    Raises :class:`~cvibot._sync.tavus_limits.LimitsExceeded` first, and ``ValueError``
    when a ``delivery="api"`` tool has no ``api``.
    """
    check_limits(specs)
    missing = sorted(spec.name for spec in specs if spec.delivery == "api")
    if missing and api is None:
        raise ValueError(
            f"tool(s) {', '.join(missing)} have delivery='api': syncing them needs the public "
            "URL and HMAC secret of cvibot serve (serve.public_url, serve.delivery_api.secret)"
        )
    on_persona = {t.tool_id: t for t in attached if not t.is_system_tool}
    by_name: dict[str, RegistryTool] = {}
    for tool in (*on_persona.values(), *account):
        if not tool.is_system_tool:
            by_name.setdefault(tool.name, tool)
    creates: list[CreateTool] = []
    updates: list[UpdateTool] = []
    attaches: list[AttachTool] = []
    unchanged: list[str] = []
    ordered = sorted(specs, key=lambda s: s.name)
    for spec in ordered:
        body = to_registry_tool(spec, api=api)
        have = by_name.get(spec.name)
        if have is None:
            creates.append(CreateTool(spec.name, body))
            attaches.append(AttachTool(spec.name, None))
            continue
        changes = registry_changes(have.document(), body)
        if changes:
            updates.append(UpdateTool(spec.name, have.tool_id, tuple(changes)))
        if have.tool_id not in on_persona:
            attaches.append(AttachTool(spec.name, have.tool_id))
        elif not changes:
            unchanged.append(spec.name)
    names = {spec.name for spec in specs}
    stale = [t for t in on_persona.values() if t.name not in names]
    detaches = sorted(
        (DetachTool(t.name, t.tool_id) for t in stale if reaches_the_room(t)),
        key=lambda d: (d.name, d.tool_id),
    )
    kept = sorted(t.name for t in stale if not reaches_the_room(t))
    return RegistryPlan(
        persona_id=persona_id,
        tools=tuple(spec.name for spec in ordered),
        creates=tuple(creates),
        updates=tuple(updates),
        attaches=tuple(attaches),
        detaches=tuple(detaches),
        unchanged=tuple(unchanged),
        kept=tuple(kept),
        detach_first=len(on_persona) + len(attaches) > MAX_ATTACH,
    )
