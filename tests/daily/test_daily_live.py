"""Against a real Tavus conversation: opt-in, since the conversation is billed.

Runs only with ``TAVUS_API_KEY``, ``TAVUS_PERSONA_ID`` (a persona with a default replica,
or ``TAVUS_REPLICA_ID`` too) and ``CVIBOT_LIVE_JOIN=1``. It creates a conversation, joins
its room with the real SDK, waits for the replica's participant (which checks the
``tavus-replica`` rule of the trust policy against the real room), and ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

import pytest

from cvibot._participants import Participant, ParticipantChange
from cvibot._session import TrustPolicy
from cvibot.tavus import TavusClient
from cvibot.transports._daily import DailyTransport

pytestmark = pytest.mark.skipif(
    not (
        os.environ.get("TAVUS_API_KEY")
        and os.environ.get("TAVUS_PERSONA_ID")
        and os.environ.get("CVIBOT_LIVE_JOIN") == "1"
    ),
    reason="set TAVUS_API_KEY, TAVUS_PERSONA_ID and CVIBOT_LIVE_JOIN=1 (billed)",
)


class _Watcher:
    """A receiver that waits for the replica's participant."""

    def __init__(self) -> None:
        self.participants: list[Participant] = []
        self.messages: list[tuple[Any, str | None]] = []
        self.replica = asyncio.Event()
        self._rule = TrustPolicy().replica
        self.closed = False

    def on_message(self, message: Any, sender: str | None = None, received_at: Any = None) -> None:
        self.messages.append((message, sender))

    def on_participant(
        self,
        change: ParticipantChange,
        participant: Participant,
        reason: str | None = None,
        received_at: float | None = None,
    ) -> None:
        self.participants.append(participant)
        if change != "left" and self._rule.matches(participant):
            self.replica.set()

    async def settled(self) -> None:
        return None


async def test_live_join_sees_the_replica_participant() -> None:
    async with TavusClient.from_env(timeout=30.0) as api:
        conv = await api.create_conversation(
            persona_id=os.environ["TAVUS_PERSONA_ID"],
            replica_id=os.environ.get("TAVUS_REPLICA_ID") or None,
            conversation_name="cvibot live join test",
            properties={"max_call_duration": 120, "participant_left_timeout": 0},
        )
        transport = DailyTransport(
            conv.conversation_url, meeting_token=conv.meeting_token, join_timeout=30
        )
        watcher = _Watcher()
        try:
            await transport.open()
            feed = asyncio.create_task(transport.run(watcher))  # type: ignore[arg-type]
            try:
                await asyncio.wait_for(watcher.replica.wait(), 90)
            finally:
                feed.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await feed
        finally:
            await transport.close()
            await api.end_conversation(conv.conversation_id)
    replicas = [p for p in watcher.participants if TrustPolicy().replica.matches(p)]
    assert replicas, f"no participant matched the replica rule: {watcher.participants}"
