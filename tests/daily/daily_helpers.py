"""Helpers of the Daily transport tests (a module of its own: conftest is not importable)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any

from cvibot._participants import Participant
from cvibot.transports._daily import DailyTransport

URL = "https://tavus.daily.co/c0ffee"
TOKEN = "secret-meeting-token-123"

MakeTransport = Callable[..., DailyTransport]


class RecordingReceiver:
    """A :class:`cvibot.transports._base.Receiver` that records what it is given, and
    on which thread."""

    def __init__(self) -> None:
        self.items: list[tuple[Any, ...]] = []
        self.threads: set[int] = set()
        self.closed = False
        self._changed = asyncio.Event()

    def on_message(
        self, message: Any, sender: str | None = None, received_at: float | None = None
    ) -> None:
        self._record(("message", message, sender, received_at))

    def on_participant(
        self,
        change: str,
        participant: Participant,
        reason: str | None = None,
        received_at: float | None = None,
    ) -> None:
        self._record(("participant", change, participant, reason, received_at))

    def _record(self, item: tuple[Any, ...]) -> None:
        self.threads.add(threading.get_ident())
        self.items.append(item)
        self._changed.set()

    async def settled(self) -> None:
        return None

    @property
    def messages(self) -> list[Any]:
        return [item[1] for item in self.items if item[0] == "message"]

    @property
    def participants(self) -> list[tuple[str, str]]:
        """``(change, participant id)`` in order."""
        return [(item[1], item[2].id) for item in self.items if item[0] == "participant"]

    async def wait_for(
        self, predicate: Callable[[RecordingReceiver], bool], within: float = 2.0
    ) -> None:
        """Wait until ``predicate(self)`` holds; ``TimeoutError`` after ``within`` s."""
        async with asyncio.timeout(within):
            while not predicate(self):
                self._changed.clear()
                await self._changed.wait()


async def running(transport: DailyTransport, receiver: RecordingReceiver) -> asyncio.Task[None]:
    """Open ``transport`` and start its ``run`` in a task."""
    await transport.open()
    return asyncio.create_task(transport.run(receiver))


async def eventually(predicate: Callable[[], bool], within: float = 2.0) -> None:
    """Poll ``predicate`` on the loop until it holds; ``TimeoutError`` after ``within`` s.

    Polling, since what it waits for is often state of the fake's emitter thread.
    """
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - no event to wait on across threads
            await asyncio.sleep(0.002)


def tool_call(
    call_id: str, name: str = "lookup_order", seq: int = 1, **arguments: Any
) -> dict[str, Any]:
    """A ``conversation.tool_call`` app-message as Tavus broadcasts it (protocol §4)."""
    return {
        "message_type": "conversation",
        "event_type": "conversation.tool_call",
        "conversation_id": "c0ffee",
        "seq": seq,
        "inference_id": f"inf-{seq}",
        "properties": {
            "name": name,
            "arguments": json.dumps(arguments),
            "tool_call_id": call_id,
        },
    }
