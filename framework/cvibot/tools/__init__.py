"""Tools: the ``@tool`` decorator, tool specs, the registry and Tavus tool definitions.

Public for plugin authors who build tools at run time (:func:`dynamic_tool`, as the
``cvibot-http`` and ``cvibot-faq`` plugins do) and check tool settings the way ``@tool``
does (:class:`ToolOptions`, :func:`name_problem`, the ``ON_CALL_VALUES`` and
``ON_RESOLVE_VALUES`` Tavus accepts, the ``RESERVED_PREFIX`` of cvibot's own arguments).
Protocol reference §7 describes the formats; :mod:`cvibot.tools._schema` the schema rules.
"""

from __future__ import annotations

from cvibot.tools._decorator import build_tool_spec, collect_tools, get_tool_spec, tool
from cvibot.tools._dynamic import dynamic_handler, dynamic_tool
from cvibot.tools._export import (
    limit_problems,
    to_legacy_tool,
    to_perception_tool,
    to_registry_tool,
    tool_definitions,
)
from cvibot.tools._options import (
    ON_CALL_VALUES,
    ON_RESOLVE_VALUES,
    Origin,
    ReplyMode,
    ToolOptions,
    name_problem,
)
from cvibot.tools._registry import ToolRegistry
from cvibot.tools._schema import RESERVED_PREFIX
from cvibot.tools._spec import ArgumentsError, ToolSpec

__all__ = [
    "ON_CALL_VALUES",
    "ON_RESOLVE_VALUES",
    "RESERVED_PREFIX",
    "ArgumentsError",
    "Origin",
    "ReplyMode",
    "ToolOptions",
    "ToolRegistry",
    "ToolSpec",
    "build_tool_spec",
    "collect_tools",
    "dynamic_handler",
    "dynamic_tool",
    "get_tool_spec",
    "limit_problems",
    "name_problem",
    "to_legacy_tool",
    "to_perception_tool",
    "to_registry_tool",
    "tool",
    "tool_definitions",
]
