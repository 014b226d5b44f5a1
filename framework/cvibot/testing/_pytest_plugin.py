"""cvibot's pytest plugin: fixtures for the tests of bots and plugins.

pytest loads it in every session of an environment where cvibot is installed (entry
point ``cvibot`` of group ``pytest11``), so importing it imports nothing heavy: the
fake conversation is imported when a test first uses the fixture.

``cvibot_conversation`` is a factory with the arguments of
:class:`~cvibot.testing.FakeConversation`; await what it returns, or use it with
``async with``. Every conversation it made is closed when the test ends, and a failure
of its bot fails the test::

    async def test_lookup(cvibot_conversation):
        conv = await cvibot_conversation(plugins=["my_plugin"])
        reply = await conv.tool_call("lookup_order", {"order_id": "A1"})
        assert reply.status == "success"

The fixture is an async fixture of pytest-asyncio when that is installed (in its strict
mode too), else a plain async fixture, for other async plugins such as anyio's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from cvibot.testing._conversation import FakeConversation

__all__ = ["ConversationFactory", "cvibot_conversation"]

ConversationFactory = Callable[..., "FakeConversation"]
"""``cvibot_conversation(**kwargs)``: a new, not yet started :class:`FakeConversation`."""

try:
    from pytest_asyncio import fixture as _async_fixture
except ImportError:  # pragma: no cover - pytest-asyncio is in cvibot's dev extra
    _async_fixture = pytest.fixture  # type: ignore[assignment]  # same use, other overloads


@_async_fixture
async def cvibot_conversation() -> AsyncIterator[ConversationFactory]:
    """A factory of fake conversations, closed at the end of the test.

    ``cvibot_conversation(config=..., plugins=..., tools=..., pipeline_mode=...,
    base_dir=..., conversation_id=..., autoload=..., grace=...)`` builds the bot at once
    (a bad config or plugin raises :class:`~cvibot._errors.ConfigError` there) and
    returns the conversation; ``await`` it, or ``async with`` it, to start it.
    """
    made: list[FakeConversation] = []

    def make(**kwargs: Any) -> FakeConversation:
        from cvibot.testing._conversation import FakeConversation

        conversation = FakeConversation(**kwargs)
        made.append(conversation)
        return conversation

    yield make
    failures: list[BaseException] = []
    for conversation in reversed(made):
        try:
            await conversation.close()
        except Exception as exc:
            failures.append(exc)
    if failures:
        raise failures[0]
