"""``cvibot tools sync``: make the tools Tavus knows match the bot's handlers in code
(protocol reference §7, §8).

::

    plan = await read_plan(api, specs, target="registry", persona_id="p123")
    print("\\n".join(render_plan(plan)))
    if not plan.empty:
        applied = await apply_plan(api, plan)

Modules: :mod:`~.tavus_limits` (Tavus's limits, checked before any request), :mod:`~.tool_compare`
(semantic comparison of definitions), :mod:`~.plan` (the registry plan and the plan
types), :mod:`~.persona_plan` (the persona's JSON Patch), :mod:`~.remote` (reading
Tavus and planning), :mod:`~.apply` (writing), :mod:`~.report` (the readable diff).
"""

from __future__ import annotations

from cvibot._sync.apply import Applied, ApplyFailed, Done, apply_plan
from cvibot._sync.persona_plan import PersonaPlan, ToolChange, ToolListDiff, plan_persona
from cvibot._sync.plan import (
    AttachTool,
    CreateTool,
    DetachTool,
    RegistryPlan,
    SyncPlan,
    UpdateTool,
    plan_registry,
)
from cvibot._sync.remote import Target, read_plan
from cvibot._sync.report import render_applied, render_partial, render_plan, render_problems
from cvibot._sync.tavus_limits import LimitsExceeded, check_limits
from cvibot._sync.tool_compare import FieldChange

__all__ = [
    "Applied",
    "ApplyFailed",
    "AttachTool",
    "CreateTool",
    "DetachTool",
    "Done",
    "FieldChange",
    "LimitsExceeded",
    "PersonaPlan",
    "RegistryPlan",
    "SyncPlan",
    "Target",
    "ToolChange",
    "ToolListDiff",
    "UpdateTool",
    "apply_plan",
    "check_limits",
    "plan_persona",
    "plan_registry",
    "read_plan",
    "render_applied",
    "render_partial",
    "render_plan",
    "render_problems",
]
