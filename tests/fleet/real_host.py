"""A session of ``fleet_worker.py`` served by the real host: ``--session real_host:hosted_session``.

Each job the worker's claim loop takes is handed to one :class:`SessionHost` per
process, which serves it with a :class:`~cvibot._runtime.Bot` (one tool, ``answer``) on a
:class:`~cvibot.transports._daily.DailyTransport` over the fake Daily SDK, with the call
fence (``ownership.claim_call``) wired by the host as in production. The room protocol
of ``fleet_worker.py`` is kept: the calls the driver pushes on ``test:room:<cid>`` reach
the fake room as Tavus ``conversation.tool_call`` app-messages from the replica (``{"end":
true}`` as ``system.shutdown``), and every ``conversation.tool_result`` the bot sends is
recorded on ``test:answers`` as ``cid call worker fence asked_at`` (``asked_at``: when
the call was put into the room, before the host's claim). A fenced call sends nothing,
so it is never recorded; a call put into the room but not answered by the time the
host leaves it is recorded on ``test:unanswered`` as ``cid call worker asked_at``.
With ``--session-seconds S`` the room ends by itself ``S`` seconds after the join (a
``system.shutdown`` from the replica), as a conversation does.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fleet_worker import JOINED, LEFT, ROOM, WorkerContext

from cvibot.serve._backend import BackendError, ConversationRecord, Job, Ownership, Slots
from cvibot.serve._host import SessionHost
from cvibot.serve._options import ServeOptions
from cvibot.testing._assembly import build_bot, load_test_config
from cvibot.tools import tool
from cvibot.transports._base import Transport
from cvibot.transports._daily import DailyTransport, ReconnectPolicy

# The test doubles: tests/doubles, the package `doubles` (this module runs in a worker).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from doubles.fake_daily import FakeDaily, participant

ANSWERS = "test:answers"
UNANSWERED = "test:unanswered"
REPLICA = participant("Anna", "tavus-replica-r1")


@tool
async def answer(call: str) -> str:
    """Answer the driver's call."""
    return f"answered {call}"


class HandedJobs:
    """A backend whose jobs are those the worker's own claim loop hands in (the Redis
    backend stays the worker's): the host serves them and settles each one through its
    own :class:`Ownership`, as it does with any backend."""

    name = "handed"

    def __init__(self) -> None:
        self._queue: asyncio.Queue[tuple[Job, Ownership] | None] = asyncio.Queue()

    def hand(self, job: Job, ownership: Ownership) -> None:
        self._queue.put_nowait((job, ownership))

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        self.drain()

    async def enqueue(self, job: Job) -> ConversationRecord:
        raise BackendError("jobs come from the worker's Redis backend")

    async def stop(self, conversation_id: str, reason: str) -> ConversationRecord | None:
        return None

    async def get(self, conversation_id: str) -> ConversationRecord | None:
        return None

    async def list(self, state: str | None = None, limit: int = 100) -> list[ConversationRecord]:
        return []

    async def jobs(self, slots: Slots) -> AsyncIterator[tuple[Job, Ownership]]:
        while (item := await self._queue.get()) is not None:
            yield item

    def drain(self) -> None:
        self._queue.put_nowait(None)

    def unreachable(self) -> str | None:
        return None


class Hosted:
    """The process's host, bot and fake SDK."""

    def __init__(self) -> None:
        self.sdk = FakeDaily(join_outcome="ok", join_delay=0.01, remote_participants=[REPLICA])
        self.bot, _ = build_bot(load_test_config({}), tools=[answer])
        self.backend = HandedJobs()
        self.host = SessionHost(
            self.bot,
            self.backend,
            ServeOptions(capacity=10_000),  # the worker's own Capacity gates the claims
            transport_factory=self.transport,
        )
        self.task = asyncio.get_running_loop().create_task(self.host.run())

    def transport(self, job: Job) -> Transport:
        return DailyTransport(
            job.conversation_url,
            meeting_token=job.meeting_token,
            sdk=self.sdk,
            join_timeout=2,
            leave_timeout=0.5,
            release_timeout=1,
            reconnect=ReconnectPolicy(max_attempts=1, initial_backoff=0.01, max_backoff=0.02),
        )

    def client(self, url: str) -> Any:
        """The fake call client that joined ``url`` last, else ``None``."""
        for client in reversed(list(self.sdk.clients)):
            if client.joins and client.joins[-1][0] == url and client.joined:
                return client
        return None


_HOSTED: Hosted | None = None


def _hosted() -> Hosted:
    global _HOSTED
    if _HOSTED is None:
        _HOSTED = Hosted()
    return _HOSTED


async def hosted_session(job: Job, ownership: Ownership, ctx: WorkerContext) -> None:
    """Serve ``job`` through the process's :class:`SessionHost` (see the module docstring);
    return once the host is done with it."""
    hosted = _hosted()
    cid = job.conversation_id
    room = ROOM + cid
    hosted.backend.hand(job, ownership)
    while cid not in hosted.host.states():  # noqa: ASYNC110 - the host takes it at once
        await asyncio.sleep(0.005)
    client = None
    while client is None and cid in hosted.host.states():
        client = hosted.client(job.conversation_url)
        await asyncio.sleep(0.005)
    seen = await ctx.rooms.llen(room)  # calls sent before the join are missed, as in Daily
    asked: dict[str, float] = {}
    recorded = 0
    seq = 0
    if client is not None:
        await ctx.rooms.rpush(JOINED, f"{cid} {ctx.worker_id} {ownership.fence} {time.time():.6f}")
    ends_at = time.monotonic() + ctx.session_seconds if ctx.session_seconds else None
    while client is not None and cid in hosted.host.states():
        calls = await ctx.rooms.lrange(room, seen, -1)
        seen += len(calls)
        if ends_at is not None and time.monotonic() >= ends_at:
            ends_at = None
            calls.append(json.dumps({"end": True}))
        for raw in calls:
            call = json.loads(raw)
            seq += 1
            if call.get("end"):
                message = _shutdown(cid, seq)
            else:
                asked[call["id"]] = time.time()
                message = _tool_call(cid, call["id"], seq)
            client.inject_app_message(message, REPLICA["id"])
        recorded = await _record(ctx, client, cid, ownership, asked, recorded)
        await asyncio.sleep(ctx.poll)
    if client is not None:
        await _record(ctx, client, cid, ownership, asked, recorded)
        answered = {
            message["properties"]["tool_call_id"]
            for message, _ in list(client.sent)
            if message.get("event_type") == "conversation.tool_result"
        }
        unanswered = [
            f"{cid} {call} {ctx.worker_id} {at:.6f}"
            for call, at in asked.items()
            if call not in answered
        ]
        if unanswered:
            await ctx.rooms.rpush(UNANSWERED, *unanswered)
    if ownership.lost.is_set():
        why = "lost"
    elif ownership.stop_requested.is_set():
        why = "stopped"
    else:
        why = "ended"
    await ctx.rooms.rpush(LEFT, f"{cid} {ctx.worker_id} {why} {time.time():.6f}")


async def _record(
    ctx: WorkerContext,
    client: Any,
    cid: str,
    ownership: Ownership,
    asked: dict[str, float],
    start: int,
) -> int:
    """Record the tool results sent since ``start``; the new count of sent messages."""
    sent = list(client.sent)
    lines = []
    for message, _ in sent[start:]:
        if message.get("event_type") != "conversation.tool_result":
            continue
        call = message["properties"]["tool_call_id"]
        lines.append(f"{cid} {call} {ctx.worker_id} {ownership.fence} {asked[call]:.6f}")
    if lines:
        await ctx.rooms.rpush(ANSWERS, *lines)
    return len(sent)


def _tool_call(cid: str, call: str, seq: int) -> dict[str, Any]:
    return {
        "message_type": "conversation",
        "event_type": "conversation.tool_call",
        "conversation_id": cid,
        "seq": seq,
        "inference_id": f"inf-{seq}",
        "properties": {
            "name": "answer",
            "arguments": json.dumps({"call": call}),
            "tool_call_id": call,
        },
    }


def _shutdown(cid: str, seq: int) -> dict[str, Any]:
    return {
        "message_type": "system",
        "event_type": "system.shutdown",
        "conversation_id": cid,
        "seq": seq,
        "properties": {"shutdown_reason": "end_call"},
    }
