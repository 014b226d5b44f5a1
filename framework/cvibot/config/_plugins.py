"""The ``plugins:`` list: which plugins a bot loads, and the settings each receives."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cvibot.config._common import LocatedValueError, describe

__all__ = ["PluginEntry"]

_PLUGIN_KEYS = ("kind", "module", "name", "ref", "settings")
_PLUGIN_SHORTHANDS: dict[str, Literal["module", "entry_point"]] = {
    "module": "module",
    "name": "entry_point",
}


class PluginEntry(BaseModel):
    """One plugin to load, with the ``settings`` mapping its hooks and tools receive.

    ``ref`` is a module (a dotted name, or a ``.py`` path relative to the config file's
    folder) or the name of an installed plugin (an entry point of group ``cvibot``).
    ``kind`` says which; ``auto`` lets the plugin loader take the installed plugin if
    there is one, else the module. ``settings`` (any YAML mapping, interpolated) reaches
    the plugin's hooks and tools unchanged.

    YAML forms accepted::

        - shop_tools                                 # ref, kind: auto
        - {module: bots.shop.tools, settings: {...}} # kind: module
        - {name: cvibot-faq, settings: {...}}        # kind: entry_point
        - {ref: shop_tools, kind: auto, settings: {...}}

    A mapping gives exactly one of ``module``, ``name`` and ``ref``; ``kind`` may be
    repeated next to ``module``/``name`` only if it agrees.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    ref: str = Field(min_length=1)
    kind: Literal["auto", "module", "entry_point"] = "auto"
    settings: dict[str, Any] = {}

    @model_validator(mode="before")
    @classmethod
    def _accept_shorthands(cls, data: Any) -> Any:
        if isinstance(data, PluginEntry):
            return data
        if isinstance(data, str):
            return {"ref": data}
        if not isinstance(data, Mapping):
            raise LocatedValueError(
                "expected a plugin: a name, or a mapping with 'module' or 'name' "
                f"(got {describe(data)})"
            )
        for key in data:
            if key not in _PLUGIN_KEYS:
                raise LocatedValueError(f"unknown key (allowed: {', '.join(_PLUGIN_KEYS)})", (key,))
        given = [key for key in ("module", "name", "ref") if key in data]
        if not given:
            raise LocatedValueError("needs one of 'module', 'name' or 'ref'")
        if len(given) > 1:
            raise LocatedValueError(
                f"give only one of 'module', 'name' and 'ref' (also given: {given[0]!r})",
                (given[1],),
            )
        form = given[0]
        if form == "ref":
            return data
        value = data[form]
        if not isinstance(value, str) or not value.strip():
            raise LocatedValueError(f"must be a non-empty string (got {describe(value)})", (form,))
        kind = _PLUGIN_SHORTHANDS[form]
        if "kind" in data and data["kind"] != kind:
            raise LocatedValueError(
                f"contradicts '{form}', which means kind: {kind} (got {describe(data['kind'])})",
                ("kind",),
            )
        entry: dict[str, Any] = {"ref": value, "kind": kind}
        if "settings" in data:
            entry["settings"] = data["settings"]
        return entry
