"""Semantic comparison of tool definitions: what differs between the tools Tavus has and
the ones the bot's code describes (protocol reference §7.1–7.3).

Values are compared as JSON (:func:`json_equal`): object members in any order, ``1``
equal to ``1.0`` but not to ``true``. Keys Tavus adds (``tool_id``, ``owner_id``,
``created_at``, ``tags``, …) are not compared, and a field Tavus left out or sent as
``null`` counts as its documented default, so a tool Tavus filled in equals the body it
was created from.

A ``delivery.api`` block is compared with Tavus's defaults filled in (``method`` POST,
``timeout`` 10, empty ``headers``/``query_params`` as absent). Tavus's GET answers scrub
secrets to ``********``, so a scrubbed HMAC secret counts as the one the code wants: a
changed secret alone is not seen (change another field, or recreate the tool, to rotate
it).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from cvibot.tools._export import SECRET_PLACEHOLDER
from cvibot.tools._options import OMIT, tavus_fields

__all__ = [
    "REGISTRY_FIELDS",
    "FieldChange",
    "json_equal",
    "legacy_changes",
    "legacy_name",
    "registry_changes",
    "registry_fields",
]

REGISTRY_FIELDS: Final = (
    "description",
    "parameters",
    "origin",
    *tavus_fields(),
    "delivery",
)
"""The fields of a registry tool (§7.2) that cvibot manages, in the order they are shown."""

_PERCEPTION: Final = ("vision", "audio")


@dataclass(frozen=True)
class FieldChange:
    """One field that differs: ``old`` is what Tavus has, ``new`` what the code wants
    (JSON values; ``None`` is ``null``)."""

    field: str
    old: Any
    new: Any


def json_equal(a: Any, b: Any) -> bool:
    """Whether two JSON values are equal: objects by their members in any order, arrays
    in order, numbers by value, and a boolean only equal to the same boolean."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def registry_fields(tool: Mapping[str, Any]) -> dict[str, Any]:
    """The managed fields (:data:`REGISTRY_FIELDS`) of a registry tool, a
    :func:`~cvibot.tools.to_registry_tool` body or a tool Tavus returned, with Tavus's
    defaults (§7.2) for a field that is missing or ``null``: ``description`` ``""``,
    ``parameters`` ``{}``, ``origin`` ``llm``, ``on_call`` ``generate_filler`` (``null``
    for vision/audio), ``static_filler`` ``null``, ``on_resolve`` ``fire_and_forget``,
    ``delivery`` ``{"app_message": true}``. ``null`` members of ``delivery`` are dropped.
    """
    origin = tool.get("origin") or "llm"
    defaults: dict[str, Any] = {
        "description": "",
        "parameters": {},
        "origin": "llm",
        "delivery": {"app_message": True},
    }
    for name, tavus in tavus_fields().items():
        default = tavus.perception if origin in _PERCEPTION else tavus.server
        defaults[name] = None if default is OMIT else default
    fields: dict[str, Any] = {}
    for name in REGISTRY_FIELDS:
        value = tool.get(name)
        fields[name] = copy.deepcopy(defaults[name] if value is None else value)
    if isinstance(fields["delivery"], Mapping):
        delivery = {k: v for k, v in fields["delivery"].items() if v is not None}
        if isinstance(delivery.get("api"), Mapping):
            delivery["api"] = _api_fields(delivery["api"])
        fields["delivery"] = delivery
    return fields


# delivery.api members Tavus fills in when they are left out (§7.2).
_API_DEFAULTS: Final[Mapping[str, Any]] = {"method": "POST", "timeout": 10}


def _api_fields(api: Mapping[str, Any]) -> dict[str, Any]:
    """A ``delivery.api`` block with Tavus's defaults, and no ``null`` or empty members."""
    fields = {k: v for k, v in api.items() if v is not None and v != {} and v != []}
    for name, default in _API_DEFAULTS.items():
        fields.setdefault(name, default)
    if isinstance(fields["method"], str):
        fields["method"] = fields["method"].upper()
    return fields


def _hmac_secret(fields: Mapping[str, Any]) -> Any:
    delivery = fields.get("delivery")
    api = delivery.get("api") if isinstance(delivery, Mapping) else None
    auth = api.get("auth") if isinstance(api, Mapping) else None
    return auth.get("secret") if isinstance(auth, Mapping) else None


def _unscrub(old: dict[str, Any], new: Mapping[str, Any]) -> None:
    """Put the wanted HMAC secret where Tavus showed ``********`` (it never shows one)."""
    wanted = _hmac_secret(new)
    if _hmac_secret(old) == SECRET_PLACEHOLDER and wanted is not None:
        api = old["delivery"]["api"]
        old["delivery"]["api"] = {**api, "auth": {**api["auth"], "secret": wanted}}


def registry_changes(have: Mapping[str, Any], want: Mapping[str, Any]) -> list[FieldChange]:
    """The managed fields whose values differ between the tool Tavus has (``have``) and
    the body the code wants (``want``), in :data:`REGISTRY_FIELDS` order."""
    old, new = registry_fields(have), registry_fields(want)
    _unscrub(old, new)
    return [
        FieldChange(name, old[name], new[name])
        for name in REGISTRY_FIELDS
        if not json_equal(old[name], new[name])
    ]


def legacy_name(entry: Any) -> str | None:
    """``function.name`` of an OpenAI-format tool (§7.1, §7.3); None when it has none."""
    if isinstance(entry, Mapping):
        function = entry.get("function")
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            return str(function["name"])
    return None


def _legacy_fields(entry: Mapping[str, Any]) -> dict[str, Any]:
    function = entry.get("function")
    function = function if isinstance(function, Mapping) else {}
    return {
        "type": entry.get("type"),
        "description": function.get("description"),
        "parameters": function.get("parameters"),
    }


def legacy_changes(have: Mapping[str, Any], want: Mapping[str, Any]) -> list[FieldChange]:
    """What differs between two OpenAI-format tools of the same name: ``type``,
    ``description`` and ``parameters`` (of ``function``); other keys are not compared."""
    old, new = _legacy_fields(have), _legacy_fields(want)
    return [FieldChange(k, old[k], new[k]) for k in old if not json_equal(old[k], new[k])]
