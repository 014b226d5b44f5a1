"""Reading what Tavus has, and planning from it: the read-only half of a sync (protocol
reference §7.1, §7.2, §8.1). Only ``GET`` requests are sent here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, TypeAlias

from cvibot._sync.persona_plan import plan_persona
from cvibot._sync.plan import SyncPlan, plan_registry
from cvibot._sync.tavus_limits import check_limits
from cvibot.tools._export import ApiDelivery
from cvibot.tools._spec import ToolSpec

if TYPE_CHECKING:
    from cvibot.tavus import TavusClient

__all__ = ["Target", "read_plan"]

Target: TypeAlias = Literal["registry", "persona"]
"""Where the tools go: the account's registry attached to the persona (§7.2), or the
persona's inline tools (§7.1, §7.3)."""


async def read_plan(
    api: TavusClient,
    specs: Sequence[ToolSpec],
    *,
    target: Target,
    persona_id: str,
    delivery_api: ApiDelivery | None = None,
) -> SyncPlan:
    """Check the limits, read what Tavus has and plan the sync of ``specs`` to ``target``.

    Registry: ``GET /pals/{persona_id}/tools`` (first, so an unknown persona is a
    ``NotFound`` before the account is read), then every page of ``GET /tools?type=user``.
    Persona: ``GET /personas/{persona_id}``. ``delivery_api`` is where Tavus sends the
    calls of ``delivery="api"`` tools (registry target only, see
    :func:`~cvibot._sync.plan.plan_registry`).

    Raises :class:`~cvibot._sync.tavus_limits.LimitsExceeded` before any request, and the
    :class:`~cvibot.tavus.TavusAPIError` of a failed read.
    """
    check_limits(specs)
    if target == "registry":
        attached = await api.list_pal_tools(persona_id)
        account = await api.list_tools(tool_type="user")
        return plan_registry(specs, account, attached, persona_id, api=delivery_api)
    if target == "persona":
        persona = await api.get_persona(persona_id)
        document = persona.model_dump(mode="json", exclude_unset=True)
        return plan_persona(specs, document, persona_id)
    raise ValueError(f"target must be 'registry' or 'persona', not {target!r}")
