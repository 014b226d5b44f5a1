"""A host's hold on one Redis job: the lease token, its renewal state, the per-call claim
and the two ways to let go (complete, release)."""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import TYPE_CHECKING

import structlog
from redis.exceptions import RedisError

from cvibot.serve._backend import ConversationState, Job

if TYPE_CHECKING:
    from cvibot._fleet.redis_backend import RedisBackend

__all__ = ["RedisOwnership"]

_log: structlog.typing.FilteringBoundLogger = structlog.get_logger("cvibot.fleet").bind()

#: How long an answered call's claim is kept : covers redelivery of
#: the same call to the next holder after a take-over.
CALL_CLAIM_MS = 600_000
_MAX_KEY = 200


class RedisOwnership:
    """Implements :class:`~cvibot.serve._backend.Ownership` for :class:`RedisBackend`.

    ``token`` is ``<worker_id>:<fence>``, the value of the lease key; ``last_ok`` is the
    monotonic time taken before the last successful renewal was sent (the watchdog sets
    ``lost`` when it is older than 0.9 × lease). ``ending`` is set once :meth:`complete`
    or :meth:`release` started, ``finished`` once it is done.
    """

    def __init__(self, backend: RedisBackend, job: Job, entry: str, fence: int) -> None:
        self._backend = backend
        self.job = job
        self.conversation_id = job.conversation_id
        self.entry = entry
        self.fence = fence
        self.token = f"{backend.worker_id}:{fence}"
        self.lost = asyncio.Event()
        self.stop_requested = asyncio.Event()
        self.last_ok = time.monotonic()
        self.ending = False
        self.finished = False

    def __repr__(self) -> str:
        return f"<RedisOwnership {self.conversation_id} fence={self.fence}>"

    def mark_lost(self, why: str) -> None:
        """The hold is gone: the host must leave without completing. Nothing once the
        host lets the job go itself (:meth:`complete`, :meth:`release`): the lease goes
        with it, and a renewal sent meanwhile finds it gone; that is no loss."""
        if self.ending:
            return
        if not self.lost.is_set():
            _log.warning("lease lost", conversation_id=self.conversation_id, why=why)
            self.lost.set()
        self._backend.forget(self)

    async def joined(self) -> None:
        """State ``active``; the take counter used for the dead letter starts over."""
        b = self._backend
        for delay in (0.05, 0.2, 0.5):
            try:
                ok = await b.scripts.joined(
                    keys=[
                        b.keys.lease(self.conversation_id),
                        b.keys.conv(self.conversation_id),
                        b.keys.index,
                    ],
                    args=[self.token, b.now(), self.conversation_id],
                )
            except RedisError as exc:
                _log.warning(
                    "cannot mark joined", conversation_id=self.conversation_id, error=str(exc)
                )
                await asyncio.sleep(delay)
                continue
            if not ok:
                self.mark_lost("taken over before it joined")
            return

    async def claim_call(self, key: str) -> bool:
        """``SET NX`` of the call's key, only while the lease is ours (one round trip).
        ``False`` when the hold is lost, the call was answered already, or Redis does not
        answer within half a lease (exclusivity over availability)."""
        if self.lost.is_set() or self.finished:
            return False
        b = self._backend
        if not b.options.call_fencing:
            return True
        if len(key) > _MAX_KEY:
            key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
        try:
            async with asyncio.timeout(min(2.0, b.options.lease / 2)):
                answer = await b.scripts.claim_call(
                    keys=[
                        b.keys.lease(self.conversation_id),
                        b.keys.call(self.conversation_id, key),
                        b.keys.conv(self.conversation_id),
                    ],
                    args=[self.token, CALL_CLAIM_MS],
                )
        except (RedisError, TimeoutError) as exc:
            _log.warning(
                "cannot claim tool call; not answering it",
                conversation_id=self.conversation_id,
                error=str(exc) or type(exc).__name__,
            )
            return False
        if answer == -1:
            self.mark_lost("another host holds the conversation")
            return False
        return bool(answer == 1)

    async def complete(self, state: ConversationState, reason: str) -> None:
        """Store the end (stream entry acked and deleted, lease and meeting token gone,
        record kept 24 h). Retried with back-off until Redis answers, or the backend is
        closed; the hold keeps being renewed meanwhile."""
        if self.finished:
            return
        self.ending = True
        b = self._backend
        delay = 0.05
        while True:
            try:
                done = await b.scripts.complete(
                    keys=[
                        b.keys.stream,
                        b.keys.lease(self.conversation_id),
                        b.keys.conv(self.conversation_id),
                        b.keys.index,
                    ],
                    args=[
                        self.token,
                        self.fence,
                        b.options.group,
                        self.entry,
                        state,
                        reason,
                        b.now(),
                        self.conversation_id,
                        b.record_ttl,
                    ],
                )
                break
            except RedisError as exc:
                if b.closed:
                    _log.error(
                        "completion not stored: backend closed",
                        conversation_id=self.conversation_id,
                        state=state,
                    )
                    self._let_go()
                    return
                _log.warning(
                    "completion not stored yet; retrying",
                    conversation_id=self.conversation_id,
                    error=str(exc),
                    retry_in=delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        if not done:
            _log.warning(
                "conversation taken over before completion",
                conversation_id=self.conversation_id,
                state=state,
            )
        self._let_go()

    async def release(self) -> None:
        """Give the job back: the lease is deleted and the entry made claimable at once
        (``XCLAIM … IDLE=min_idle JUSTID``). A failure is logged: the lease then expires."""
        if self.finished:
            return
        self.ending = True
        b = self._backend
        try:
            await b.scripts.release(
                keys=[
                    b.keys.stream,
                    b.keys.lease(self.conversation_id),
                    b.keys.conv(self.conversation_id),
                    b.keys.index,
                ],
                args=[
                    self.token,
                    b.options.group,
                    b.worker_id,
                    self.entry,
                    b.min_idle_ms,
                    b.now(),
                    self.conversation_id,
                ],
            )
        except RedisError as exc:
            _log.warning(
                "cannot release; the lease will expire",
                conversation_id=self.conversation_id,
                error=str(exc),
            )
        self._let_go()

    def _let_go(self) -> None:
        self.finished = True
        self._backend.forget(self)
