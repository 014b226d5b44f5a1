"""Running a sync plan against Tavus: the writing half of a sync (protocol reference
§7.1, §7.2, §8.1).

Registry plans run in this order: create the new tools (``POST /tools``), update the
changed fields (``PATCH /tools/{id}``, only those fields), attach (``POST
/pals/{id}/tools``, up to 50 ids a request) and detach (``DELETE
/pals/{id}/tools/{tool_id}``); detaching comes before attaching when the persona would
otherwise hold more than 50 tools. A persona plan is one ``PATCH /personas/{id}``
(all-or-nothing). An empty plan sends nothing.

When a request fails, :class:`ApplyFailed` says what was done before it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from cvibot._errors import SyncError
from cvibot._sync.persona_plan import PersonaPlan
from cvibot._sync.plan import RegistryPlan, SyncPlan
from cvibot.tavus._api_errors import TavusAPIError
from cvibot.tavus._tools_api import MAX_ATTACH

if TYPE_CHECKING:
    from cvibot.tavus import TavusClient

__all__ = ["Applied", "ApplyFailed", "Done", "apply_plan"]

Action = Literal["create", "update", "attach", "detach", "patch"]


@dataclass(frozen=True)
class Done:
    """One change Tavus accepted: ``name`` is the tool's (the JSON Pointer for
    ``patch``), ``tool_id`` the registry id (None for ``patch``), ``detail`` the fields of
    an ``update`` (``"description, parameters"``) or the operation of a ``patch``."""

    action: Action
    name: str
    tool_id: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class Applied:
    """What a sync did, in order."""

    done: tuple[Done, ...] = ()

    def count(self, action: Action) -> int:
        """How many changes of kind ``action`` were made."""
        return Counter(d.action for d in self.done)[action]


class ApplyFailed(SyncError):
    """A request of the sync failed: ``error`` is the Tavus error (its one line is this
    error's message) and ``applied`` what was done before it."""

    def __init__(self, error: TavusAPIError, applied: Applied) -> None:
        super().__init__(str(error))
        self.error = error
        self.applied = applied


async def apply_plan(api: TavusClient, plan: SyncPlan) -> Applied:
    """Make the changes of ``plan`` (see the module docstring); what was done.

    Raises :class:`ApplyFailed` when a request fails.
    """
    done: list[Done] = []
    try:
        if isinstance(plan, RegistryPlan):
            await _apply_registry(api, plan, done)
        elif isinstance(plan, PersonaPlan):
            await _apply_persona(api, plan, done)
        else:
            raise TypeError(f"not a sync plan: {plan!r}")
    except TavusAPIError as exc:
        raise ApplyFailed(exc, Applied(tuple(done))) from exc
    return Applied(tuple(done))


async def _apply_registry(api: TavusClient, plan: RegistryPlan, done: list[Done]) -> None:
    ids: dict[str, str] = {}
    for create in plan.creates:
        tool = await api.create_tool(create.body)
        ids[create.name] = tool.tool_id
        done.append(Done("create", create.name, tool.tool_id))
    for update in plan.updates:
        await api.update_tool(update.tool_id, update.body())
        fields = ", ".join(change.field for change in update.changes)
        done.append(Done("update", update.name, update.tool_id, fields))
    if plan.detach_first:
        await _detach(api, plan, done)
    attaches = [(a.name, a.tool_id or ids[a.name]) for a in plan.attaches]
    for start in range(0, len(attaches), MAX_ATTACH):
        batch = attaches[start : start + MAX_ATTACH]
        await api.attach_tools(plan.persona_id, [tool_id for _, tool_id in batch])
        done.extend(Done("attach", name, tool_id) for name, tool_id in batch)
    if not plan.detach_first:
        await _detach(api, plan, done)


async def _detach(api: TavusClient, plan: RegistryPlan, done: list[Done]) -> None:
    for detach in plan.detaches:
        await api.detach_tool(plan.persona_id, detach.tool_id)
        done.append(Done("detach", detach.name, detach.tool_id))


async def _apply_persona(api: TavusClient, plan: PersonaPlan, done: list[Done]) -> None:
    if not plan.operations:
        return
    await api.patch_persona(plan.persona_id, plan.operations)
    done.extend(Done("patch", str(op["path"]), None, str(op["op"])) for op in plan.operations)
