"""The tools endpoints of the Tavus client (protocol reference §7.2, §8.1): the account's
tools registry (``/tools``) and the tools attached to a PAL (``/pals/{id}/tools``).

:class:`ToolsEndpoints` is a base of :class:`~cvibot.tavus._client.TavusClient`; use
them from there::

    async with TavusClient.from_env() as api:
        mine = await api.list_tools()
        tool = await api.create_tool(to_registry_tool(spec))
        await api.attach_tools("p123", [tool.tool_id])

Retries (see :mod:`cvibot.tavus._retry`): reads, ``update_tool`` (it sets values, so a
second try changes nothing more) and ``attach_tools`` (attaching an attached tool is a
no-op) follow the rule of safe requests. ``create_tool`` and the two deletes follow
the rule of creating requests: a create that reached Tavus and is tried again fails
because the name is taken, and a delete tried again fails as not found, so they are
only retried when they surely did not arrive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

from cvibot.tavus._api_errors import UnexpectedResponse
from cvibot.tavus._base_client import BaseClient
from cvibot.tavus._paths import segment
from cvibot.tavus._tool_models import (
    CreateToolRequest,
    RegistryTool,
    UpdateToolRequest,
    tool_body,
)

__all__ = ["MAX_ATTACH", "ToolsEndpoints"]

MAX_ATTACH: Final = 50
"""Most tool ids one ``POST /pals/{id}/tools`` takes, and most tools a PAL holds (§7.2)."""

_PAGE_SIZE: Final = 100
_MAX_PAGES: Final = 1000  # a server that never stops paging is an error, not a hang

ToolType = Literal["user", "system"]


class ToolsEndpoints(BaseClient):
    """The ``/tools`` and ``/pals/{id}/tools`` endpoints (§7.2). Every method raises the
    mapped :mod:`cvibot.tavus._api_errors` classes (``BadRequest`` with Tavus's message,
    ``Unauthorized``, ``NotFound``, ``TavusUnreachable``, ``UnexpectedResponse`` for an
    answer that is not the documented shape)."""

    # -- the account's registry ----------------------------------------------------------

    async def list_tools(
        self, *, tool_type: ToolType | None = "user", page_size: int = _PAGE_SIZE
    ) -> list[RegistryTool]:
        """Every tool of the account: ``GET /tools?limit=&page=&type=``, all pages.

        ``tool_type``: ``"user"`` (default: the account's own tools), ``"system"`` (the
        tools Tavus provides) or None (both). Pages (1-indexed, ``page_size`` tools each)
        are read until ``total_count`` tools arrived or a page comes back short.
        Raises ``ValueError`` for a ``page_size`` below 1.
        """
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        tools: dict[str, RegistryTool] = {}
        for page in range(1, _MAX_PAGES + 1):
            params = {"limit": str(page_size), "page": str(page)}
            if tool_type is not None:
                params["type"] = tool_type
            data = await self._request("GET", "/tools", params=params)
            batch, total = self._tool_page(data, "GET", "/tools")
            for tool in batch:
                tools.setdefault(tool.tool_id, tool)
            done = len(tools) >= total if total is not None else len(batch) < page_size
            if done or not batch:
                return list(tools.values())
        raise UnexpectedResponse(
            f"the tool list did not end within {_MAX_PAGES} pages", method="GET", path="/tools"
        )

    async def get_tool(self, tool_id: str) -> RegistryTool:
        """One tool: ``GET /tools/{tool_id}``. Raises ``NotFound`` for an unknown id."""
        path = f"/tools/{segment(tool_id, 'tool_id')}"
        data = await self._request("GET", path, resource=f"tool {tool_id!r}")
        return self._parse(RegistryTool, data, "GET", path)

    async def create_tool(self, body: CreateToolRequest | Mapping[str, Any]) -> RegistryTool:
        """Create a tool: ``POST /tools`` (§7.2); returns it with its ``tool_id``.

        ``body``: a :class:`CreateToolRequest` or a dict of its fields, such as
        :func:`cvibot.tools.to_registry_tool` returns. Raises ``pydantic.ValidationError``
        (a ``ValueError``) for an unknown field or a wrong type, and ``BadRequest`` (or
        another :class:`~cvibot.tavus._api_errors.TavusAPIError` for a 409) when Tavus refuses
        it: a bad name, a name taken, a limit broken.
        """
        request = (
            body if isinstance(body, CreateToolRequest) else CreateToolRequest.model_validate(body)
        )
        data = await self._request(
            "POST", "/tools", json=tool_body(request), resource="tool", idempotent=False
        )
        return self._parse(RegistryTool, data, "POST", "/tools")

    async def update_tool(
        self, tool_id: str, changes: UpdateToolRequest | Mapping[str, Any]
    ) -> RegistryTool:
        """Change some fields of a tool: ``PATCH /tools/{tool_id}`` (§7.2); the others keep
        their values. ``changes``: an :class:`UpdateToolRequest` or a dict, e.g.
        ``{"description": "..."}``; a ``None`` value is sent as ``null``. Returns the tool.

        Raises ``ValueError`` when ``changes`` is empty or has an unknown field,
        ``NotFound``, ``BadRequest`` (a system tool, a broken rule).
        """
        request = (
            changes
            if isinstance(changes, UpdateToolRequest)
            else UpdateToolRequest.model_validate(changes)
        )
        body = tool_body(request)
        if not body:
            raise ValueError("a tool update needs at least one field")
        path = f"/tools/{segment(tool_id, 'tool_id')}"
        data = await self._request("PATCH", path, json=body, resource=f"tool {tool_id!r}")
        return self._parse(RegistryTool, data, "PATCH", path)

    async def delete_tool(self, tool_id: str) -> None:
        """Delete a tool from the account: ``DELETE /tools/{tool_id}``. It is detached
        from every PAL. Raises ``NotFound``, ``BadRequest`` for a system tool."""
        path = f"/tools/{segment(tool_id, 'tool_id')}"
        await self._request("DELETE", path, resource=f"tool {tool_id!r}", idempotent=False)

    # -- a PAL's attached tools ----------------------------------------------------------

    async def list_pal_tools(self, pal_id: str) -> list[RegistryTool]:
        """The registry tools attached to a PAL (persona): ``GET /pals/{pal_id}/tools``.

        Inline ``layers.llm.tools`` (§7.1) and system tools are not in it. Raises
        ``NotFound`` for an unknown PAL.
        """
        path = f"/pals/{segment(pal_id, 'pal_id')}/tools"
        data = await self._request("GET", path, resource=f"persona {pal_id!r}")
        return self._tool_page(data, "GET", path)[0]

    async def attach_tools(self, pal_id: str, tool_ids: Sequence[str]) -> list[RegistryTool]:
        """Attach tools to a PAL: ``POST /pals/{pal_id}/tools`` ``{"tool_ids": [...]}``
        (§7.2); returns the ``data`` of the answer (the attached tools).

        Raises ``ValueError`` for no ids, an empty id, a string instead of a list, or more
        than :data:`MAX_ATTACH` ids,
        ``NotFound`` for an unknown PAL, ``BadRequest`` when Tavus refuses (an unknown or
        system tool, more than 50 attached).
        """
        if isinstance(tool_ids, str):
            raise ValueError("tool_ids must be a list of tool ids, not one string")
        ids = list(tool_ids)
        if not ids:
            raise ValueError("attach_tools needs at least one tool id")
        if len(ids) > MAX_ATTACH:
            raise ValueError(f"at most {MAX_ATTACH} tools can be attached at once, not {len(ids)}")
        if not all(isinstance(i, str) and i for i in ids):
            raise ValueError("tool ids must be non-empty strings")
        path = f"/pals/{segment(pal_id, 'pal_id')}/tools"
        data = await self._request(
            "POST", path, json={"tool_ids": ids}, resource=f"persona {pal_id!r}"
        )
        return self._tool_page(data, "POST", path)[0] if data is not None else []

    async def detach_tool(self, pal_id: str, tool_id: str) -> None:
        """Detach one tool from a PAL: ``DELETE /pals/{pal_id}/tools/{tool_id}``; the tool
        stays in the account. Raises ``NotFound`` when the PAL is unknown or the tool is
        not attached to it."""
        path = f"/pals/{segment(pal_id, 'pal_id')}/tools/{segment(tool_id, 'tool_id')}"
        await self._request(
            "DELETE",
            path,
            resource=f"tool {tool_id!r} on persona {pal_id!r}",
            idempotent=False,
        )

    def _tool_page(
        self, data: Any, method: str, path: str
    ) -> tuple[list[RegistryTool], int | None]:
        """The tools of a ``{"data": [...], "total_count": N}`` answer, and N (None when
        absent); ``UnexpectedResponse`` for another shape."""
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise UnexpectedResponse(
                'the answer is not {"data": [tool, ...]}', method=method, path=path
            )
        total = data.get("total_count")
        count = total if isinstance(total, int) and not isinstance(total, bool) else None
        return [self._parse(RegistryTool, item, method, path) for item in data["data"]], count
