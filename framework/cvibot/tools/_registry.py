"""The tools of one bot, by name: built once at start-up, read-only afterwards."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

from cvibot._errors import DuplicateToolError
from cvibot.tools._spec import ToolSpec

__all__ = ["ToolRegistry"]


class ToolRegistry(Mapping[str, ToolSpec]):
    """An immutable mapping from tool name to :class:`ToolSpec`, in registration order.

    Build it with :meth:`build`; "changing" it (:meth:`apply_overrides`) returns a new
    registry, so the dispatcher can read one without locks.
    """

    __slots__ = ("_specs",)

    _specs: Mapping[str, ToolSpec]

    def __init__(self, specs: Iterable[ToolSpec] = ()) -> None:
        """Same as :meth:`build`."""
        by_name: dict[str, ToolSpec] = {}
        for spec in specs:
            first = by_name.get(spec.name)
            if first is None:
                by_name[spec.name] = spec
            elif first.function is not spec.function:
                raise DuplicateToolError(
                    spec.name, first.plugin or "<unknown>", spec.plugin or "<unknown>"
                )
        self._specs = MappingProxyType(by_name)

    @classmethod
    def build(cls, specs: Iterable[ToolSpec]) -> ToolRegistry:
        """Register ``specs`` (``spec.plugin`` names each one's owner).

        The very same function registered twice counts once (the first spec is kept); two
        different functions under one name raise
        :class:`~cvibot._errors.DuplicateToolError` naming both plugins (``"<unknown>"``
        when a spec has no plugin).
        """
        return cls(specs)

    def __getitem__(self, name: str) -> ToolSpec:
        return self._specs[name]

    def get(self, name: str, default: Any = None) -> Any:
        # One lookup, not Mapping.get's __getitem__ and KeyError: once per tool call.
        return self._specs.get(name, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self._specs)!r})"

    def apply_overrides(self, overrides: Mapping[str, Mapping[str, Any]]) -> ToolRegistry:
        """Return a new registry with per-tool option overrides applied.

        ``overrides`` maps a tool name to :meth:`ToolSpec.with_options` keyword arguments,
        e.g. ``{"lookup_order": {"reply": "echo", "timeout": 5}}`` from the config. Raises
        ``KeyError`` naming the unknown tool(s) and listing the known ones,
        :class:`~cvibot._errors.ToolDefinitionError` for a bad option, and
        :class:`~cvibot._errors.DuplicateToolError` if a renamed tool collides with another.
        """
        unknown = [name for name in overrides if name not in self._specs]
        if unknown:
            raise KeyError(
                f"overrides for unknown tool(s) {', '.join(map(repr, unknown))}; "
                f"known tools: {', '.join(self._specs) or '(none)'}"
            )
        return type(self)(
            spec.with_options(**overrides[name]) if name in overrides else spec
            for name, spec in self._specs.items()
        )

    def llm_tools(self) -> list[ToolSpec]:
        """The tools Tavus's LLM calls (``conversation.tool_call``, origin ``llm``)."""
        return [spec for spec in self._specs.values() if not spec.is_perception]

    def perception_tools(self) -> list[ToolSpec]:
        """The Raven perception tools (``conversation.perception_tool_call``, vision/audio)."""
        return [spec for spec in self._specs.values() if spec.is_perception]
