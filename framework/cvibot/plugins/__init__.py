"""cvibot's plugin system: hook markers, the hooks, and the host that loads plugins.

A plugin is a module (named in the config, or installed as an entry point of group
``cvibot``) whose ``@tool`` functions become tools and whose ``@hookimpl`` functions
implement the hooks in :mod:`cvibot.plugins._hookspecs`.
"""

from __future__ import annotations

from cvibot.plugins._hookspecs import PROJECT_NAME, hookimpl, hookspec
from cvibot.plugins._host import PluginHost
from cvibot.plugins._loading import ENTRY_POINT_GROUP, LoadedPlugin, PluginEntryLike

__all__ = [
    "ENTRY_POINT_GROUP",
    "PROJECT_NAME",
    "LoadedPlugin",
    "PluginEntryLike",
    "PluginHost",
    "hookimpl",
    "hookspec",
]
