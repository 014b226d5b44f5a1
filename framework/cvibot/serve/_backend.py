"""The contract between the host (``cvibot serve``) and the backend that feeds it jobs.

A *job* is "join conversation X and serve it until it ends" (minutes to hours). The
host owns capacity, the Daily connections and the drain; a backend owns where jobs wait,
who holds each one and the fleet-wide conversation state:

- ``local``: an in-process queue, one host (HTTP push; a full host refuses new work);
- ``redis``: a Redis Streams consumer group shared by many hosts, with a lease per
  conversation (a fencing counter) and an answer-once claim per tool call.

Flow: the control API or a webhook calls :meth:`Backend.enqueue`; the host iterates
:meth:`Backend.jobs`, which yields a job with its :class:`Ownership` only while the host
has a free slot (:class:`Slots`); the host joins, calls :meth:`Ownership.joined`, asks
:meth:`Ownership.claim_call` before each tool call's handler runs, and ends with
:meth:`Ownership.complete` (the conversation is over) or :meth:`Ownership.release`
(another host should take it over: drain by hand-over, or the lease was lost).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from cvibot._errors import CvibotError

__all__ = [
    "AlreadyEnded",
    "Backend",
    "BackendError",
    "ConversationRecord",
    "ConversationState",
    "HostFull",
    "Job",
    "JobSource",
    "Ownership",
    "Slots",
    "host_id",
]

#: ``queued`` (waiting for a host), ``joining``, ``active`` (in the room), then one of
#: the terminal states: ``ended`` (the conversation ended), ``stopped`` (stopped through
#: the API or a ``system.shutdown`` callback), ``failed`` (joining failed for good).
ConversationState = Literal["queued", "joining", "active", "ended", "stopped", "failed"]
TERMINAL_STATES: frozenset[str] = frozenset({"ended", "stopped", "failed"})

#: Who asked for the job: the control API, a Tavus webhook, a conversation the host
#: creates itself through the Tavus API, or a reconciler.
JobSource = Literal["api", "webhook", "create", "reconciler"]


def host_id() -> str:
    """The id of this process's incarnation: ``<hostname>:<pid>:<4 hex>``, so that a
    restarted process never passes for the one before it. The host's id in the local
    backend's records and the Redis fleet's consumer name and lease owner."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(2)}"


class BackendError(CvibotError):
    """The backend cannot carry out a request (for example Redis is unreachable)."""


class HostFull(BackendError):
    """``enqueue`` on a backend that does not queue (``local``) while the host is full.

    ``retry_after`` (seconds) is the hint the control API sends as ``Retry-After``.
    """

    def __init__(self, message: str = "no free capacity", retry_after: float = 5.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AlreadyEnded(BackendError):
    """``enqueue`` of a conversation whose record is in a terminal state.

    ``record`` is that record (the API answers 409 with it).
    """

    def __init__(self, record: ConversationRecord) -> None:
        super().__init__(f"conversation {record.conversation_id} is {record.state}")
        self.record = record


@dataclass(frozen=True, slots=True)
class Job:
    """One conversation to join and serve.

    - ``conversation_url``: the Daily room (``https://tavus.daily.co/<id>``).
    - ``meeting_token``: the room token of a private (``require_auth``) conversation; a
      backend keeps it out of shared logs and deletes it when the job ends.
    - ``enqueued_at``: Unix time in seconds.
    - ``create``: the body of ``POST /v2/conversations`` when the host creates the
      conversation itself (then ``conversation_url`` is empty until it is created).
    - ``attempts``: set by the backend; more than 1 means the job was taken over (the
      host checks that the conversation is still active before joining).
    """

    conversation_id: str
    conversation_url: str
    meeting_token: str | None = None
    source: JobSource = "api"
    enqueued_at: float = 0.0
    metadata: Mapping[str, str] = field(default_factory=dict)
    create: Mapping[str, Any] | None = None
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    """What the fleet knows about one conversation, as ``GET /v1/conversations/{id}``
    returns it. Times are Unix seconds; ``owner`` is the host id holding it (``None``
    when queued or ended); ``fence`` is the lease's fencing counter (grows by one at each
    take-over); ``reason`` says why it ended or failed."""

    conversation_id: str
    state: ConversationState
    owner: str | None = None
    fence: int | None = None
    attempts: int = 0
    source: JobSource = "api"
    enqueued_at: float | None = None
    joined_at: float | None = None
    ended_at: float | None = None
    reason: str | None = None
    tool_calls: int = 0

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES


class Slots(Protocol):
    """The host's capacity, as a backend sees it."""

    def free(self) -> int:
        """Jobs the host can take now (0 while draining)."""
        ...

    async def wait_free(self) -> None:
        """Return when a slot may be free (a job ended or the capacity grew); callers
        bound the wait themselves (``asyncio.timeout``) and check :meth:`free` again."""
        ...


class Ownership(Protocol):
    """A host's hold on one job, handed out with it by :meth:`Backend.jobs`.

    ``lost`` is set when the hold is gone (the lease could not be renewed within
    0.9 × its length, or another host took it over): the host must leave the room at
    once without completing. ``stop_requested`` is set when a stop was asked for from
    anywhere in the fleet (API or ``system.shutdown`` callback).
    """

    fence: int
    lost: asyncio.Event
    stop_requested: asyncio.Event

    async def joined(self) -> None:
        """The host is in the room: the state becomes ``active``."""
        ...

    async def claim_call(self, key: str) -> bool:
        """Claim the right to answer one tool call (``key`` is its ``tool_call_id``, or
        the session's dedupe key when it has none). ``True``: answer it. ``False``:
        another holder answered it already, or this host no longer holds the job; then
        the handler must not run and nothing is sent."""
        ...

    async def complete(self, state: ConversationState, reason: str) -> None:
        """The job is over (``ended``, ``stopped`` or ``failed``). Retried until the
        backend has stored it: a lost completion would make another host rejoin."""
        ...

    async def release(self) -> None:
        """Give the job back so another host takes it over (drain by hand-over)."""
        ...


class Backend(Protocol):
    """Where jobs wait and who holds them. See the module docstring for the flow."""

    name: str

    async def start(self) -> None:
        """Connect (Redis: ping and create the consumer group). Raises
        :class:`BackendError` when it cannot."""
        ...

    async def close(self) -> None: ...

    async def enqueue(self, job: Job) -> ConversationRecord:
        """Queue ``job``; idempotent by ``conversation_id`` (a second enqueue returns the
        existing record). Raises :class:`AlreadyEnded` for a conversation in a terminal
        state, :class:`HostFull` on a backend that does not queue when there is no free
        slot, :class:`BackendError` when the backend is unreachable."""
        ...

    async def stop(self, conversation_id: str, reason: str) -> ConversationRecord | None:
        """Ask for the conversation to stop wherever it is served (a queued one is never
        joined). ``None`` when the conversation is unknown."""
        ...

    async def get(self, conversation_id: str) -> ConversationRecord | None: ...

    async def list(
        self, state: ConversationState | None = None, limit: int = 100
    ) -> list[ConversationRecord]:
        """Records, most recently updated first."""
        ...

    def jobs(self, slots: Slots) -> AsyncIterator[tuple[Job, Ownership]]:
        """Yield jobs for this host, never more than ``slots.free()`` allows. Ends after
        :meth:`drain`; a job read while draining is given back, not yielded."""
        ...

    def drain(self) -> None:
        """Stop taking jobs (SIGTERM)."""
        ...

    def unreachable(self) -> str | None:
        """Why the started backend cannot be used now (Redis has not answered for a
        while), else ``None``. ``/readyz`` answers 503 meanwhile, so that a load
        balancer sends the control API and ``delivery.api`` calls to hosts that can
        serve them."""
        ...
