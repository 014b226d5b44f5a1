"""The fake's state, the conversations and personas, and the handlers of the documented
endpoints (protocol reference §8.1–8.3; the behaviour is listed in
:mod:`doubles.fake_tavus`). The tools registry and a PAL's tools (§7.2) are in
:mod:`~doubles.fake_tavus.tools`."""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable
from typing import Any, Literal

from doubles.fake_tavus.bodies import (
    PERSONA_READ_ONLY,
    check_persona,
    check_persona_fields,
    conversation_request,
    json_body,
    persona_request,
)
from doubles.fake_tavus.ids import new_id, now
from doubles.fake_tavus.patch import apply_json_patch, json_equal
from doubles.fake_tavus.records import Refusal, Reply
from doubles.fake_tavus.tools import ToolRegistry

__all__ = ["Endpoints"]

_CREATED_KEYS = (
    "conversation_id",
    "conversation_name",
    "conversation_url",
    "status",
    "callback_url",
    "created_at",
)  # what POST /conversations answers (§8.3), with meeting_token when there is one
_VERBOSE_KEYS = ("events", "shutdown_reason")  # added by GET ?verbose=true


def _event(cid: str, event_type: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "conversation_id": cid,
        "event_type": event_type,
        "message_type": "system",
        "timestamp": now(),
        "properties": properties,
    }


class Endpoints:
    """The stored conversations and personas and the handlers that read and change them.

    Not thread-safe: :class:`~doubles.fake_tavus.FakeTavusAPI` calls it under its
    lock. ``max_concurrent`` and ``end_status`` are as documented there.
    """

    def __init__(self, *, max_concurrent: int | None, end_status: Literal[200, 204]) -> None:
        self.max_concurrent = max_concurrent
        self.end_status = end_status
        self.conversations: dict[str, dict[str, Any]] = {}
        self.personas: dict[str, dict[str, Any]] = {}
        self.tools = ToolRegistry(self.personas)

    def route(self, method: str, path: str, query: dict[str, str], body: bytes) -> Reply:
        """Answer an authorized request; ``path`` is the API path without ``/v2``."""
        handlers: dict[str, Callable[[], Reply]]
        match [p for p in path.split("/") if p]:
            case ["conversations"]:
                handlers = {"POST": lambda: self.create_conversation(body)}
            case ["conversations", cid]:
                handlers = {"GET": lambda: self.get_conversation(cid, query)}
            case ["conversations", cid, "end"]:
                handlers = {"POST": lambda: self.end_conversation(cid)}
            case ["personas"]:
                handlers = {"POST": lambda: self.create_persona(body)}
            case ["personas" | "pals", pid]:  # /pals/{id} is the same object (§8.1)
                handlers = {
                    "GET": lambda: self.get_persona(pid),
                    "PATCH": lambda: self.patch_persona(pid, body),
                }
            case parts:
                found = self.tools.handlers(parts, query, body)
                if found is None:
                    return Reply.message(404, "Not found")
                handlers = found
        handler = handlers.get(method)
        if handler is None:
            return Reply.message(405, "Method not allowed", [("allow", ", ".join(handlers))])
        try:
            return handler()
        except Refusal as exc:
            return exc.reply()

    # -- conversations --------------------------------------------------------------------

    def create_conversation(self, body: bytes) -> Reply:
        data = conversation_request(body)
        persona_id = data.get("persona_id")
        persona = self.personas.get(persona_id) if persona_id else None
        if persona_id and persona is None:
            raise Refusal(f"Invalid persona_id: {persona_id} does not exist")
        replica_id = data.get("replica_id") or (persona or {}).get("default_replica_id")
        if not replica_id:
            raise Refusal("replica_id is required: the persona has no default_replica_id")
        test_mode = bool(data.get("test_mode"))
        if not test_mode and self.max_concurrent is not None:
            active = sum(
                1
                for c in self.conversations.values()
                if c["status"] == "active" and not c["test_mode"]
            )
            if active >= self.max_concurrent:
                raise Refusal("User has reached maximum concurrent conversations")
        cid = new_id("c")
        stamp = now()
        conversation: dict[str, Any] = {
            "conversation_id": cid,
            "conversation_name": data.get("conversation_name") or "New Conversation",
            "conversation_url": f"https://tavus.daily.co/{cid}",
            "status": "ended" if test_mode else "active",
            "callback_url": data.get("callback_url"),
            "created_at": stamp,
            "updated_at": stamp,
            "replica_id": replica_id,
            "persona_id": persona_id,
            "test_mode": test_mode,
            "properties": copy.deepcopy(data.get("properties") or {}),
            "events": [],
            "shutdown_reason": None,
        }
        if data.get("require_auth"):
            conversation["meeting_token"] = "fake-meeting-token-" + secrets.token_hex(8)
        if not test_mode:
            conversation["events"].append(
                _event(cid, "system.replica_joined", {"replica_id": replica_id})
            )
        self.conversations[cid] = conversation
        keys = (*_CREATED_KEYS, "meeting_token")
        return Reply.json(200, {k: conversation[k] for k in keys if k in conversation})

    def get_conversation(self, cid: str, query: dict[str, str]) -> Reply:
        conversation = self._conversation(cid)
        verbose = query.get("verbose", "").lower() == "true"
        hidden = ("test_mode",) if verbose else ("test_mode", *_VERBOSE_KEYS)
        return Reply.json(200, {k: v for k, v in conversation.items() if k not in hidden})

    def end_conversation(self, cid: str) -> Reply:
        conversation = self._conversation(cid)
        if conversation["status"] != "ended" or conversation["shutdown_reason"] is None:
            reason = "end_conversation_endpoint_hit"
            conversation["status"] = "ended"
            conversation["updated_at"] = now()
            conversation["shutdown_reason"] = reason
            conversation["events"].append(
                _event(
                    cid,
                    "system.shutdown",
                    {"replica_id": conversation["replica_id"], "shutdown_reason": reason},
                )
            )
        if self.end_status == 204:
            return Reply(204)
        return Reply.message(200, f"Conversation {cid} ended")

    def _conversation(self, cid: str) -> dict[str, Any]:
        conversation = self.conversations.get(cid)
        if conversation is None:
            raise Refusal(f"Conversation {cid} not found", 404)
        return conversation

    # -- personas -------------------------------------------------------------------------

    def add_persona(self, persona_id: str | None, fields: dict[str, Any]) -> dict[str, Any]:
        """Store a persona of checked ``fields`` (None values left at their defaults):
        ``pipeline_mode`` ``full``, ``layers`` ``{}``, the other documented keys None."""
        check_persona_fields(fields)
        pid = persona_id or new_id("p")
        stamp = now()
        doc: dict[str, Any] = {
            "persona_id": pid,
            "persona_name": None,
            "system_prompt": None,
            "pipeline_mode": "full",
            "default_replica_id": None,
            "context": None,
            "layers": {},
            "created_at": stamp,
            "updated_at": stamp,
        }
        doc.update(copy.deepcopy({k: v for k, v in fields.items() if v is not None}))
        self.personas[pid] = doc
        return doc

    def create_persona(self, body: bytes) -> Reply:
        doc = self.add_persona(None, persona_request(body))
        keys = ("persona_id", "persona_name", "created_at")
        return Reply.json(200, {k: doc[k] for k in keys})

    def get_persona(self, pid: str) -> Reply:
        return Reply.json(200, self._persona(pid))

    def patch_persona(self, pid: str, body: bytes) -> Reply:
        doc = self._persona(pid)
        try:
            patched = apply_json_patch(doc, json_body(body))
        except ValueError as exc:
            raise Refusal(str(exc)) from None
        if not isinstance(patched, dict):
            raise Refusal("The persona must remain a JSON object")
        for key in PERSONA_READ_ONLY:
            if not json_equal(patched.get(key), doc.get(key)):
                raise Refusal(f"{key} cannot be changed")
        check_persona_fields({k: v for k, v in patched.items() if k not in PERSONA_READ_ONLY})
        check_persona(patched)
        if json_equal(patched, doc):
            return Reply(304)
        patched["updated_at"] = now()
        self.personas[pid] = patched
        return Reply.json(200, patched)

    def _persona(self, pid: str) -> dict[str, Any]:
        doc = self.personas.get(pid)
        if doc is None:
            raise Refusal(f"Persona {pid} not found", 404)
        return doc
