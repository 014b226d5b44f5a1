"""Fakes that behave like the real services, for the tests of bots and plugins.

- :class:`FakeConversation` (:mod:`cvibot.testing.conversation`): a fake Tavus
  conversation that drives a real bot in process and returns its answers as
  :class:`ToolReply` objects; the pytest fixture ``cvibot_conversation``
  (:mod:`cvibot.testing.pytest_plugin`, loaded by pytest on its own) builds them.
- :mod:`cvibot.testing.fake_daily`: a daily-python ``CallClient`` stand-in with the
  real SDK's threading, ordering and error behaviour (no network).
- :mod:`cvibot.testing.fake_tavus`: the documented Tavus REST endpoints, in process or
  on a loopback HTTP server.

The names here are imported on first use, so ``import cvibot.testing`` (which the
pytest plugin does in every test session) imports neither pydantic nor daily-python.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cvibot.testing.conversation import FakeConversation
    from cvibot.testing.replies import ReplyTimeout, ToolReply

__all__ = ["FakeConversation", "ReplyTimeout", "ToolReply"]

_HOMES = {
    "FakeConversation": "cvibot.testing.conversation",
    "ReplyTimeout": "cvibot.testing.replies",
    "ToolReply": "cvibot.testing.replies",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'cvibot.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
