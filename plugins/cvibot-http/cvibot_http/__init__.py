"""cvibot-http: tools declared in the bot's YAML that forward each call to an HTTP endpoint.

Named in a config as ``plugins: [{name: cvibot-http, settings: {...}}]``; the README gives
every setting. The hooks:

- ``cvibot_register_tools`` builds one tool per ``settings.tools`` entry (none for empty
  settings, so an autoloaded copy is harmless); a bad setting raises
  :class:`~cvibot_http.errors.SettingsError` naming its key path.
- ``cvibot_startup`` opens the one shared ``httpx.AsyncClient`` of those tools and
  ``cvibot_shutdown`` closes it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cvibot.plugins import hookimpl
from cvibot_http.build import build_tools, connections_of
from cvibot_http.errors import SettingsError

__all__ = ["SettingsError", "__version__", "build_tools"]

__version__ = "0.1.0"


@hookimpl
def cvibot_register_tools(register: Callable[..., None], settings: Mapping[str, Any]) -> None:
    """Register the tools that ``settings`` declares."""
    for spec in build_tools(settings):
        register(spec)


@hookimpl
def cvibot_startup(bot: Any) -> None:
    """Open the client of this bot's cvibot-http tools (``bot.tools``)."""
    for connection in connections_of(bot.tools):
        connection.open()


@hookimpl
async def cvibot_shutdown(bot: Any) -> None:
    """Close the client of this bot's cvibot-http tools."""
    for connection in connections_of(bot.tools):
        await connection.aclose()
