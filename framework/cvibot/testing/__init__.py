"""What the tests of bots and plugins use: a fake Tavus conversation and its helpers.

- :class:`FakeConversation`: a fake Tavus conversation that drives a real bot in process
  and returns its answers as :class:`ToolReply` objects (:class:`ReplyTimeout` when none
  comes in time);
- the pytest fixture ``cvibot_conversation``, a :data:`ConversationFactory` (pytest
  loads the plugin on its own, entry point ``cvibot`` of group ``pytest11``);
- the app-messages Tavus sends, to push by hand: :func:`tool_call_message` (in each
  :data:`CallShape` of :data:`SHAPES`), :func:`perception_tool_call_message` and
  :func:`utterance_message`, with their :class:`Envelope`.

The fake Daily SDK and the fake Tavus API that cvibot's own tests use are not part of
the package: they live in the repository's ``tests/doubles``.

The names here are imported on first use, so ``import cvibot.testing`` (which the
pytest plugin does in every test session) imports neither pydantic nor daily-python.
"""

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from cvibot.testing._conversation import FakeConversation
    from cvibot.testing._messages import (
        SHAPES,
        CallShape,
        Envelope,
        perception_tool_call_message,
        tool_call_message,
        utterance_message,
    )
    from cvibot.testing._pytest_plugin import ConversationFactory
    from cvibot.testing._replies import ReplyTimeout, ToolReply

__all__ = [
    "SHAPES",
    "CallShape",
    "ConversationFactory",
    "Envelope",
    "FakeConversation",
    "ReplyTimeout",
    "ToolReply",
    "perception_tool_call_message",
    "tool_call_message",
    "utterance_message",
]

_HOMES = {
    "SHAPES": "cvibot.testing._messages",
    "CallShape": "cvibot.testing._messages",
    "ConversationFactory": "cvibot.testing._pytest_plugin",
    "Envelope": "cvibot.testing._messages",
    "FakeConversation": "cvibot.testing._conversation",
    "ReplyTimeout": "cvibot.testing._replies",
    "ToolReply": "cvibot.testing._replies",
    "perception_tool_call_message": "cvibot.testing._messages",
    "tool_call_message": "cvibot.testing._messages",
    "utterance_message": "cvibot.testing._messages",
}


def __getattr__(name: str) -> _typing.Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'cvibot.testing' has no attribute {name!r}")
    value = getattr(_importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
