"""Tool definitions in the formats Tavus accepts, and Tavus's limits on them.

- :func:`to_legacy_tool`: an LLM tool for the persona's ``layers.llm.tools`` (OpenAI function
  format, protocol reference §7.1);
- :func:`to_registry_tool`: a ``POST /v2/tools`` body (§7.2), delivered by app-message so
  the calls reach the bot in the Daily room;
- :func:`to_perception_tool`: a Raven tool for ``layers.perception.visual_tools`` or
  ``audio_tools`` (§7.3);
- :func:`tool_definitions`: all of them at once; :func:`limit_problems`: what Tavus would
  reject.

Every function returns fresh dicts: changing them does not change the specs.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Sequence
from typing import Any, Final

from cvibot.tools.options import OMIT, Origin, tavus_fields
from cvibot.tools.schema import RESERVED_PREFIX, reserved_properties
from cvibot.tools.spec import ToolSpec, name_problem

__all__ = [
    "MAX_TOOLS",
    "MAX_TOOL_SIZE",
    "limit_problems",
    "to_legacy_tool",
    "to_perception_tool",
    "to_registry_tool",
    "tool_definitions",
]

#: Most tools Tavus attaches to one persona / PAL (§7.2).
MAX_TOOLS: Final = 50
#: Most characters of a tool's description plus its JSON-serialized parameters (§7.2).
MAX_TOOL_SIZE: Final = 10_000


def _function_format(spec: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": spec.name,
            "description": spec.description,
            "parameters": copy.deepcopy(spec.parameters),
        },
    }


def to_legacy_tool(spec: ToolSpec) -> dict[str, Any]:
    """``{"type": "function", "function": {"name", "description", "parameters"}}`` (§7.1).

    Raises ``ValueError`` for a perception tool (see :func:`to_perception_tool`).
    """
    if spec.is_perception:
        raise ValueError(
            f"tool {spec.name!r} is a {spec.origin.value} perception tool, not an LLM tool; "
            "use to_perception_tool()"
        )
    return _function_format(spec)


def to_perception_tool(spec: ToolSpec) -> dict[str, Any]:
    """A Raven perception tool in OpenAI function format, for ``visual_tools`` or
    ``audio_tools`` by ``spec.origin`` (§7.3). Raises ``ValueError`` for an LLM tool."""
    if not spec.is_perception:
        raise ValueError(
            f"tool {spec.name!r} is an LLM tool, not a perception tool; use to_legacy_tool()"
        )
    return _function_format(spec)


def to_registry_tool(spec: ToolSpec) -> dict[str, Any]:
    """The ``POST /v2/tools`` body of ``spec`` (§7.2).

    ``on_call`` defaults to ``"generate_filler"`` for LLM tools and is ``null`` for perception
    tools (Tavus's rule). ``on_resolve`` defaults to ``"generate_response"`` for LLM tools
    (cvibot answers with ``conversation.tool_result`` and the replica speaks from it) and is
    ``"fire_and_forget"`` for perception tools. ``static_filler`` appears only when set.
    ``delivery`` is ``{"app_message": true}``: the calls must reach the Daily room.
    """
    body: dict[str, Any] = {
        "name": spec.name,
        "description": spec.description,
        "parameters": copy.deepcopy(spec.parameters),
        "origin": spec.origin.value,
    }
    for name, tavus in tavus_fields().items():
        value = getattr(spec, name)
        if value is None:
            value = tavus.perception if spec.is_perception else tavus.export
        if value is not OMIT:
            body[name] = value
    body["delivery"] = {"app_message": True}
    return body


def tool_definitions(specs: Iterable[ToolSpec]) -> dict[str, Any]:
    """Every definition of ``specs``, for a persona PATCH and for the tools registry::

        {"persona": {"layers": {"llm": {"tools": [<legacy>...]},
                                "perception": {"visual_tools": [...], "audio_tools": [...]}}},
         "tools": [<registry body>...]}

    Empty perception lists are left out, and ``perception`` too when both are.
    """
    specs = list(specs)
    layers: dict[str, Any] = {
        "llm": {"tools": [to_legacy_tool(s) for s in specs if not s.is_perception]}
    }
    perception = {
        key: [to_perception_tool(s) for s in specs if s.origin is origin]
        for key, origin in (("visual_tools", Origin.VISION), ("audio_tools", Origin.AUDIO))
    }
    perception = {key: tools for key, tools in perception.items() if tools}
    if perception:
        layers["perception"] = perception
    return {"persona": {"layers": layers}, "tools": [to_registry_tool(s) for s in specs]}


def limit_problems(specs: Sequence[ToolSpec]) -> list[str]:
    """What Tavus would reject in ``specs`` (§7.2), one human-readable message each.

    Checks: more than :data:`MAX_TOOLS` tools; a name used twice; a name breaking
    ``^[a-zA-Z_][a-zA-Z0-9_]{0,63}$``; description plus serialized parameters over
    :data:`MAX_TOOL_SIZE` characters; a property named with the reserved ``tavus_`` prefix,
    nested ones included. An empty list means nothing known to be wrong.
    """
    problems: list[str] = []
    if len(specs) > MAX_TOOLS:
        problems.append(f"{len(specs)} tools, more than Tavus's limit of {MAX_TOOLS} per persona")
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            problems.append(f"tool {spec.name!r}: the name is used by more than one tool")
        seen.add(spec.name)
        problem = name_problem(spec.name)
        if problem is not None:
            problems.append(f"tool {spec.name!r}: the name {problem}")
        size = len(spec.description) + len(json.dumps(spec.parameters))
        if size > MAX_TOOL_SIZE:
            problems.append(
                f"tool {spec.name!r}: description and parameters take {size:,} characters, "
                f"more than Tavus's limit of {MAX_TOOL_SIZE:,}"
            )
        reserved = reserved_properties(spec.parameters)
        if reserved:
            problems.append(
                f"tool {spec.name!r}: parameter(s) {', '.join(map(repr, reserved))} use the "
                f"prefix {RESERVED_PREFIX!r}, which Tavus reserves"
            )
    return problems
