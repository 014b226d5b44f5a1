"""The ``local`` backend: one host, an in-process queue, no fleet.

The HTTP push shape (Pipecat Cloud's ``POST /start``): a conversation is accepted only
while the host has a free slot, else :class:`~cvibot.serve._backend.HostFull` (the API
answers 503 with ``Retry-After``), so a load balancer with retries spreads the work.
Accepted jobs wait in a FIFO until :meth:`LocalBackend.jobs` hands them to the host,
which is at once unless the host filled up in between.

Records live in memory: every conversation not ended yet, and the last ``history``
ended ones (oldest dropped first), so a late retry of an ended conversation still gets
409 for a while. The answer-once claim of each tool call (``claim_call``) is a bounded
set of recent keys; there is no other holder to race with here, so it only refuses a
call of a conversation this host no longer holds, or one answered already.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import structlog

from cvibot._dedupe import RecentKeys
from cvibot.serve._backend import (
    TERMINAL_STATES,
    AlreadyEnded,
    ConversationRecord,
    ConversationState,
    HostFull,
    Job,
    Slots,
)

__all__ = ["LocalBackend", "LocalOwnership"]

_POLL = 1.0  # seconds between two looks at the queue when nothing wakes the host up
_CALLS_MAX_AGE = 600.0  # seconds a claimed tool call is remembered (as the session does)


class LocalOwnership:
    """The host's hold on one job of a :class:`LocalBackend` (see ``Ownership``).

    ``fence`` is the job's attempt number; ``lost`` is never set (nothing can take the
    job away); ``stop_requested`` is set by :meth:`LocalBackend.stop`, with its reason
    in ``stop_reason``.
    """

    def __init__(self, backend: LocalBackend, conversation_id: str, fence: int) -> None:
        self.fence = fence
        self.lost = asyncio.Event()
        self.stop_requested = asyncio.Event()
        self.stop_reason: str | None = None
        self._backend = backend
        self._cid = conversation_id
        self.held = True

    async def joined(self) -> None:
        if self.held:
            self._backend._update(self._cid, state="active", joined_at=time.time())

    async def claim_call(self, key: str) -> bool:
        if not self.held:
            return False
        return self._backend._claim(self._cid, key)

    async def complete(self, state: ConversationState, reason: str) -> None:
        if not self.held:
            return
        self.held = False
        self._backend._finish(self._cid, state, reason)

    async def release(self) -> None:
        if not self.held:
            return
        self.held = False
        self._backend._give_back(self._cid)


class LocalBackend:
    """In-process queue and records of one host (the ``local`` backend).

    ``history``: ended records kept (the oldest dropped first); ``calls``: tool-call
    claims remembered (each for 10 minutes at most); ``host_id``: the ``owner`` of the
    records. ``retry_after`` (seconds) is the hint of :class:`HostFull`.
    """

    name = "local"

    def __init__(
        self,
        *,
        history: int = 1000,
        calls: int = 100_000,
        host_id: str = "local",
        retry_after: float = 5.0,
    ) -> None:
        if history < 0 or calls < 1:
            raise ValueError("history must be ≥ 0 and calls ≥ 1")
        self.host_id = host_id
        self._history = history
        self._retry_after = retry_after
        self._records: dict[str, ConversationRecord] = {}
        self._updated: dict[str, float] = {}
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._queue: deque[Job] = deque()
        self._jobs: dict[str, Job] = {}
        self._holds: dict[str, LocalOwnership] = {}
        self._calls = RecentKeys(calls, _CALLS_MAX_AGE)
        self._slots: Slots | None = None
        self._draining = False
        self._wake = asyncio.Event()
        self._log = structlog.get_logger("cvibot.serve")

    async def start(self) -> None:
        """Nothing to connect to."""

    def unreachable(self) -> str | None:
        """Always ``None``: the queue is in the process."""
        return None

    async def close(self) -> None:
        self.drain()

    # -- requests -------------------------------------------------------------------------

    async def enqueue(self, job: Job) -> ConversationRecord:
        """Accept ``job`` if the host has a slot for it (see the module docstring)."""
        cid = job.conversation_id
        record = self._records.get(cid)
        if record is not None:
            if record.terminal:
                raise AlreadyEnded(record)
            return record
        if self._draining:
            raise HostFull("the host is draining", self._retry_after)
        slots = self._slots
        if slots is None:
            raise HostFull("the host is not taking conversations yet", self._retry_after)
        if slots.free() - len(self._queue) <= 0:
            raise HostFull("no free capacity", self._retry_after)
        record = ConversationRecord(
            conversation_id=cid,
            state="queued",
            source=job.source,
            enqueued_at=job.enqueued_at or time.time(),
        )
        self._store(record)
        self._jobs[cid] = job
        self._queue.append(job)
        self._wake.set()
        return record

    async def stop(self, conversation_id: str, reason: str) -> ConversationRecord | None:
        """A queued conversation is never joined (``stopped`` now); a held one gets
        ``stop_requested`` (the host leaves and completes it as ``stopped``)."""
        record = self._records.get(conversation_id)
        if record is None or record.terminal:
            return record
        hold = self._holds.get(conversation_id)
        if hold is not None:
            hold.stop_reason = hold.stop_reason or reason
            hold.stop_requested.set()
            return record
        with contextlib.suppress(ValueError):
            self._queue.remove(self._jobs[conversation_id])
        return self._finish(conversation_id, "stopped", reason)

    async def get(self, conversation_id: str) -> ConversationRecord | None:
        return self._records.get(conversation_id)

    async def list(
        self, state: ConversationState | None = None, limit: int = 100
    ) -> list[ConversationRecord]:
        """Records, most recently updated first (at most ``limit``)."""
        order = sorted(self._records, key=self._updated.__getitem__, reverse=True)
        records = [self._records[cid] for cid in order]
        found = [r for r in records if state is None or r.state == state]
        return found[: max(0, limit)]

    # -- the host's side ------------------------------------------------------------------

    async def jobs(self, slots: Slots) -> AsyncIterator[tuple[Job, LocalOwnership]]:
        """Hand queued jobs to the host while it has a free slot; ends after :meth:`drain`
        (jobs still queued then are ``failed``: no other host will take them)."""
        self._slots = slots
        try:
            while not self._draining:
                if self._queue and slots.free() > 0:
                    job = self._queue.popleft()
                    yield job, self._hold(job)
                    continue
                self._wake.clear()
                waits: set[asyncio.Future[Any]] = {asyncio.ensure_future(self._wake.wait())}
                if self._queue:
                    waits.add(asyncio.ensure_future(slots.wait_free()))
                try:
                    await asyncio.wait(waits, timeout=_POLL, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiting in waits:
                        waiting.cancel()
        finally:
            while self._queue:
                job = self._queue.popleft()
                self._finish(job.conversation_id, "failed", "the host shut down before joining")

    def drain(self) -> None:
        """Take no more jobs: :meth:`jobs` ends and :meth:`enqueue` refuses."""
        self._draining = True
        self._wake.set()

    # -- book-keeping ---------------------------------------------------------------------

    def _hold(self, job: Job) -> LocalOwnership:
        cid = job.conversation_id
        record = self._records[cid]
        attempts = record.attempts + 1
        hold = LocalOwnership(self, cid, attempts)
        self._holds[cid] = hold
        self._update(cid, state="joining", owner=self.host_id, fence=attempts, attempts=attempts)
        return hold

    def _claim(self, cid: str, key: str) -> bool:
        if not self._calls.add((cid, key)):
            return False
        record = self._records.get(cid)
        if record is not None:
            self._update(cid, tool_calls=record.tool_calls + 1)
        return True

    def _give_back(self, cid: str) -> None:
        self._holds.pop(cid, None)
        if cid in self._records:
            self._update(cid, state="queued", owner=None)

    def _finish(self, cid: str, state: ConversationState, reason: str) -> ConversationRecord:
        assert state in TERMINAL_STATES, state
        self._holds.pop(cid, None)
        self._jobs.pop(cid, None)
        record = self._update(cid, state=state, reason=reason, owner=None, ended_at=time.time())
        self._ended[cid] = None
        while len(self._ended) > self._history:
            old, _ = self._ended.popitem(last=False)
            self._records.pop(old, None)
            self._updated.pop(old, None)
        self._wake.set()
        return record

    def _update(self, cid: str, **changes: object) -> ConversationRecord:
        record = replace(self._records[cid], **changes)  # type: ignore[arg-type]
        self._store(record)
        return record

    def _store(self, record: ConversationRecord) -> None:
        self._records[record.conversation_id] = record
        self._updated[record.conversation_id] = time.monotonic()
