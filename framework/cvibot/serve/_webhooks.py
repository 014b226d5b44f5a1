"""``POST /v1/webhooks/tavus/{secret}``: the conversation callbacks Tavus sends to a
conversation's ``callback_url`` (protocol reference §9).

Tavus documents no signature on these callbacks, so they are treated as unauthenticated
and at-least-once-or-maybe-never:

- the ``callback_url`` carries a secret path segment (``webhook.secret``), compared in
  constant time; a wrong one is a 404, the answer of a path that does not exist;
- the answer is ``200 {"status": "ok"}`` as soon as the body is read and checked; what a
  callback causes runs in a background task whose errors are logged, never lost;
- nothing is acted on by the callback's word alone: ``system.replica_joined`` (or
  ``system.pal_joined``) for a conversation the backend does not know, with
  ``webhook.auto_join``, is confirmed with ``GET /v2/conversations/{id}`` (status
  ``active``, persona in ``webhook.allow_personas``) before the job is enqueued with the
  room URL from that answer; a forged callback can at most cause a status lookup;
- per conversation, a join is attempted once however often (or concurrently) the
  callback is delivered; ``system.shutdown`` stops the conversation wherever it is
  served (``Backend.stop`` is idempotent);
- every well-formed callback, whatever its ``event_type`` (unknown ones included),
  reaches ``notify`` (the integrator wires it to the ``cvibot_webhook`` plugin hook).

Counter ``cvibot_webhooks_total{event_type, result}``: ``event_type`` is one of the
documented types or ``other``; ``result`` is ``enqueued``, ``known`` (the backend has the
conversation already), ``duplicate`` (a join for it was handled already), ``refused``
(unknown to Tavus, not active, persona not allowed, no Tavus client, host full), ``stopped``,
``unknown_conversation`` (a shutdown for a conversation the backend does not know),
``ignored`` (passed on to ``notify`` only), ``failed`` (the Tavus lookup or the backend
failed: a later delivery tries again), or at the door ``forged``, ``too_large``,
``malformed``, ``busy``.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Final, Literal

import structlog
from prometheus_client import CollectorRegistry, Counter
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from cvibot.serve._backend import AlreadyEnded, Backend, BackendError, HostFull, Job
from cvibot.serve._bodies import (
    BodyTooLarge,
    ClientDisconnect,
    LogThrottle,
    decode_json,
    json_error,
    read_body,
)
from cvibot.serve._ingress_options import TavusCallback, WebhookOptions
from cvibot.serve._once import OnceCache
from cvibot.tavus import NotFound, TavusAPIError, TavusClient

if TYPE_CHECKING:
    from cvibot._runtime import Bot

__all__ = [
    "JOINED_EVENTS",
    "KNOWN_EVENTS",
    "SHUTDOWN_EVENT",
    "WEBHOOK_PATH",
    "TavusCallback",
    "WebhookOptions",
    "WebhookReceiver",
    "plugin_notifier",
    "webhook_routes",
]

#: The route; ``{secret}`` is ``webhook.secret``.
WEBHOOK_PATH: Final = "/v1/webhooks/tavus/{secret}"
#: The callbacks that say the replica is in the room (§9; ``pal_joined`` in the PAL era).
JOINED_EVENTS: Final = frozenset({"system.replica_joined", "system.pal_joined"})
SHUTDOWN_EVENT: Final = "system.shutdown"
#: The documented ``event_type`` values (§9); others are counted as ``other``.
KNOWN_EVENTS: Final = frozenset(
    {
        *JOINED_EVENTS,
        SHUTDOWN_EVENT,
        "application.transcription_ready",
        "application.recording_ready",
        "application.recording_copy_failed",
        "application.perception_analysis",
        "application.perception_unavailable",
        "application.post_call_action_executed",
    }
)
_NOT_FOUND: Final = "Not Found"  # Starlette's answer for a path that does not exist
# Ids and event types are visible ASCII (Tavus's ids look like c0123456789a); bounded so
# that a key, a log line, a metric label and a path segment stay small and printable.
# How long a handled join is remembered, so that redeliveries cost nothing.
_JOINS_REMEMBERED: Final = 10_000
_JOIN_MEMORY_S: Final = 3600.0

Notify = Callable[["TavusCallback"], Awaitable[None]]


Result = Literal[
    "enqueued",
    "known",
    "duplicate",
    "refused",
    "stopped",
    "unknown_conversation",
    "ignored",
    "failed",
    "forged",
    "too_large",
    "malformed",
    "busy",
]


def webhook_routes(
    options: WebhookOptions,
    *,
    backend: Backend,
    tavus: TavusClient | None,
    notify: Notify,
    registry: CollectorRegistry,
) -> list[BaseRoute]:
    """The route ``POST /v1/webhooks/tavus/{secret}`` (see the module docstring).

    ``backend`` receives the joins and stops; ``tavus`` confirms a conversation before an
    auto-join (``None``: auto-joins are refused, with a warning); ``notify`` receives
    every well-formed callback, in a background task; the counter is registered in
    ``registry``. Use :class:`WebhookReceiver` to wait for the background work too.
    """
    return WebhookReceiver(
        options, backend=backend, tavus=tavus, notify=notify, registry=registry
    ).routes()


def plugin_notifier(bot: Bot) -> Notify:
    """The ``notify`` of :func:`webhook_routes` that hands each callback to the plugins'
    ``cvibot_webhook`` hook (each failure logged, the others still called)."""

    async def notify(callback: TavusCallback) -> None:
        await bot.host.notify("cvibot_webhook", callback=callback)

    return notify


class WebhookReceiver:
    """The state behind the route: the background tasks, the joins in progress and
    handled, and the counter."""

    def __init__(
        self,
        options: WebhookOptions,
        *,
        backend: Backend,
        tavus: TavusClient | None,
        notify: Notify,
        registry: CollectorRegistry,
    ) -> None:
        self._options = options
        self._secret = options.secret.get_secret_value().encode()
        self._backend = backend
        self._tavus = tavus
        self._notify = notify
        self._tasks: set[asyncio.Task[None]] = set()
        self._joins: OnceCache[Result] = OnceCache(_JOINS_REMEMBERED, _JOIN_MEMORY_S)
        self._counter = Counter(
            "cvibot_webhooks",
            "Tavus conversation callbacks received, by event type and what they caused",
            ["event_type", "result"],
            registry=registry,
        )
        self._log: structlog.typing.FilteringBoundLogger = structlog.get_logger(
            "cvibot.serve.webhooks"
        ).bind()
        self._refused = LogThrottle(self._log, "webhook refused")

    def routes(self) -> list[BaseRoute]:
        return [Route(WEBHOOK_PATH, self.handle, methods=["POST"], name="tavus_webhook")]

    @property
    def pending(self) -> int:
        """Callbacks whose background work has not ended."""
        return len(self._tasks)

    async def settled(self) -> None:
        """Return once the background work of every callback received has ended (bound
        the wait with ``asyncio.timeout``)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def handle(self, request: Request) -> Response:
        given = str(request.path_params.get("secret", "")).encode("utf-8", "surrogatepass")
        if not hmac.compare_digest(given, self._secret):
            self._count(None, "forged")
            client = request.client.host if request.client else None
            self._refused.warning(reason="wrong secret in the path", client=client, status=404)
            return PlainTextResponse(_NOT_FOUND, status_code=404)
        try:
            body = await read_body(request, self._options.max_body_bytes)
        except BodyTooLarge as exc:
            self._count(None, "too_large")
            return json_error(413, str(exc))
        except ClientDisconnect:
            return Response(status_code=400)
        try:
            data = decode_json(body)
            if not isinstance(data, Mapping):
                raise ValueError("the body must be a JSON object")
            callback = TavusCallback.model_validate(data)
        except ValidationError as exc:
            return self._malformed(_first_problem(exc))
        except ValueError as exc:
            return self._malformed(str(exc))
        if len(self._tasks) >= self._options.max_pending:
            self._count(callback.event_type, "busy")
            self._refused.warning(reason="too many callbacks pending", status=503)
            return json_error(503, "busy", retry_after=1)
        self._spawn(self._handle(callback))
        return JSONResponse({"status": "ok"})

    def _malformed(self, why: str) -> Response:
        self._count(None, "malformed")
        self._refused.warning(reason=why, status=400)
        return json_error(400, f"malformed callback: {why}")

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # _handle catches everything; this is the net under it.
            self._log.error("webhook task failed", exc_info=task.exception())

    async def _handle(self, callback: TavusCallback) -> None:
        """What one callback causes, then ``notify``; each failure logged."""
        try:
            result = await self._act(callback)
        except Exception:
            self._log.exception(
                "webhook handling failed",
                event_type=callback.event_type,
                conversation_id=callback.conversation_id,
            )
            result = "failed"
        self._count(callback.event_type, result)
        try:
            await self._notify(callback)
        except Exception:
            self._log.exception(
                "webhook notify failed",
                event_type=callback.event_type,
                conversation_id=callback.conversation_id,
            )

    async def _act(self, callback: TavusCallback) -> Result:
        cid = callback.conversation_id
        if cid is None:
            return "ignored"
        if callback.event_type == SHUTDOWN_EVENT:
            reason = callback.shutdown_reason or SHUTDOWN_EVENT
            record = await self._backend.stop(cid, reason=reason)
            self._log.info(
                "conversation shut down by Tavus",
                conversation_id=cid,
                reason=reason,
                known=record is not None,
            )
            return "stopped" if record is not None else "unknown_conversation"
        if callback.event_type in JOINED_EVENTS and self._options.auto_join:
            return await self._join_once(cid, callback)
        return "ignored"

    async def _join_once(self, cid: str, callback: TavusCallback) -> Result:
        """One auto-join attempt per conversation: a delivery while one runs, or after
        one decided, is a ``duplicate``; a failed attempt is forgotten (a later
        delivery tries again)."""
        attempt, first = self._joins.claim(cid)
        if not first:
            return "duplicate"
        result: Result = "failed"
        try:
            result = await self._join(cid, callback)
        finally:
            attempt.set_result(result)
            if result == "failed":
                self._joins.forget(cid)
        return result

    async def _join(self, cid: str, callback: TavusCallback) -> Result:
        if await self._backend.get(cid) is not None:
            return "known"
        if self._tavus is None:
            self._log.warning(
                "auto_join needs the Tavus API to confirm the conversation",
                conversation_id=cid,
            )
            return "refused"
        try:
            conversation = await self._tavus.get_conversation(cid)
        except NotFound:
            # Definitive: a forged or mistyped id (remembered: no second lookup).
            self._log.info("auto_join refused", conversation_id=cid, reason="unknown to Tavus")
            return "refused"
        except TavusAPIError as exc:
            self._log.warning("auto_join lookup failed", conversation_id=cid, error=str(exc))
            return "failed"
        allowed = self._options.allow_personas
        why: str | None = None
        if conversation.status != "active":
            why = f"its status is {conversation.status!r}, not 'active'"
        elif allowed is not None and conversation.persona_id not in allowed:
            why = f"its persona {conversation.persona_id!r} is not in webhook.allow_personas"
        elif not conversation.conversation_url:
            why = "Tavus gave no conversation_url"
        if why is not None:
            self._log.info("auto_join refused", conversation_id=cid, reason=why)
            return "refused"
        assert conversation.conversation_url is not None
        metadata = {"replica_id": callback.replica_id} if callback.replica_id else {}
        job = Job(
            conversation_id=cid,
            conversation_url=conversation.conversation_url,
            meeting_token=conversation.meeting_token,
            source="webhook",
            enqueued_at=time.time(),
            metadata=metadata,
        )
        try:
            await self._backend.enqueue(job)
        except AlreadyEnded:
            return "known"
        except HostFull:
            self._log.warning("auto_join refused: the host is full", conversation_id=cid)
            return "refused"
        except BackendError as exc:
            self._log.warning("auto_join enqueue failed", conversation_id=cid, error=str(exc))
            return "failed"
        self._log.info("auto_join enqueued", conversation_id=cid, event_type=callback.event_type)
        return "enqueued"

    def _count(self, event_type: str | None, result: Result) -> None:
        label = event_type if event_type in KNOWN_EVENTS else "other"
        self._counter.labels(label, result).inc()


def _first_problem(exc: ValidationError) -> str:
    """The first validation error as ``field: message`` (never the input's text)."""
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    if not errors:
        return "invalid"
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"])
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}" if where else f"{first['msg']}{more}"
