"""Bodies of the Tavus tools registry (``/v2/tools``) and of a PAL's attached tools
(protocol reference §7.2, §8.1).

Request models forbid unknown fields and serialise with :func:`tool_body`, which keeps
exactly the fields the caller set, ``null`` included: an update that clears
``static_filler`` or sets ``on_call`` to ``null`` for a perception tool must send the
``null``. Values are strings as Tavus documents them; they are not narrowed to the
documented choices, so a value Tavus adds later can be sent (Tavus checks them).

:class:`RegistryTool` keeps every key it does not know (``model_extra``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CreateToolRequest", "RegistryTool", "UpdateToolRequest", "tool_body"]


def tool_body(model: BaseModel) -> dict[str, Any]:
    """The JSON body of a tool request: the fields that were set, ``None`` sent as ``null``."""
    return model.model_dump(mode="json", exclude_unset=True)


class _ToolFields(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str | None = None
    parameters: dict[str, Any] | None = None
    """A JSON Schema object; Tavus's default ``{}``."""
    origin: str | None = None
    """``llm`` (default) | ``vision`` | ``audio``."""
    trigger_type: str | None = None
    """``in_call`` (default) | ``post_call``."""
    on_call: str | None = None
    """``generate_filler`` | ``static_filler`` | ``silent`` | ``passthrough``; null for
    vision/audio tools."""
    static_filler: str | None = None
    on_resolve: str | None = None
    """``generate_response`` | ``response_in_result`` | ``add_to_context`` |
    ``fire_and_forget`` (the only one for vision/audio)."""
    delivery: dict[str, Any] | None = None
    """Exactly one of ``{"app_message": true}`` and ``{"api": {...}}``."""
    tags: list[str] | None = None


class CreateToolRequest(_ToolFields):
    """Body of ``POST /tools`` (§7.2), e.g. what :func:`cvibot.tools.to_registry_tool`
    returns. ``name`` follows ``^[a-zA-Z_][a-zA-Z0-9_]{0,63}$`` and is unique in the
    account (Tavus checks both)."""

    name: str = Field(min_length=1)


class UpdateToolRequest(_ToolFields):
    """Body of ``PATCH /tools/{tool_id}`` (§7.2): a partial update, only the fields
    present change."""

    name: str | None = Field(default=None, min_length=1)


class RegistryTool(BaseModel):
    """A tool as ``GET /tools``, ``POST /tools`` and the PAL tool endpoints return it (§7.2).

    Tavus adds ``tool_id``, ``owner_id``, ``is_system_tool`` (true for the tools it
    provides, such as ``end_call``, which cannot be created, updated or deleted) and the
    ISO-8601 ``created_at``/``updated_at``. Only ``tool_id`` and ``name`` are required; any
    other key is in ``model_extra``.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    tool_id: str = Field(min_length=1)
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    origin: str | None = None
    trigger_type: str | None = None
    on_call: str | None = None
    static_filler: str | None = None
    on_resolve: str | None = None
    delivery: dict[str, Any] | None = None
    tags: list[str] | None = None
    owner_id: str | None = None
    is_system_tool: bool = False
    created_at: str | None = None
    updated_at: str | None = None

    def document(self) -> dict[str, Any]:
        """The tool as Tavus sent it: every key received (unknown ones included), and
        no key Tavus left out."""
        return self.model_dump(mode="json", exclude_unset=True)
