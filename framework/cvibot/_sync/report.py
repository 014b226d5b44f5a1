"""The readable form of a sync: the plan as a diff, what was done, and what was done
before a failure. Every function returns lines of text (no trailing newline).

A registry plan::

    tools sync: 3 tools → the tools registry, attached to persona p123
      + create    lookup_order
      ~ update    add_to_cart
          description: "Put a product in the cart." → "Put one product in the cart."
      + attach    lookup_order
      - detach    old_tool
      = unchanged 1 tool
    plan: 1 to create, 1 to update, 1 to attach, 1 to detach, 1 unchanged

Strings are shown around their first difference, cut to about 60 characters with
``…``; objects (``parameters``, ``delivery``) as a unified diff of their pretty JSON.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Sequence
from typing import Any, Final

from cvibot._sync.apply import Applied
from cvibot._sync.persona_plan import PersonaPlan
from cvibot._sync.plan import RegistryPlan, SyncPlan
from cvibot._sync.tool_compare import FieldChange
from cvibot.tools._export import SECRET_PLACEHOLDER

__all__ = ["render_applied", "render_partial", "render_plan", "render_problems"]

_WINDOW: Final = 60  # characters of a string shown
_LEAD: Final = 20  # of which before the first difference


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def render_plan(plan: SyncPlan) -> list[str]:
    """The plan: a header, one line per tool change (field changes indented under an
    update), the unchanged count, and a summary line (``nothing to change: ...`` when
    the plan is empty)."""
    if isinstance(plan, RegistryPlan):
        return _registry_plan(plan)
    return _persona_plan(plan)


def _registry_plan(plan: RegistryPlan) -> list[str]:
    lines = [
        f"tools sync: {_count(len(plan.tools), 'tool')} → the tools registry, "
        f"attached to persona {plan.persona_id}"
    ]
    if plan.empty:
        lines.append(f"nothing to change: persona {plan.persona_id} has the bot's tools as coded")
        return lines
    lines += [f"  + create    {c.name}" for c in plan.creates]
    for update in plan.updates:
        lines.append(f"  ~ update    {update.name}")
        lines += _changes(update.changes, "      ")
    lines += [f"  + attach    {a.name}" for a in plan.attaches]
    lines += [f"  - detach    {d.name}" for d in plan.detaches]
    lines += [f"  · keep      {name} (not delivered to the room)" for name in plan.kept]
    if plan.unchanged:
        lines.append(f"  = unchanged {_count(len(plan.unchanged), 'tool')}")
    lines.append(
        f"plan: {len(plan.creates)} to create, {len(plan.updates)} to update, "
        f"{len(plan.attaches)} to attach, {len(plan.detaches)} to detach, "
        f"{len(plan.unchanged)} unchanged"
    )
    return lines


def _persona_plan(plan: PersonaPlan) -> list[str]:
    lines = [
        f"tools sync: {_count(len(plan.tools), 'tool')} → the inline tools of persona "
        f"{plan.persona_id}"
    ]
    if plan.empty:
        lines.append(f"nothing to change: persona {plan.persona_id} has the bot's tools as coded")
        return lines
    for diff in plan.lists:
        if not diff.changed:
            continue
        lines.append(f"  {diff.path}")
        lines += [f"    + add       {name}" for name in diff.added]
        for change in diff.updated:
            lines.append(f"    ~ update    {change.name}")
            lines += _changes(change.changes, "        ")
        lines += [f"    - remove    {name}" for name in diff.removed]
        if diff.rewrite:
            lines.append("    ! rewrite   (not a list)")
    unchanged = sum(len(diff.unchanged) for diff in plan.lists)
    if unchanged:
        lines.append(f"  = unchanged {_count(unchanged, 'tool')}")
    lines.append(
        f"plan: {sum(len(d.added) for d in plan.lists)} to add, "
        f"{sum(len(d.updated) for d in plan.lists)} to update, "
        f"{sum(len(d.removed) for d in plan.lists)} to remove, {unchanged} unchanged"
    )
    ops = ", ".join(f"{op['op']} {op['path']}" for op in plan.operations)
    lines.append(f"patch: PATCH /personas/{plan.persona_id} with {ops}")
    return lines


def _redacted(change: FieldChange) -> FieldChange:
    """``change`` with a ``delivery.api`` HMAC secret shown as ``********``: a plan is
    printed, and secrets stay out of terminals and CI logs."""
    if change.field != "delivery":
        return change
    return FieldChange(change.field, _no_secret(change.old), _no_secret(change.new))


def _no_secret(delivery: Any) -> Any:
    api = delivery.get("api") if isinstance(delivery, dict) else None
    auth = api.get("auth") if isinstance(api, dict) else None
    if not isinstance(api, dict) or not isinstance(auth, dict) or "secret" not in auth:
        return delivery
    return {**delivery, "api": {**api, "auth": {**auth, "secret": SECRET_PLACEHOLDER}}}


def _changes(changes: Iterable[FieldChange], indent: str) -> list[str]:
    lines: list[str] = []
    for change in map(_redacted, changes):
        if isinstance(change.old, dict | list) or isinstance(change.new, dict | list):
            lines.append(f"{indent}{change.field}:")
            lines += [f"{indent}  {line}" for line in _json_diff(change.old, change.new)]
        else:
            old, new = _scalars(change.old, change.new)
            lines.append(f"{indent}{change.field}: {old} → {new}")
    return lines


def _scalars(old: Any, new: Any) -> tuple[str, str]:
    if not (isinstance(old, str) and isinstance(new, str)):
        return _json(old), _json(new)
    same = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), None)
    start = max(0, (min(len(old), len(new)) if same is None else same) - _LEAD)
    return _clip(old, start), _clip(new, start)


def _clip(text: str, start: int) -> str:
    piece = text[start : start + _WINDOW]
    before = "…" if start > 0 else ""
    after = "…" if start + _WINDOW < len(text) else ""
    return '"' + before + json.dumps(piece, ensure_ascii=False)[1:-1] + after + '"'


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _json_diff(old: Any, new: Any) -> list[str]:
    def pretty(value: Any) -> list[str]:
        return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).splitlines()

    diff = difflib.unified_diff(pretty(old), pretty(new), "tavus", "code", n=1, lineterm="")
    return [line for line in diff if not line.startswith(("---", "+++"))]


def render_applied(plan: SyncPlan, applied: Applied) -> list[str]:
    """The line saying what a sync did (``done: created 1, ...``)."""
    if isinstance(plan, PersonaPlan):
        ops = ", ".join(f"{d.detail} {d.name}" for d in applied.done) or "nothing"
        return [f"done: patched persona {plan.persona_id} ({ops})"]
    return [
        f"done: created {applied.count('create')}, updated {applied.count('update')}, "
        f"attached {applied.count('attach')}, detached {applied.count('detach')} "
        f"(persona {plan.persona_id})"
    ]


def render_partial(applied: Applied) -> list[str]:
    """The line saying what was done before a failure."""
    if not applied.done:
        return ["nothing was changed before the error"]
    items = []
    for d in applied.done:
        detail = d.tool_id or d.detail
        if d.action == "update":
            detail = f"{d.tool_id}: {d.detail}"
        items.append(f"{_PAST[d.action]} {d.name} ({detail})")
    return ["applied before the error: " + ", ".join(items)]


_PAST: Final = {
    "create": "created",
    "update": "updated",
    "attach": "attached",
    "detach": "detached",
    "patch": "patched",
}


def render_problems(problems: Sequence[str]) -> list[str]:
    """Tavus's limits broken: a header and one indented line per problem."""
    header = (
        f"the bot's tools break Tavus's limits ({_count(len(problems), 'problem')}); "
        "nothing was sent:"
    )
    return [header, *(f"  - {p}" for p in problems)]
