"""What is installed: every entry point of group ``cvibot``, loaded on its own.

:func:`installed_plugins` backs ``cvibot plugins``. Each plugin is imported and
registered in a plugin manager of its own, with empty settings, so that one that fails
(at import, at registration, or while registering its tools) is reported with its
cause and never hides the others.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from importlib.metadata import EntryPoint
from typing import Any, Literal

from cvibot._errors import CvibotError
from cvibot.plugins._host import PluginHost
from cvibot.plugins._loading import ENTRY_POINT_GROUP, PluginRef

__all__ = ["PluginInfo", "installed_plugins"]

Status = Literal["ok", "error", "shadowed"]


@dataclass(frozen=True)
class PluginInfo:
    """One installed plugin as ``cvibot plugins`` shows it.

    - ``name``: the entry-point name, the name a config uses; ``value`` its
      ``module[:attr]`` target.
    - ``distribution``, ``version``: the installed distribution that provides it.
    - ``status``: ``ok``; ``error`` (``error`` says why: it failed to import, register
      or register its tools; a bot that does not name it skips it); ``shadowed``
      (another distribution provides an entry point of the same name, earlier on
      ``sys.path``, and wins).
    - ``tools``, ``hooks``: the tool names it provides with empty settings (a plugin
      that builds its tools from settings may show none) and the hooks it implements,
      both sorted.
    """

    name: str
    value: str
    distribution: str | None
    version: str | None
    status: Status
    error: str | None = None
    tools: tuple[str, ...] = ()
    hooks: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with the same keys (``tools``/``hooks`` as lists)."""
        return {
            "name": self.name,
            "value": self.value,
            "distribution": self.distribution,
            "version": self.version,
            "status": self.status,
            "error": self.error,
            "tools": list(self.tools),
            "hooks": list(self.hooks),
        }


def installed_plugins() -> list[PluginInfo]:
    """Every installed ``cvibot`` entry point, sorted by name, each loaded on its own.

    Never raises for a broken plugin: its :class:`PluginInfo` has ``status="error"``.
    """
    return [_inspect(ep, shadowed_by) for ep, shadowed_by in _entry_points()]


def _entry_points() -> Iterator[tuple[EntryPoint, EntryPoint | None]]:
    """Each entry point with the one of the same name that wins over it, if any."""
    first: dict[str, EntryPoint] = {}
    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
        winner = first.setdefault(ep.name, ep)
        yield ep, (None if winner is ep else winner)


def _inspect(ep: EntryPoint, shadowed_by: EntryPoint | None) -> PluginInfo:
    dist = ep.dist
    base: dict[str, Any] = {
        "name": ep.name,
        "value": ep.value,
        "distribution": dist.name if dist is not None else None,
        "version": dist.version if dist is not None else None,
    }
    if shadowed_by is not None:
        winner = shadowed_by.dist.name if shadowed_by.dist is not None else shadowed_by.value
        return PluginInfo(**base, status="shadowed", error=f"{winner} provides {ep.name!r} too")
    try:
        host = PluginHost.load([PluginRef(ep.name, kind="entry_point")], autoload=False)
    except CvibotError as exc:
        return PluginInfo(**base, status="error", error=getattr(exc, "message", str(exc)))
    [loaded] = host.plugins
    hooks = sorted(
        {
            caller.name
            for caller in host.pm.get_hookcallers(host.pm.get_plugin(loaded.name)) or ()
            if caller.has_spec()
        }
    )
    try:
        tools = sorted(spec.name for spec in host.collect_tools())
    except CvibotError as exc:
        return PluginInfo(
            **base, status="error", error=getattr(exc, "message", str(exc)), hooks=tuple(hooks)
        )
    return PluginInfo(**base, status="ok", tools=tuple(tools), hooks=tuple(hooks))
