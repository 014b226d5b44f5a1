"""The fake's tools registry and PAL tools (protocol reference §7.2, §8.1): state and
handlers of

- ``GET /tools?limit=&page=&type=``: ``{"data": [...], "total_count": N}``; ``limit``
  1–100 (default 10), ``page`` from 1, ``type`` ``user`` or ``system`` (default both);
- ``POST /tools``: checked by :mod:`~.tool_bodies`; a name already used in the account
  (system tools included) is a 409; answers the tool with ``tool_id`` (``t`` + 11 hex
  digits), ``owner_id``, ``is_system_tool``, ``created_at``, ``updated_at`` and the
  defaults filled in;
- ``GET``, ``PATCH`` (partial: the fields present change, then the whole tool is checked
  again), ``DELETE /tools/{id}`` (also detaches it everywhere; 204); system tools cannot
  be changed or deleted (400);
- ``GET /pals/{id}/tools``: ``{"data": [...]}``, the attached tools (never system ones);
  ``POST`` ``{"tool_ids": [...]}``: attaches (an attached one again is a no-op), 400 for
  an unknown or system tool or more than 50 in all, answers ``{"data": [...]}`` (all
  attached); ``DELETE /pals/{id}/tools/{tool_id}``: detaches (204), 404 when not attached.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, Final

from doubles.fake_tavus.bodies import json_body
from doubles.fake_tavus.ids import new_id, now
from doubles.fake_tavus.records import Refusal, Reply
from doubles.fake_tavus.tool_bodies import (
    MAX_PAL_TOOLS,
    SCRUBBED,
    SECRET_FIELDS,
    attach_request,
    check_tool,
    tool_request,
    with_defaults,
)

__all__ = ["OWNER_ID", "ToolRegistry"]

OWNER_ID: Final = "u-fake-owner"
"""The ``owner_id`` of the tools the account creates."""

_DEFAULT_LIMIT: Final = 10
_MAX_LIMIT: Final = 100

Handlers = dict[str, Callable[[], Reply]]


class ToolRegistry:
    """The account's tools by id (insertion order is listing order) and each PAL's
    attached tool ids. ``personas`` is the fake's persona store (a PAL is a persona).

    Not thread-safe: called under :class:`~doubles.fake_tavus.FakeTavusAPI`'s lock.
    """

    def __init__(self, personas: dict[str, dict[str, Any]]) -> None:
        self._personas = personas
        self.tools: dict[str, dict[str, Any]] = {}
        self.attached: dict[str, list[str]] = {}

    def handlers(self, parts: list[str], query: dict[str, str], body: bytes) -> Handlers | None:
        """The handlers by method for the API path ``parts``; None when not a tools path."""
        match parts:
            case ["tools"]:
                return {
                    "GET": lambda: self.list_tools(query),
                    "POST": lambda: self.create_tool(body),
                }
            case ["tools", tid]:
                return {
                    "GET": lambda: Reply.json(200, shown(self._tool(tid))),
                    "PATCH": lambda: self.update_tool(tid, body),
                    "DELETE": lambda: self.delete_tool(tid),
                }
            case ["pals", pid, "tools"]:
                return {
                    "GET": lambda: self.pal_tools(pid),
                    "POST": lambda: self.attach(pid, body),
                }
            case ["pals", pid, "tools", tid]:
                return {"DELETE": lambda: self.detach(pid, tid)}
        return None

    # -- set-up and state -----------------------------------------------------------------

    def add_tool(self, fields: dict[str, Any], *, system: bool = False) -> dict[str, Any]:
        """Store a checked tool (as ``POST /tools`` would); ``system`` makes it a system tool."""
        data = tool_request(copy.deepcopy(fields), partial=False)
        doc = with_defaults(data)
        check_tool(doc)
        self._check_name_free(doc["name"])
        stamp = now()
        doc.update(
            tool_id=new_id("t"),
            owner_id=None if system else OWNER_ID,
            is_system_tool=system,
            created_at=stamp,
            updated_at=stamp,
        )
        self.tools[doc["tool_id"]] = doc
        return doc

    def attach_ids(self, pid: str, ids: list[str]) -> list[dict[str, Any]]:
        """Attach the tools ``ids`` to the PAL ``pid``; its attached tools after."""
        self._persona(pid)
        for tid in ids:
            tool = self.tools.get(tid)
            if tool is None:
                raise Refusal(f"Invalid tool_id: {tid} does not exist")
            if tool["is_system_tool"]:
                raise Refusal(f"{tool['name']} is a system tool and cannot be attached")
        attached = self.attached.setdefault(pid, [])
        new = [tid for tid in ids if tid not in attached]
        if len(attached) + len(new) > MAX_PAL_TOOLS:
            raise Refusal(f"A PAL can have at most {MAX_PAL_TOOLS} tools attached")
        attached.extend(new)
        return [self.tools[tid] for tid in attached]

    def _check_name_free(self, name: str, *, other_than: str | None = None) -> None:
        for tid, tool in self.tools.items():
            if tool["name"] == name and tid != other_than:
                raise Refusal(f"A tool named {name} already exists", 409)

    def _tool(self, tid: str) -> dict[str, Any]:
        tool = self.tools.get(tid)
        if tool is None:
            raise Refusal(f"Tool {tid} not found", 404)
        return tool

    def _user_tool(self, tid: str, verb: str) -> dict[str, Any]:
        tool = self._tool(tid)
        if tool["is_system_tool"]:
            raise Refusal(f"{tool['name']} is a system tool and cannot be {verb}")
        return tool

    def _persona(self, pid: str) -> dict[str, Any]:
        doc = self._personas.get(pid)
        if doc is None:
            raise Refusal(f"Persona {pid} not found", 404)
        return doc

    # -- /tools ---------------------------------------------------------------------------

    def list_tools(self, query: dict[str, str]) -> Reply:
        limit = _positive(query, "limit", _DEFAULT_LIMIT)
        if limit > _MAX_LIMIT:
            raise Refusal(f"limit must be at most {_MAX_LIMIT}")
        page = _positive(query, "page", 1)
        kind = query.get("type")
        if kind not in (None, "user", "system"):
            raise Refusal("type must be user or system")
        tools = [
            t
            for t in self.tools.values()
            if kind is None or t["is_system_tool"] == (kind == "system")
        ]
        start = (page - 1) * limit
        page_tools = [shown(t) for t in tools[start : start + limit]]
        return Reply.json(200, {"data": page_tools, "total_count": len(tools)})

    def create_tool(self, body: bytes) -> Reply:
        return Reply.json(200, shown(self.add_tool(json_body(body))))

    def update_tool(self, tid: str, body: bytes) -> Reply:
        tool = self._user_tool(tid, "updated")
        changes = tool_request(json_body(body), partial=True)
        doc = with_defaults({**tool, **copy.deepcopy(changes)})
        check_tool(doc)
        self._check_name_free(doc["name"], other_than=tid)
        doc["updated_at"] = now()
        self.tools[tid] = doc
        return Reply.json(200, shown(doc))

    def delete_tool(self, tid: str) -> Reply:
        self._user_tool(tid, "deleted")
        del self.tools[tid]
        for attached in self.attached.values():
            if tid in attached:
                attached.remove(tid)
        return Reply(204)

    # -- /pals/{id}/tools -----------------------------------------------------------------

    def pal_tools(self, pid: str) -> Reply:
        self._persona(pid)
        tools = [shown(self.tools[t]) for t in self.attached.get(pid, [])]
        return Reply.json(200, {"data": tools})

    def attach(self, pid: str, body: bytes) -> Reply:
        self._persona(pid)
        attached = self.attach_ids(pid, attach_request(json_body(body)))
        return Reply.json(200, {"data": [shown(t) for t in attached]})

    def detach(self, pid: str, tid: str) -> Reply:
        self._persona(pid)
        attached = self.attached.get(pid, [])
        if tid not in attached:
            raise Refusal(f"Tool {tid} is not attached to {pid}", 404)
        attached.remove(tid)
        return Reply(204)


def shown(tool: dict[str, Any]) -> dict[str, Any]:
    """``tool`` as Tavus answers it: the secrets of ``delivery.api.auth`` scrubbed to
    ``********`` (docs/configuration.md, serve.delivery_api)."""
    auth = (tool.get("delivery") or {}).get("api", {}) or {}
    auth = auth.get("auth") if isinstance(auth, dict) else None
    if not isinstance(auth, dict) or not set(auth) & set(SECRET_FIELDS):
        return tool
    doc = copy.deepcopy(tool)
    scrubbed = doc["delivery"]["api"]["auth"]
    for key in SECRET_FIELDS:
        if key in scrubbed:
            scrubbed[key] = SCRUBBED
    return doc


def _positive(query: dict[str, str], key: str, default: int) -> int:
    text = query.get(key)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise Refusal(f"{key} must be a positive integer")
    return value
