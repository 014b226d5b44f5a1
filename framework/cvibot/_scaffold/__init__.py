"""Project templates: ``cvibot new plugin NAME`` and ``cvibot new bot NAME`` use them.

:func:`create_plugin` writes ``cvibot-NAME/`` (pyproject with the ``cvibot`` entry
point, the plugin package with one tool and one hook, its tests on the
``cvibot_conversation`` fixture, a README and a ``.gitignore``); :class:`PluginNames`
derives every name from NAME and refuses a bad one. :func:`create_bot` writes a bot's
folder (:mod:`cvibot._scaffold.bots`).
"""

from __future__ import annotations

from cvibot._scaffold.bots import BotNameError, BotNames, bot_files, create_bot
from cvibot._scaffold.names import PluginNameError, PluginNames, name_problem
from cvibot._scaffold.plugin_project import ProjectExists, create_plugin, plugin_files

__all__ = [
    "BotNameError",
    "BotNames",
    "PluginNameError",
    "PluginNames",
    "ProjectExists",
    "bot_files",
    "create_bot",
    "create_plugin",
    "name_problem",
    "plugin_files",
]
