"""The fake's checks of tools-registry bodies (protocol reference §7.2), as Tavus makes
them: field names and types, the name rule, the size limit, the reserved property
prefix, the perception rules, ``static_filler`` and exactly one delivery channel.

Every failure raises :class:`~doubles.fake_tavus.records.Refusal` (a 400). The
checks are written out here rather than borrowed from :mod:`cvibot.tools`, so that the
fake can catch a mistake in cvibot's own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any, Final

from doubles.fake_tavus.records import Refusal

__all__ = [
    "MAX_PAL_TOOLS",
    "MAX_TOOL_SIZE",
    "SCRUBBED",
    "SECRET_FIELDS",
    "TOOL_READ_ONLY",
    "attach_request",
    "check_tool",
    "tool_request",
    "with_defaults",
]

MAX_TOOL_SIZE: Final = 10_000  # characters of description + serialized parameters
MAX_PAL_TOOLS: Final = 50
TOOL_READ_ONLY: Final = ("tool_id", "owner_id", "is_system_tool", "created_at", "updated_at")
"""Tool keys the fake sets itself: a body may not set them."""

# Tavus's rules, written out again on purpose rather than imported from cvibot.tools:
# the fake stands for Tavus, so a slip in cvibot's own copy of a rule fails a test.
_NAME: Final = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]{0,63}")
_ORIGINS: Final = ("llm", "vision", "audio")
_TRIGGERS: Final = ("in_call", "post_call")
_ON_CALL: Final = ("generate_filler", "static_filler", "silent", "passthrough")
_ON_RESOLVE: Final = (
    "generate_response",
    "response_in_result",
    "add_to_context",
    "fire_and_forget",
)
_RESERVED: Final = "tavus_"


def _one_of(values: tuple[str, ...]) -> Callable[[Any], bool]:
    return lambda v: v in values


def _is_str_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


_FIELDS: Final[dict[str, tuple[Callable[[Any], bool], str]]] = {
    "name": (lambda v: isinstance(v, str), "a string"),
    "description": (lambda v: isinstance(v, str), "a string"),
    "parameters": (lambda v: isinstance(v, dict), "an object"),
    "origin": (_one_of(_ORIGINS), "one of " + ", ".join(_ORIGINS)),
    "trigger_type": (_one_of(_TRIGGERS), "one of " + ", ".join(_TRIGGERS)),
    "on_call": (_one_of(_ON_CALL), "null or one of " + ", ".join(_ON_CALL)),
    "static_filler": (lambda v: isinstance(v, str), "a string"),
    "on_resolve": (_one_of(_ON_RESOLVE), "one of " + ", ".join(_ON_RESOLVE)),
    "delivery": (lambda v: isinstance(v, dict), "an object"),
    "tags": (_is_str_list, "a list of strings"),
}


def tool_request(data: Any, *, partial: bool) -> dict[str, Any]:
    """The checked fields of a ``POST /tools`` (``partial=False``: ``name`` required) or
    ``PATCH /tools/{id}`` body (at least one field). ``null`` is allowed for every field
    but ``name``; it stands for the default."""
    if not isinstance(data, dict):
        raise Refusal("The request body must be a JSON object")
    for key, value in data.items():
        if key in TOOL_READ_ONLY:
            raise Refusal(f"{key} cannot be set")
        if key not in _FIELDS:
            raise Refusal(f"Unknown field: {key}")
        check, expected = _FIELDS[key]
        if (value is not None or key == "name") and not check(value):
            raise Refusal(f"Invalid value for {key}: expected {expected}")
    if not partial and "name" not in data:
        raise Refusal("name is required")
    if partial and not data:
        raise Refusal("The request body has no field to update")
    return data


def with_defaults(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with Tavus's defaults for missing or null fields (§7.2)."""
    out = dict(doc)
    perception = out.get("origin") in ("vision", "audio")
    defaults: dict[str, Any] = {
        "description": "",
        "parameters": {},
        "origin": "llm",
        "trigger_type": "in_call",
        "on_call": None if perception else "generate_filler",
        "static_filler": None,
        "on_resolve": "fire_and_forget",
        "delivery": {"app_message": True},
        "tags": [],
    }
    for key, value in defaults.items():
        if out.get(key) is None:
            out[key] = value
    return out


def check_tool(doc: dict[str, Any]) -> None:
    """The rules of a whole tool document (defaults filled in)."""
    name = doc["name"]
    if not _NAME.fullmatch(name):
        raise Refusal(f"Invalid tool name {name!r}: it must match ^[a-zA-Z_][a-zA-Z0-9_]{{0,63}}$")
    size = len(doc["description"]) + len(json.dumps(doc["parameters"]))
    if size > MAX_TOOL_SIZE:
        raise Refusal(f"Tool {name}: description and parameters exceed {MAX_TOOL_SIZE} characters")
    reserved = sorted(set(_reserved(doc["parameters"])))
    if reserved:
        raise Refusal(f"Parameter names starting with {_RESERVED!r} are reserved: {reserved}")
    if doc["origin"] in ("vision", "audio"):
        if doc["on_call"] is not None:
            raise Refusal("on_call must be null for vision and audio tools")
        if doc["on_resolve"] != "fire_and_forget":
            raise Refusal("vision and audio tools only allow on_resolve fire_and_forget")
    if doc["on_call"] == "static_filler" and not doc["static_filler"]:
        raise Refusal("static_filler is required when on_call is static_filler")
    _check_delivery(doc["delivery"])


#: What Tavus's answers show in place of a secret (docs/configuration.md, serve.delivery_api).
SCRUBBED: Final = "********"
#: The ``delivery.api.auth`` members Tavus scrubs.
SECRET_FIELDS: Final = ("secret", "token", "value", "password", "client_secret")


def _check_delivery(delivery: dict[str, Any]) -> None:
    app = delivery.get("app_message")
    api = delivery.get("api")
    unknown = sorted(set(delivery) - {"app_message", "api"})
    if unknown:
        raise Refusal(f"Unknown field: delivery.{unknown[0]}")
    if app not in (None, True, False) or (api is not None and not isinstance(api, dict)):
        raise Refusal("Invalid value for delivery")
    if (app is True) == (api is not None):
        raise Refusal("delivery needs exactly one of app_message: true and api")
    auth = api.get("auth") if isinstance(api, dict) else None
    if isinstance(auth, dict) and any(auth.get(k) == SCRUBBED for k in SECRET_FIELDS):
        raise Refusal(f"delivery.api.auth: {SCRUBBED} is not a secret (send the real one)")


def _reserved(schema: Any) -> Iterator[str]:
    """Property names under the reserved prefix, at any depth of a JSON Schema."""
    if isinstance(schema, dict):
        props = schema.get("properties")
        if isinstance(props, dict):
            yield from (k for k in props if isinstance(k, str) and k.startswith(_RESERVED))
        for value in schema.values():
            yield from _reserved(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _reserved(item)


def attach_request(data: Any) -> list[str]:
    """The ids of a ``POST /pals/{id}/tools`` body ``{"tool_ids": [...]}`` (1 to 50)."""
    if not isinstance(data, dict) or set(data) != {"tool_ids"}:
        raise Refusal('The request body must be {"tool_ids": [...]}')
    ids = data["tool_ids"]
    if not _is_str_list(ids) or not ids:
        raise Refusal("tool_ids must be a non-empty list of strings")
    if len(ids) > MAX_PAL_TOOLS:
        raise Refusal(f"At most {MAX_PAL_TOOLS} tools can be attached at once")
    return list(dict.fromkeys(ids))
