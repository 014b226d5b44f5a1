"""Against the real Tavus API: skipped unless ``TAVUS_API_KEY`` is set.

Creates a ``test_mode`` conversation (the replica never joins; not billed, protocol
reference §8.2) and ends it. Set ``TAVUS_PERSONA_ID`` and/or ``TAVUS_REPLICA_ID`` to
choose them (one is needed: Tavus requires a replica, the persona's default or given);
``TAVUS_BASE_URL`` overrides the API root (e.g. a staging host).
"""

from __future__ import annotations

import os

import pytest

from cvibot.tavus import DEFAULT_BASE_URL, TavusClient

pytestmark = pytest.mark.skipif(
    not os.environ.get("TAVUS_API_KEY", "").strip(), reason="TAVUS_API_KEY is not set"
)


async def test_live_test_mode_conversation_is_created_and_ended() -> None:
    persona_id = os.environ.get("TAVUS_PERSONA_ID") or None
    replica_id = os.environ.get("TAVUS_REPLICA_ID") or None
    if persona_id is None and replica_id is None:
        pytest.skip("set TAVUS_PERSONA_ID and/or TAVUS_REPLICA_ID to run the live test")
    base_url = os.environ.get("TAVUS_BASE_URL") or DEFAULT_BASE_URL
    async with TavusClient.from_env(base_url=base_url, timeout=30.0) as api:
        conv = await api.create_conversation(
            persona_id=persona_id,
            replica_id=replica_id,
            conversation_name="cvibot live test",
            test_mode=True,
        )
        try:
            assert conv.conversation_id
            assert conv.status in ("active", "ended")
            got = await api.get_conversation(conv.conversation_id)
            assert got.conversation_id == conv.conversation_id
        finally:
            await api.end_conversation(conv.conversation_id)
        ended = await api.get_conversation(conv.conversation_id)
        assert ended.status == "ended"
