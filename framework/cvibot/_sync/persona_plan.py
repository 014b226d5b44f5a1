"""The persona target of ``cvibot tools sync`` (protocol reference §7.1, §7.3): the
JSON Patch that makes a persona's inline tool lists the bot's.

Managed lists (JSON Pointers into the persona document):

- ``/layers/llm/tools``: the LLM tools (§7.1), always;
- ``/layers/perception/visual_tools`` and ``/layers/perception/audio_tools``: the
  vision and audio tools (§7.3), when the bot has perception tools.

A list is compared tool by tool, by ``function.name`` (:func:`~.compare.legacy_changes`),
so a list holding the same tools in another order is unchanged; a missing list equals an
empty one. Each list that differs is patched as a whole: ``replace`` when the key exists,
else ``add``, at the deepest object that exists (``add /layers/perception`` with both
lists when the persona has no perception layer). Lists that are equal, and every other
key of the persona, are left alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from cvibot._sync.tavus_limits import LimitsExceeded, check_limits
from cvibot._sync.tool_compare import FieldChange, legacy_changes, legacy_name
from cvibot.tools._export import to_legacy_tool, to_perception_tool
from cvibot.tools._options import Origin
from cvibot.tools._spec import ToolSpec

__all__ = ["LLM_TOOLS", "PersonaPlan", "ToolChange", "ToolListDiff", "plan_persona"]

LLM_TOOLS: Final = ("layers", "llm", "tools")
_VISUAL_TOOLS: Final = ("layers", "perception", "visual_tools")
_AUDIO_TOOLS: Final = ("layers", "perception", "audio_tools")


@dataclass(frozen=True)
class ToolChange:
    """A tool of a list whose definition differs: ``changes`` by field."""

    name: str
    changes: tuple[FieldChange, ...]


@dataclass(frozen=True)
class ToolListDiff:
    """How one managed list (``path``, a JSON Pointer) differs, tool by tool, names sorted.

    ``removed`` also names entries without a ``function.name`` (``<entry N>``) and the
    repeats of a name. ``rewrite`` is true when the list must be written although no tool
    differs (it is not a list, or repeats a name).
    """

    path: str
    added: tuple[str, ...] = ()
    updated: tuple[ToolChange, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    rewrite: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed or self.rewrite)


@dataclass(frozen=True)
class PersonaPlan:
    """The changes of a persona sync: ``lists`` (each managed list, changed or not) and
    the JSON Patch ``operations`` (RFC 6902 dicts; empty when nothing differs)."""

    persona_id: str
    tools: tuple[str, ...]
    lists: tuple[ToolListDiff, ...]
    operations: tuple[dict[str, Any], ...]

    @property
    def empty(self) -> bool:
        """True when the persona already holds the bot's tools: nothing to send."""
        return not self.operations


def plan_persona(
    specs: Sequence[ToolSpec], persona: Mapping[str, Any], persona_id: str
) -> PersonaPlan:
    """The persona plan for making the persona document ``persona`` (``GET
    /personas/{id}``) hold ``specs`` as inline tools (see the module docstring).

    Raises :class:`~cvibot._sync.tavus_limits.LimitsExceeded` first, like ``check_limits``,
    also for a ``delivery="api"`` tool: inline tools always reach the room, so only the
    registry target can deliver a tool's calls over HTTPS.
    """
    check_limits(specs)
    api_tools = sorted(spec.name for spec in specs if spec.delivery == "api")
    if api_tools:
        raise LimitsExceeded(
            [
                f"tool {name!r}: delivery 'api' needs the registry target (inline persona "
                "tools are always delivered to the room)"
                for name in api_tools
            ]
        )
    ordered = sorted(specs, key=lambda s: s.name)
    wanted: list[tuple[tuple[str, ...], list[dict[str, Any]]]] = [
        (LLM_TOOLS, [to_legacy_tool(s) for s in ordered if not s.is_perception])
    ]
    if any(s.is_perception for s in ordered):
        for where, origin in ((_VISUAL_TOOLS, Origin.VISION), (_AUDIO_TOOLS, Origin.AUDIO)):
            wanted.append((where, [to_perception_tool(s) for s in ordered if s.origin is origin]))
    diffs: list[ToolListDiff] = []
    changed: list[tuple[tuple[str, ...], list[dict[str, Any]]]] = []
    for path, tools in wanted:
        diff = _diff_list(_pointer(path), _get(persona, path), tools)
        diffs.append(diff)
        if diff.changed:
            changed.append((path, tools))
    return PersonaPlan(
        persona_id=persona_id,
        tools=tuple(s.name for s in ordered),
        lists=tuple(diffs),
        operations=tuple(_operations(persona, changed)),
    )


def _diff_list(path: str, have: Any, want: list[dict[str, Any]]) -> ToolListDiff:
    entries = have if isinstance(have, list) else []
    old: dict[str, Mapping[str, Any]] = {}
    removed: list[str] = []
    for n, entry in enumerate(entries):
        name = legacy_name(entry)
        if name is None:
            removed.append(f"<entry {n}>")
        elif name in old:
            removed.append(name)
        else:
            old[name] = entry
    added: list[str] = []
    updated: list[ToolChange] = []
    unchanged: list[str] = []
    for tool in want:
        name = str(tool["function"]["name"])
        if name not in old:
            added.append(name)
            continue
        changes = legacy_changes(old.pop(name), tool)
        if changes:
            updated.append(ToolChange(name, tuple(changes)))
        else:
            unchanged.append(name)
    removed.extend(old)
    return ToolListDiff(
        path=path,
        added=tuple(added),
        updated=tuple(updated),
        removed=tuple(sorted(removed)),
        unchanged=tuple(unchanged),
        rewrite=have is not None and not isinstance(have, list),
    )


def _get(doc: Any, path: Sequence[str]) -> Any:
    for key in path:
        if not isinstance(doc, Mapping):
            return None
        doc = doc.get(key)
    return doc


def _pointer(path: Sequence[str]) -> str:
    return "".join("/" + key.replace("~", "~0").replace("/", "~1") for key in path)


def _operations(
    doc: Mapping[str, Any], changed: Sequence[tuple[tuple[str, ...], list[dict[str, Any]]]]
) -> list[dict[str, Any]]:
    """``replace`` for each changed list whose key exists, else ``add`` of the missing
    part at the deepest existing object; lists under the same missing part share it."""
    ops: list[dict[str, Any]] = []
    added: dict[str, dict[str, Any]] = {}  # pointer of an `add` of new objects -> its value
    for path, tools in changed:
        node: Any = doc
        for depth, key in enumerate(path):
            here = _pointer(path[: depth + 1])
            if depth == len(path) - 1:
                op = "replace" if key in node else "add"
                ops.append({"op": op, "path": here, "value": tools})
                break
            child = node.get(key)
            if isinstance(child, Mapping):
                node = child
                continue
            rest, value = path[depth + 1 :], added.get(here)
            if value is None:
                value = added[here] = {}
                ops.append({"op": "add", "path": here, "value": value})
            for part in rest[:-1]:
                value = value.setdefault(part, {})
            value[rest[-1]] = tools
            break
    return ops
