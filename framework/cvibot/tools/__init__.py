"""Tools: the ``@tool`` decorator, tool specs, the registry and Tavus tool definitions.

Protocol reference §7 describes the formats; :mod:`cvibot.tools.schema` the schema rules.
"""

from __future__ import annotations

from cvibot.tools.decorator import build_tool_spec, collect_tools, get_tool_spec, tool
from cvibot.tools.dynamic import dynamic_handler, dynamic_tool
from cvibot.tools.export import (
    limit_problems,
    to_legacy_tool,
    to_perception_tool,
    to_registry_tool,
    tool_definitions,
)
from cvibot.tools.options import Origin, ReplyMode
from cvibot.tools.registry import ToolRegistry
from cvibot.tools.spec import ArgumentsError, ToolSpec

__all__ = [
    "ArgumentsError",
    "Origin",
    "ReplyMode",
    "ToolRegistry",
    "ToolSpec",
    "build_tool_spec",
    "collect_tools",
    "dynamic_handler",
    "dynamic_tool",
    "get_tool_spec",
    "limit_problems",
    "to_legacy_tool",
    "to_perception_tool",
    "to_registry_tool",
    "tool",
    "tool_definitions",
]
