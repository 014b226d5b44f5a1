"""The HTTP face of ``cvibot serve`` (Starlette), as the fleet design lays it out.

Unauthenticated (for probes and scrapers on an internal port):

- ``GET /livez``: 200 while the event loop answers (never tied to Redis: an outage
  must not restart the fleet);
- ``GET /readyz``: 200 once the host takes jobs; 503 while it drains, and while its
  backend is unreachable (a fleet host whose Redis has not answered for
  ``2 × renew_every``), never tied to free capacity (a full host is still ready, see
  ``docs/deploy.md``);
- ``GET /capacity``: ``{"capacity", "limit", "active", "free", "draining"}``, 200 while
  a slot is free, else 503 (for routers of the ``local`` backend);
- ``GET /metrics``: Prometheus text.

Control API, with ``Authorization: Bearer <serve.api_token>`` (compared in constant
time; no token configured on a loopback host: open):

- ``POST /v1/conversations`` ``{conversation_url, conversation_id?, meeting_token?,
  metadata?}`` or ``{create: {...}}`` → 202 ``{conversation_id, state}``; idempotent by
  id; 409 with the record once ended; 422 for a malformed URL or body; 503 with
  ``Retry-After`` when a ``local`` host is full or draining;
- ``GET /v1/conversations?state=&limit=`` → ``{"data": [record, ...]}``;
- ``GET /v1/conversations/{id}`` → the record (404 if unknown);
- ``POST /v1/conversations/{id}/stop`` ``{reason?}`` → 202 with the record (404 if
  unknown).

Every error is JSON ``{"error": "<message>"}``. Bodies are read up to
:data:`~cvibot.serve._api_models.MAX_BODY` bytes (413 beyond), must be one JSON object
(400) of the documented shape (422).
"""

from __future__ import annotations

import hmac
import math
import time
import uuid
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import structlog
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from cvibot.serve._api_models import (
    ID_PATTERN,
    MAX_BODY,
    StartRequest,
    StopRequest,
    _BodyError,
    default_id,
    parse_body,
    parse_state,
    problem_text,
)
from cvibot.serve._backend import (
    AlreadyEnded,
    Backend,
    BackendError,
    ConversationRecord,
    HostFull,
    Job,
)
from cvibot.serve._options import ServeOptions

if TYPE_CHECKING:
    from cvibot._fleet.api_answers import FleetAnswers
    from cvibot._runtime import Bot
    from cvibot.serve._host import SessionHost
    from cvibot.serve._metrics import HostMetrics
    from cvibot.serve._webhooks import WebhookReceiver
    from cvibot.tavus import TavusClient

__all__ = ["ServeState", "create_app"]

_MAX_LIMIT = 1000


@dataclass
class ServeState:
    """What the app serves: the host, its backend, options, metrics, the bot and the
    Tavus client (``None`` without an API key). ``webhooks`` is the receiver of Tavus
    callbacks once the app mounted it (``serve.webhook`` set): await its ``settled()``
    at shutdown. ``extra_routes`` keeps the optional endpoints' routes, made once per
    state (their counters are registered once in the metrics' registry)."""

    host: SessionHost
    backend: Backend
    options: ServeOptions
    metrics: HostMetrics
    bot: Bot
    tavus: TavusClient | None = None
    webhooks: WebhookReceiver | None = None
    extra_routes: list[BaseRoute] | None = None


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _record(record: ConversationRecord, host: SessionHost) -> dict[str, Any]:
    return {**asdict(record), **host.notes(record.conversation_id)}


def _extra_routes(state: ServeState) -> list[BaseRoute]:
    """The routes of the optional endpoints: Tavus callbacks
    (``POST /v1/webhooks/tavus/{secret}``, when ``serve.webhook`` is set; each callback
    also reaches the plugins' ``cvibot_webhook`` hook) and ``delivery.api`` tool calls
    (``POST /v1/tools/tavus``, when ``serve.delivery_api`` is set)."""
    if state.extra_routes is not None:
        return state.extra_routes
    routes: list[BaseRoute] = []
    registry = state.metrics.registry
    if state.options.webhook is not None:
        from cvibot.serve._webhooks import WebhookReceiver, plugin_notifier

        state.webhooks = WebhookReceiver(
            state.options.webhook,
            backend=state.backend,
            tavus=state.tavus,
            notify=plugin_notifier(state.bot),
            registry=registry,
        )
        routes += state.webhooks.routes()
    if state.options.delivery_api is not None:
        from cvibot.serve._tools_api import tools_api_routes

        routes += tools_api_routes(
            state.options.delivery_api,
            bot=state.bot,
            registry=registry,
            answers=_fleet_answers(state),
        )
    state.extra_routes = routes
    return routes


def _fleet_answers(state: ServeState) -> FleetAnswers | None:
    """The fleet's store of ``delivery.api`` answers when the backend is Redis (a call is
    then run once across the fleet), else ``None`` (once per process)."""
    if state.backend.name != "redis" or state.options.delivery_api is None:
        return None
    from cvibot._fleet.api_answers import FleetAnswers
    from cvibot._fleet.redis_backend import RedisBackend

    backend = state.backend
    if not isinstance(backend, RedisBackend):
        return None
    return FleetAnswers(
        lambda: backend.client,
        backend.keys,
        worker_id=backend.worker_id,
        ttl=state.options.delivery_api.redelivery_ttl,
    )


def create_app(state: ServeState) -> Starlette:
    """The Starlette app of ``state`` (see the module docstring)."""
    log = structlog.get_logger("cvibot.serve")
    token = state.options.api_token
    expected = token.get_secret_value().encode() if token is not None else None

    def authorised(request: Request) -> bool:
        if expected is None:
            return True
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        # compare_digest even for a wrong scheme: the time says nothing either way.
        ok = hmac.compare_digest(value.strip().encode(), expected)
        return ok and scheme.lower() == "bearer"

    def refuse(reason: str, status: int, message: str, **headers: str) -> JSONResponse:
        state.metrics.refused.labels(reason).inc()
        return _error(status, message, headers or None)

    async def read_body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
            raise _BodyError(413, f"the body is larger than {MAX_BODY} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise _BodyError(413, f"the body is larger than {MAX_BODY} bytes")
        return bytes(body)

    async def livez(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        host = state.host
        if host.draining:
            return JSONResponse({"status": "draining"}, status_code=503)
        if not host.started:
            return JSONResponse({"status": "starting"}, status_code=503)
        why = state.backend.unreachable()
        if why is not None:
            return JSONResponse({"status": "backend unreachable", "error": why}, status_code=503)
        return JSONResponse({"status": "ready"})

    async def capacity(request: Request) -> Response:
        host = state.host
        free = host.free()
        body = {
            "capacity": host.capacity,
            "limit": host.limit,
            "active": host.active,
            "free": free,
            "draining": host.draining,
        }
        return JSONResponse(body, status_code=200 if free > 0 else 503)

    async def metrics(request: Request) -> Response:
        from cvibot.serve._metrics import CONTENT_TYPE_LATEST

        return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    async def start(request: Request) -> Response:
        if not authorised(request):
            return _error(401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"})
        try:
            body = StartRequest.model_validate(parse_body(await read_body(request)))
            job = _job(body)
        except _BodyError as exc:
            return refuse("invalid", exc.status, exc.message)
        except ValidationError as exc:
            return refuse("invalid", 422, problem_text(exc))
        try:
            record = await state.backend.enqueue(job)
        except HostFull as exc:
            retry = str(max(1, math.ceil(exc.retry_after)))
            return refuse("full", 503, str(exc), **{"Retry-After": retry})
        except AlreadyEnded as exc:
            state.metrics.refused.labels("ended").inc()
            return JSONResponse(
                {"error": str(exc), "conversation": _record(exc.record, state.host)},
                status_code=409,
            )
        except BackendError as exc:
            log.warning("enqueue failed", error=str(exc))
            return refuse("backend", 503, str(exc), **{"Retry-After": "5"})
        return JSONResponse(
            {"conversation_id": record.conversation_id, "state": record.state}, status_code=202
        )

    async def listing(request: Request) -> Response:
        if not authorised(request):
            return _error(401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"})
        try:
            wanted = parse_state(request.query_params.get("state"))
            limit = _limit(request.query_params.get("limit"))
        except _BodyError as exc:
            return _error(exc.status, exc.message)
        try:
            records = await state.backend.list(wanted, limit)
        except BackendError as exc:
            return _error(503, str(exc))
        return JSONResponse({"data": [_record(r, state.host) for r in records]})

    async def one(request: Request) -> Response:
        if not authorised(request):
            return _error(401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"})
        cid = request.path_params["conversation_id"]
        try:
            record = await state.backend.get(cid)
        except BackendError as exc:
            return _error(503, str(exc))
        if record is None:
            return _error(404, f"no conversation {cid!r}")
        return JSONResponse(_record(record, state.host))

    async def stop(request: Request) -> Response:
        if not authorised(request):
            return _error(401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"})
        cid = request.path_params["conversation_id"]
        try:
            body = StopRequest.model_validate(parse_body(await read_body(request), empty={}))
        except _BodyError as exc:
            return _error(exc.status, exc.message)
        except ValidationError as exc:
            return _error(422, problem_text(exc))
        try:
            record = await state.backend.stop(cid, body.reason)
        except BackendError as exc:
            return _error(503, str(exc))
        if record is None:
            return _error(404, f"no conversation {cid!r}")
        return JSONResponse(_record(record, state.host), status_code=202)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return _error(exc.status_code, exc.detail, dict(exc.headers or {}))

    routes: list[BaseRoute] = [
        Route("/livez", livez, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/capacity", capacity, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/v1/conversations", start, methods=["POST"]),
        Route("/v1/conversations", listing, methods=["GET"]),
        Route("/v1/conversations/{conversation_id}", one, methods=["GET"]),
        Route("/v1/conversations/{conversation_id}/stop", stop, methods=["POST"]),
        *_extra_routes(state),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: http_error})


def _job(body: StartRequest) -> Job:
    """The job of a start request; :class:`_BodyError` (422) for a bad URL or ``create``."""
    from cvibot.transports._daily.room import RoomAddress
    from cvibot.transports._daily.sdk_errors import InvalidRoomUrl

    if (body.conversation_url is None) == (body.create is None):
        raise _BodyError(422, "give either conversation_url or create (not both)")
    if body.create is not None:
        from cvibot.tavus._models import CreateConversationRequest

        try:
            create = CreateConversationRequest.model_validate(body.create)
        except ValidationError as exc:
            raise _BodyError(422, "create." + problem_text(exc)) from None
        return Job(
            conversation_id=body.conversation_id or f"create-{uuid.uuid4().hex[:16]}",
            conversation_url="",
            source="create",
            enqueued_at=time.time(),
            metadata=dict(body.metadata),
            create=create.model_dump(exclude_none=True),
        )
    url = body.conversation_url
    assert url is not None
    try:
        RoomAddress(url, None).check()
    except InvalidRoomUrl as exc:
        raise _BodyError(422, f"conversation_url: {exc}") from None
    cid = body.conversation_id or default_id(url)
    if cid is None or not ID_PATTERN.fullmatch(cid):
        raise _BodyError(
            422,
            "conversation_url's last path segment is not a conversation id: give conversation_id",
        )
    return Job(
        conversation_id=cid,
        conversation_url=url,
        meeting_token=body.meeting_token,
        source="api",
        enqueued_at=time.time(),
        metadata=dict(body.metadata),
    )


def _limit(value: str | None) -> int:
    if value is None or value == "":
        return 100
    if not value.isdigit() or not 1 <= int(value) <= _MAX_LIMIT:
        raise _BodyError(422, f"limit must be an integer from 1 to {_MAX_LIMIT}")
    return int(value)
