"""The session host: many conversations served at once by one :class:`~cvibot._runtime.Bot`.

:class:`SessionHost` takes jobs from a backend (:mod:`cvibot.serve._backend`) while it has
a free slot (it is the backend's ``Slots``), and serves each one with ``Bot.run`` on a
transport its ``transport_factory`` makes for the job (by default a
:class:`~cvibot.transports._daily.DailyTransport` with the config's Daily settings and the
job's URL and meeting token). One Bot, built once from the config, serves them all:
plugin start-up, the sync-handler threads and the watchdog are shared.

A conversation's life on this host: ``joining`` (a ``create`` job first creates its
conversation through the Tavus API; a job taken over from another host is first checked
with ``GET /v2/conversations/{id}`` and not joined once ended) → ``active`` once the
room is joined (``Ownership.joined``) → over, and then exactly one of:

- ``complete("ended", why)``: the conversation ended (``system.shutdown``, the replica
  left, the room ended);
- ``complete("stopped", why)``: a stop was asked for (``Ownership.stop_requested``);
- ``complete("failed", why)``: joining failed (the room URL, the SDK, a plugin's start-up);
- ``release()``: the host gives it back for another host to serve (drain);
- nothing, when the hold was lost (``Ownership.lost``): the host leaves at once (running
  calls are cut short) and never completes what is no longer its own.

Each tool call passes the call fence (``Ownership.claim_call``) before its handler runs.

Drain (:meth:`SessionHost.drain`, on SIGTERM): no new jobs (``free()`` is 0, the backend
stops handing any); ``on_drain: finish`` waits up to ``drain_timeout`` seconds for the
conversations to end, then leaves the rest and releases them; ``handoff`` leaves and
releases them at once. :meth:`SessionHost.run` returns once every conversation is over.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import structlog

from cvibot.serve._backend import Backend, ConversationState, Job, Ownership
from cvibot.serve._hosted import HostedTransport
from cvibot.serve._options import ServeOptions

if TYPE_CHECKING:
    from cvibot._listening import SessionListener
    from cvibot._runtime import Bot
    from cvibot._session import Session
    from cvibot.tavus import TavusClient
    from cvibot.transports._base import Receiver, Transport

__all__ = ["HostEvents", "SessionHost", "TransportFactory", "daily_transport_factory"]

#: Makes the transport of one job (its room: ``job.conversation_url``, ``job.meeting_token``).
TransportFactory = Callable[[Job], "Transport"]

HostState = Literal["joining", "active"]
# How the host ends a conversation it leaves itself: complete it as stopped, give it
# back, or do nothing (the hold was lost).
_Exit = Literal["stopped", "release", "lost"]


def daily_transport_factory(bot: Bot, sdk: Any = None) -> TransportFactory:
    """The default factory: a :class:`~cvibot.transports._daily.DailyTransport` per job,
    with the config's ``transport`` settings when it is a Daily one (else the defaults),
    the job's room and meeting token, and ``dispatch.message_limit``. ``sdk`` replaces the
    ``daily`` module (the fake SDK of :mod:`doubles.fake_daily`)."""
    from cvibot.config import DailyTransportConfig
    from cvibot.transports._daily import DailyOptions, DailyTransport

    configured = bot.config.transport
    options = configured if isinstance(configured, DailyTransportConfig) else DailyOptions()
    limit = bot.config.dispatch.message_limit

    def make(job: Job) -> Transport:
        return DailyTransport.from_options(
            job.conversation_url,
            options,
            meeting_token=job.meeting_token,
            message_limit=limit,
            sdk=sdk,
        )

    return make


class HostEvents:
    """What the host reports as it goes (the metrics implement it); every method is a
    no-op here. Times are seconds."""

    def state_changed(self, old: str | None, new: str | None) -> None:
        """A conversation moved from ``old`` to ``new`` (``None``: not on this host)."""

    def joined(self, seconds: float) -> None:
        """A room was joined ``seconds`` after the job was taken."""

    def ended(self, how: str, seconds: float) -> None:
        """A conversation left this host (``how``: ended, stopped, failed, released,
        lost) after ``seconds`` on it."""

    def send_failed(self) -> None:
        """An app-message could not be sent."""

    def draining(self) -> None:
        """The drain started."""


@dataclass(eq=False)
class _Served:
    """One conversation on this host."""

    job: Job
    ownership: Ownership
    taken: float  # monotonic
    state: HostState = "joining"
    session: Session | None = None
    task: asyncio.Task[None] | None = None
    exit: tuple[_Exit, str] | None = None  # set when the host leaves it itself
    conversation_id: str = ""  # the Tavus id (a created conversation gets its own)
    notes: dict[str, str] = field(default_factory=dict)


class _Verdict(Exception):
    """How a conversation ended before its room was joined."""

    def __init__(self, state: ConversationState, reason: str) -> None:
        super().__init__(reason)
        self.state = state
        self.reason = reason


class SessionHost:
    """Serves the jobs of ``backend`` with ``bot`` (see the module docstring); it is the
    backend's ``Slots``.

    ``options``: the ``serve:`` section (capacity, load threshold, drain);
    ``transport_factory``: the transport of a job (default
    :func:`daily_transport_factory`); ``tavus``: the client that creates conversations and
    checks taken-over ones (``None``: ``create`` jobs fail, nothing is checked);
    ``listeners``: session listeners of every conversation (the metrics');
    ``events``: :class:`HostEvents`.
    """

    def __init__(
        self,
        bot: Bot,
        backend: Backend,
        options: ServeOptions,
        *,
        transport_factory: TransportFactory | None = None,
        tavus: TavusClient | None = None,
        listeners: Sequence[SessionListener] = (),
        events: HostEvents | None = None,
    ) -> None:
        self.bot = bot
        self.backend = backend
        self.options = options
        self.capacity = options.capacity
        self.limit = options.limit
        self._factory = transport_factory or daily_transport_factory(bot)
        self._tavus = tavus
        self._listeners = tuple(listeners)
        self._events = events or HostEvents()
        self._served: dict[str, _Served] = {}
        self._freed = asyncio.Event()
        self._draining = False
        self._started = False
        self._done = asyncio.Event()
        self._drainer: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._log = structlog.get_logger("cvibot.serve")

    # -- Slots ---------------------------------------------------------------------------

    def free(self) -> int:
        """Jobs the host can take now: ``limit`` minus those served; 0 while draining."""
        return 0 if self._draining else max(0, self.limit - len(self._served))

    async def wait_free(self) -> None:
        self._freed.clear()
        await self._freed.wait()

    # -- state ---------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        """True once :meth:`run` takes jobs."""
        return self._started

    @property
    def draining(self) -> bool:
        return self._draining

    @property
    def active(self) -> int:
        """Conversations on this host (joining or in the room)."""
        return len(self._served)

    def states(self) -> dict[str, str]:
        """``conversation_id`` → ``joining`` or ``active``, for every conversation here."""
        return {cid: served.state for cid, served in self._served.items()}

    def notes(self, conversation_id: str) -> dict[str, str]:
        """What this host knows of a conversation beyond its record: for a created one,
        ``tavus_conversation_id`` and ``conversation_url``. Empty when not served here."""
        served = self._served.get(conversation_id)
        return dict(served.notes) if served is not None else {}

    # -- running -------------------------------------------------------------------------

    async def run(self) -> None:
        """Take and serve jobs until :meth:`drain`; return once every conversation is over.

        The bot is held started (:meth:`Bot.active <cvibot._runtime.Bot.active>`) for the
        whole run: the plugins start once before the first job and shut down after the
        last conversation, not around each conversation or ``delivery.api`` call.
        Raises :class:`~cvibot._runtime.PluginStartupError` when a plugin cannot start (no
        job taken), and what the backend's job stream raises (after leaving every
        conversation)."""
        async with self.bot.active():
            self._started = True
            try:
                async for job, ownership in self.backend.jobs(self):
                    # A backend that hands out more than free() allows gets the extra back.
                    if self.free() <= 0 or job.conversation_id in self._served:
                        await ownership.release()
                        continue
                    self._take(job, ownership)
            except BaseException:
                self.drain(handoff=True)
                await self._wait_all()
                raise
            await self._wait_all()
            if self._drainer is not None:
                await self._drainer

    def drain(self, *, handoff: bool | None = None) -> None:
        """Take no new jobs and end what is served as ``on_drain`` says (``handoff``
        overrides it). Idempotent; returns at once (:meth:`run` returns when done)."""
        if self._draining:
            return
        self._draining = True
        self.backend.drain()
        self._events.draining()
        self._freed.set()
        handing_off = self.options.on_drain == "handoff" if handoff is None else handoff
        self._log.info(
            "draining",
            conversations=len(self._served),
            on_drain="handoff" if handing_off else "finish",
            drain_timeout=self.options.drain_timeout,
        )
        self._drainer = asyncio.get_running_loop().create_task(self._drain(handing_off))

    def stop(self, conversation_id: str, reason: str) -> bool:
        """Leave one conversation served here and complete it as ``stopped``; ``False``
        when it is not served here (a backend's ``stop`` reaches it through
        ``Ownership.stop_requested`` anyway)."""
        served = self._served.get(conversation_id)
        if served is None:
            return False
        self._leave(served, "stopped", reason)
        return True

    async def _drain(self, handoff: bool) -> None:
        if not handoff and self._served:
            tasks = {s.task for s in self._served.values() if s.task is not None}
            await asyncio.wait(tasks, timeout=self.options.drain_timeout)
        for served in list(self._served.values()):
            self._leave(served, "release", "handoff" if handoff else "drain_timeout")

    async def _wait_all(self) -> None:
        while self._served:
            tasks = {s.task for s in self._served.values() if s.task is not None}
            if tasks:
                await asyncio.wait(tasks)

    def _take(self, job: Job, ownership: Ownership) -> None:
        served = _Served(job, ownership, time.monotonic(), conversation_id=job.conversation_id)
        self._served[job.conversation_id] = served
        self._events.state_changed(None, "joining")
        served.task = asyncio.get_running_loop().create_task(
            self._serve(served), name=f"cvibot-serve-{job.conversation_id}"
        )

    def _leave(self, served: _Served, how: _Exit, reason: str) -> None:
        """End ``served`` here: leave its room (now, cutting running calls short, when the
        hold was lost), then complete, release or forget it as ``how`` says."""
        if served.exit is not None and how != "lost":
            return
        served.exit = (how, reason)
        session = served.session
        if session is None:  # still joining: stop joining
            if served.task is not None:
                served.task.cancel()
            return
        session.stop(reason)
        if how == "lost":
            # Not ours any more: no grace for running calls (their answers are fenced).
            cut = asyncio.get_running_loop().create_task(session.drain(0))
            self._background.add(cut)
            cut.add_done_callback(self._background.discard)

    # -- one conversation ----------------------------------------------------------------

    async def _serve(self, served: _Served) -> None:
        cid = served.job.conversation_id
        log = self._log.bind(conversation_id=cid)
        verdict: tuple[ConversationState, str] | None = None
        watcher = asyncio.get_running_loop().create_task(self._watch(served))
        try:
            verdict = await self._join_and_serve(served, log)
        except _Verdict as exc:
            verdict = (exc.state, exc.reason)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if served.exit is None or task is None:
                served.exit = ("release", "the host is shutting down")
                await self._settle(served, None, log)
                raise
            task.uncancel()
        except Exception as exc:
            verdict = self._failure(exc, log)
        finally:
            watcher.cancel()
        await self._settle(served, verdict, log)

    async def _join_and_serve(
        self, served: _Served, log: Any
    ) -> tuple[ConversationState, str] | None:
        """Serve the conversation; its verdict, or ``None`` when the host left it."""
        ownership = served.ownership
        if ownership.stop_requested.is_set():
            raise _Verdict("stopped", getattr(ownership, "stop_reason", None) or "stop requested")
        job = await self._prepare(served, log)
        transport = HostedTransport(
            self._factory(job),
            on_open=lambda: self._joined(served, log),
            on_receiver=lambda receiver: self._receiving(served, receiver),
            on_send_failed=lambda exc: self._events.send_failed(),
        )
        session = await self.bot.run(
            transport,
            listeners=self._listeners,
            conversation_id=served.conversation_id,
            call_fence=ownership.claim_call,
        )
        if served.exit is not None:
            return None
        return "ended", session.shutdown_reason or "ended"

    async def _prepare(self, served: _Served, log: Any) -> Job:
        """Create the conversation of a ``create`` job; check a taken-over one."""
        job = served.job
        if job.create is not None:
            if self._tavus is None:
                raise _Verdict("failed", "creating a conversation needs a Tavus API key")
            created = await self._tavus.create_conversation(**dict(job.create))
            if not created.conversation_url:
                raise _Verdict("failed", "Tavus created the conversation without a URL")
            served.conversation_id = created.conversation_id
            served.notes = {
                "tavus_conversation_id": created.conversation_id,
                "conversation_url": created.conversation_url,
            }
            log.info(
                "conversation created",
                tavus_conversation_id=created.conversation_id,
                conversation_url=created.conversation_url,
            )
            return replace(
                job,
                conversation_url=created.conversation_url,
                meeting_token=created.meeting_token or job.meeting_token,
            )
        if job.attempts > 1 and self._tavus is not None:
            await _check_still_active(self._tavus, job, log)
        return job

    async def _joined(self, served: _Served, log: Any) -> None:
        self._events.state_changed(served.state, "active")
        served.state = "active"
        self._events.joined(time.monotonic() - served.taken)
        log.info("joined", attempts=served.job.attempts, source=served.job.source)
        try:
            await served.ownership.joined()
        except Exception as exc:  # the backend's record lags; the conversation goes on
            log.warning("could not record the join", error=str(exc))

    def _receiving(self, served: _Served, receiver: Receiver) -> None:
        from cvibot._session import Session

        if isinstance(receiver, Session):
            served.session = receiver
            if served.exit is not None:  # left while the room was being joined
                how, reason = served.exit
                served.exit = None
                self._leave(served, how, reason)

    async def _watch(self, served: _Served) -> None:
        ownership = served.ownership
        waits = {
            asyncio.ensure_future(ownership.lost.wait()),
            asyncio.ensure_future(ownership.stop_requested.wait()),
        }
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
        if ownership.lost.is_set():
            self._log.warning("ownership lost: leaving", conversation_id=served.conversation_id)
            self._leave(served, "lost", "ownership lost")
        else:
            reason = getattr(ownership, "stop_reason", None) or "stop requested"
            self._leave(served, "stopped", reason)

    def _failure(self, exc: Exception, log: Any) -> tuple[ConversationState, str]:
        from cvibot._runtime import PluginStartupError
        from cvibot.transports._base import TransportError
        from cvibot.transports._daily.sdk_errors import RoomEnded

        if isinstance(exc, RoomEnded):
            return "ended", str(exc)
        if isinstance(exc, TransportError | PluginStartupError):
            log.warning("conversation failed", error=str(exc))
            return "failed", str(exc)
        log.error("conversation failed", exc_info=exc)
        return "failed", f"{type(exc).__name__}: {exc}"

    async def _settle(
        self, served: _Served, verdict: tuple[ConversationState, str] | None, log: Any
    ) -> None:
        """Tell the backend how the conversation left this host, exactly once."""
        cid = served.job.conversation_id
        ownership = served.ownership
        how: str
        try:
            if verdict is None and served.exit is not None:
                exit_how, reason = served.exit
                if exit_how == "release":
                    how = "released"
                    await ownership.release()
                elif exit_how == "lost":
                    how = "lost"
                else:
                    how = "stopped"
                    await ownership.complete("stopped", reason)
            else:
                state, reason = verdict or ("ended", "ended")
                how = state
                await ownership.complete(state, reason)
            log.info("conversation left", how=how, reason=reason)
        except Exception as exc:
            how = "error"
            log.error("the backend could not record the end", exc_info=exc)
        finally:
            self._served.pop(cid, None)
            self._events.state_changed(served.state, None)
            self._events.ended(how, time.monotonic() - served.taken)
            self._freed.set()


async def _check_still_active(tavus: TavusClient, job: Job, log: Any) -> None:
    """Raise :class:`_Verdict` unless Tavus says the taken-over conversation is active."""
    from cvibot.tavus import NotFound

    try:
        conversation = await tavus.get_conversation(job.conversation_id)
    except NotFound:
        raise _Verdict("failed", "Tavus does not know this conversation") from None
    except Exception as exc:  # Tavus unreachable: joining tells whether the room lives
        log.warning("could not check the conversation before rejoining", error=str(exc))
        return
    if conversation.status not in (None, "active"):
        status = conversation.status
        raise _Verdict("ended", f"the conversation is {status} (checked on takeover)")
