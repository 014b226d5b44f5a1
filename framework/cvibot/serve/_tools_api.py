"""``POST /v1/tools/tavus``: tool calls Tavus sends over HTTPS (``delivery.api``, protocol
reference §7.2), answered by the same handlers as the calls of a room.

A request is checked before anything reads it: its ``X-Tavus-Signature`` must be the
HMAC-SHA256 of the raw body under ``delivery_api.secret`` (:mod:`~cvibot.serve._signature`),
else 401 and nothing else happens. The body (either shape, :mod:`~cvibot.serve._api_calls`)
becomes a :class:`~cvibot._protocol.events.ToolCall` that a room-less
:class:`~cvibot._session.Session` of the bot dispatches: the same tool registry, argument
validation, sync pool, outcome logging and ``cvibot_tool_outcome`` hook as in a room.
Every call is answered as a result (``reply`` is ``tool_result`` whatever the tool
sets), within ``min(tool timeout, delivery_api.timeout − 1 s)`` so that the answer
reaches Tavus before Tavus gives up. ``ToolContext.echo``/``respond``/``send`` raise
:class:`~cvibot.serve._api_calls.NoRoom` on this path.

The answer: ``200`` with the output text (``application/json`` when it is a JSON object
or array, as a structured result is; ``text/plain`` otherwise). A failed call (a
``ToolError``'s message, an unknown tool, invalid arguments, a timeout) answers its
error text with ``delivery_api.error_status`` (200 by default, so the LLM reads it:
how Tavus treats a non-2xx answer is not documented). A redelivered ``tool_call_id``
gets the first answer again without running the handler, also while the first still
runs: from a TTL-bounded cache in the process and, in a fleet (``fleet.backend: redis``,
``answers`` given), from Redis (:mod:`cvibot._fleet.api_answers`), so that a redelivery
reaching another host behind a load balancer does not run it again either. There the
first host to claim the call runs it and keeps its answer (status, content type, body)
in Redis for ``redelivery_ttl`` before sending it; another host waits for that answer
(up to ``timeout − 1 s``) and sends it as it is. When it cannot (the claimer died before
answering, is still running, or Redis does not answer), the call is still not run
again: the answer is an error text with ``error_status``, not kept in the cache, so a
later redelivery asks again.

Other answers: 401 (signature missing or wrong), 413 (body over ``max_body_bytes``), 400
(not a tool call: not JSON, not an object, another event type); each a JSON
``{"error": ...}``. Counter ``cvibot_tools_api_requests_total{tool, status}``: ``tool``
is the tool's name when the bot has it, else ``unknown``; ``status`` the outcome
(``success``, ``error``, ``timeout``, ``cancelled``) or ``redelivered``, ``busy``,
``unanswered`` (another host claimed the call and its answer could not be had),
``unavailable`` (Redis did not answer the claim), ``unauthorized``, ``too_large``,
``bad_request``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import structlog
from prometheus_client import CollectorRegistry, Counter
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from cvibot._dispatch import DispatchPolicy, OutcomeKind, ToolOutcome
from cvibot._listening import SessionListener
from cvibot._protocol.events import ToolCall
from cvibot._protocol.parse import Rejection
from cvibot._runtime import Bot
from cvibot.serve._api_calls import (
    GENERATED_ID_PREFIX,
    TOOL_CALL,
    ApiAnswer,
    NoRoomTransport,
    read_call,
)
from cvibot.serve._backend import BackendError
from cvibot.serve._bodies import (
    JSON_TYPE,
    BodyTooLarge,
    ClientDisconnect,
    LogThrottle,
    decode_json,
    json_error,
    read_body,
)
from cvibot.serve._ingress_options import DeliveryApiOptions
from cvibot.serve._once import OnceCache
from cvibot.serve._signature import SIGNATURE_HEADER, signature_matches
from cvibot.tools import ToolSpec
from cvibot.tools._options import ReplyMode

if TYPE_CHECKING:
    from cvibot._fleet.api_answers import FleetAnswers

__all__ = ["TOOLS_PATH", "DeliveryApiOptions", "tools_api_routes"]

#: The path Tavus calls (``delivery.api.url`` = ``serve.public_url`` + this).
TOOLS_PATH: Final = "/v1/tools/tavus"
_TEXT_TYPE: Final = "text/plain; charset=utf-8"
# Beyond the handler's timeout and the drain's grace: a call always has its outcome by
# then; this only keeps a bug from holding a request for ever.
_ANSWER_MARGIN: Final = 5.0


def tools_api_routes(
    options: DeliveryApiOptions,
    *,
    bot: Bot,
    registry: CollectorRegistry,
    answers: FleetAnswers | None = None,
) -> list[BaseRoute]:
    """The route ``POST /v1/tools/tavus`` (see the module docstring) answering with
    ``bot``'s tools; its counter is registered in ``registry``. ``answers``: the fleet's
    answer store (``fleet.backend: redis``), so that a call is run once across the
    fleet; ``None``: once per process.

    The calls hold :meth:`Bot.active` while they run: a host should hold it for its
    whole life too, or the plugins start and shut down around each call.
    """
    receiver = ToolsApiReceiver(options, bot=bot, registry=registry, answers=answers)
    return [Route(TOOLS_PATH, receiver.handle, methods=["POST"], name="tavus_tools")]


class _Outcome(SessionListener):
    """Hands the one call's outcome to the request waiting for it."""

    def __init__(self, future: asyncio.Future[ToolOutcome]) -> None:
        self._future = future

    def on_outcome(self, outcome: ToolOutcome) -> None:
        if not self._future.done():
            self._future.set_result(outcome)


class ToolsApiReceiver:
    """The state behind the route: the bot's tools as this path runs them, the
    redelivery cache (and the fleet's answer store, when there is one), the calls
    running and the counter."""

    def __init__(
        self,
        options: DeliveryApiOptions,
        *,
        bot: Bot,
        registry: CollectorRegistry,
        answers: FleetAnswers | None = None,
    ) -> None:
        self._options = options
        self._answers = answers
        self._bot = bot
        self._secret = options.secret.get_secret_value().encode("utf-8")
        cap = options.handler_timeout_cap
        policy = bot.policy
        # Every call answers with a result, within the time Tavus waits.
        self._tools: Mapping[str, ToolSpec] = {
            name: spec.with_options(
                reply=ReplyMode.TOOL_RESULT,
                timeout=min(spec.timeout or policy.default_timeout, cap),
            )
            for name, spec in bot.tools.items()
            if not spec.is_perception
        }
        self._policy: DispatchPolicy = dataclasses.replace(
            policy,
            default_reply=ReplyMode.TOOL_RESULT,
            default_timeout=min(policy.default_timeout, cap),
            message_limit=options.max_answer_bytes,
        )
        self._deadline = cap + self._policy.shutdown_grace + _ANSWER_MARGIN
        self._cache: OnceCache[ApiAnswer] = OnceCache(
            options.redelivery_capacity, options.redelivery_ttl
        )
        self._running: set[asyncio.Task[None]] = set()
        self._requests = Counter(
            "cvibot_tools_api_requests",
            "Tool calls received over delivery.api, by tool and how they ended",
            ["tool", "status"],
            registry=registry,
        )
        self._log: structlog.typing.FilteringBoundLogger = structlog.get_logger(
            "cvibot.serve.tools_api"
        ).bind()
        self._refused = LogThrottle(self._log, "delivery.api request refused")

    async def handle(self, request: Request) -> Response:
        header = request.headers.get(SIGNATURE_HEADER)
        if not header:
            return self._unauthorized(request, "no X-Tavus-Signature header")
        try:
            body = await read_body(request, self._options.max_body_bytes)
        except BodyTooLarge as exc:
            self._requests.labels("unknown", "too_large").inc()
            return json_error(413, str(exc))
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is left to read it
        if not signature_matches(self._secret, body, header):
            return self._unauthorized(request, "the signature does not match the body")
        # Signed by Tavus from here on.
        try:
            item = read_call(decode_json(body))
        except ValueError as exc:  # NotAToolCall too
            return self._bad_request(str(exc))
        if isinstance(item, Rejection) and (
            item.tool_call_id is None or item.event_type != TOOL_CALL
        ):
            return self._bad_request(f"invalid tool call: {item.detail}")
        assert item.tool_call_id is not None
        key = (item.conversation_id or "", item.tool_call_id)
        if item.tool_call_id.startswith(GENERATED_ID_PREFIX):
            future: asyncio.Future[ApiAnswer] = asyncio.get_running_loop().create_future()
            first = True
        else:
            future, first = self._cache.claim(key)
        if first:
            if len(self._running) >= self._options.max_concurrent:
                self._cache.forget(key)
                future.set_result(self._busy(item))
            else:
                task = asyncio.get_running_loop().create_task(self._first(item, key, future))
                self._running.add(task)
                task.add_done_callback(self._running.discard)
        # Shielded: a caller that goes away leaves the call running, and its answer
        # cached for the redelivery.
        answer = await asyncio.shield(future)
        self._requests.labels(answer.tool, answer.outcome if first else "redelivered").inc()
        return Response(
            answer.text.encode("utf-8", "replace"),
            status_code=answer.status,
            media_type=answer.media_type,
        )

    async def _first(
        self,
        item: ToolCall | Rejection,
        key: tuple[str, str],
        future: asyncio.Future[ApiAnswer],
    ) -> None:
        """The first delivery of a call in this process: run it here, or, in a fleet,
        only when this host wins the call's claim in Redis (else serve the answer of the
        host that won it)."""
        answers = self._answers
        tool_call_id = item.tool_call_id or ""
        if answers is None or tool_call_id.startswith(GENERATED_ID_PREFIX):
            await self._serve(item, future)
            return
        fleet_key = answers.key(item.conversation_id or "", tool_call_id)
        try:
            try:
                won = await answers.claim(fleet_key, running_for=self._deadline)
                if not won:
                    waited = await answers.wait(fleet_key, within=self._options.handler_timeout_cap)
            except BackendError as exc:  # AnswerStoreUnavailable: Redis did not answer
                self._log.warning(
                    "delivery.api call not run: the fleet's answer store is unreachable",
                    tool_call_id=tool_call_id,
                    error=str(exc),
                )
                self._cache.forget(key)  # a later redelivery tries again
                future.set_result(self._unavailable(item))
                return
            if not won:
                if waited.answer is None:
                    self._cache.forget(key)  # the answer may still come: ask again later
                    future.set_result(self._unanswered(item, waited.why))
                else:
                    future.set_result(dataclasses.replace(waited.answer, outcome="redelivered"))
                return
            ran: asyncio.Future[ApiAnswer] = asyncio.get_running_loop().create_future()
            serving = asyncio.get_running_loop().create_task(self._serve(item, ran))
            answer = await asyncio.shield(ran)
            # Kept in Redis before it is sent: a redelivery elsewhere finds it.
            await answers.store(fleet_key, answer)
            future.set_result(answer)
            await serving
        except BaseException:
            if not future.done():
                future.set_result(self._failed(item, "cancelled: the bot is stopping"))
            raise

    async def _serve(self, item: ToolCall | Rejection, future: asyncio.Future[ApiAnswer]) -> None:
        """Run one call in a room-less session of the bot and set its answer."""
        arrived = time.perf_counter()
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[ToolOutcome] = loop.create_future()
        try:
            async with self._bot.active():
                session = self._bot.open_session(
                    NoRoomTransport(),
                    conversation_id=item.conversation_id,
                    listeners=(_Outcome(outcome),),
                    tools=self._tools,
                    policy=self._policy,
                )
                if isinstance(item, Rejection):
                    session.dispatcher.answer_rejected(item, arrived)
                else:
                    session.dispatcher.dispatch(item, arrived)
                try:
                    async with asyncio.timeout(self._deadline):
                        done = await asyncio.shield(outcome)
                except TimeoutError:
                    self._log.error(
                        "delivery.api call has no outcome",
                        tool_call_id=item.tool_call_id,
                        after_s=self._deadline,
                    )
                    future.set_result(self._failed(item, "no answer in time"))
                else:
                    future.set_result(self._answer(done))
                # Async outcome observers end (or are cancelled) before the bot is let go.
                await session.drain(self._policy.shutdown_grace)
        except Exception:
            self._log.exception(
                "delivery.api call failed",
                tool_call_id=item.tool_call_id,
                conversation_id=item.conversation_id,
            )
            if not future.done():
                future.set_result(self._failed(item, "failed with an internal error"))
        except BaseException:
            if not future.done():
                future.set_result(self._failed(item, "cancelled: the bot is stopping"))
            raise

    def _answer(self, outcome: ToolOutcome) -> ApiAnswer:
        text = _output(outcome.answer)
        if text is None:
            text = outcome.text or ""
        ok = outcome.kind is OutcomeKind.SUCCESS
        return ApiAnswer(
            status=200 if ok else self._options.error_status,
            text=text,
            media_type=JSON_TYPE if ok and _is_json_document(text) else _TEXT_TYPE,
            outcome=outcome.kind.value,
            tool=self._label(outcome.tool),
        )

    def _failed(self, item: ToolCall | Rejection, why: str, outcome: str = "error") -> ApiAnswer:
        """An error answer ``"<tool> <why>"`` with ``error_status``, counted as ``outcome``."""
        name = item.name if isinstance(item, ToolCall) else "the tool"
        return ApiAnswer(
            self._options.error_status, f"{name} {why}", _TEXT_TYPE, outcome, self._label(name)
        )

    def _busy(self, item: ToolCall | Rejection) -> ApiAnswer:
        return self._failed(
            item, "is busy: too many tool calls are running; try again shortly", "busy"
        )

    def _unavailable(self, item: ToolCall | Rejection) -> ApiAnswer:
        why = "cannot be answered now: the bot's shared store is unreachable; try again"
        return self._failed(item, why, "unavailable")

    def _unanswered(self, item: ToolCall | Rejection, why: str) -> ApiAnswer:
        if why == "pending":
            text = "is still running for an earlier delivery of this call; no answer yet"
        else:
            text = "was not answered: the bot that took this call stopped before answering"
        return self._failed(item, text, "unanswered")

    def _label(self, tool: str) -> str:
        # Bounded label values: only the bot's own tool names.
        return tool if tool in self._tools else "unknown"

    def _unauthorized(self, request: Request, why: str) -> Response:
        self._requests.labels("unknown", "unauthorized").inc()
        client = request.client.host if request.client else None
        self._refused.warning(reason=why, client=client, status=401)
        return json_error(401, "invalid signature")

    def _bad_request(self, why: str) -> Response:
        self._requests.labels("unknown", "bad_request").inc()
        self._refused.warning(reason=why, status=400)
        return json_error(400, why)


def _output(message: Mapping[str, Any] | None) -> str | None:
    """The ``output`` of the ``conversation.tool_result`` sent, as the dispatcher
    encoded it (truncated or replaced when over the answer limit)."""
    properties = message.get("properties") if message is not None else None
    output = properties.get("output") if isinstance(properties, Mapping) else None
    return output if isinstance(output, str) else None


def _is_json_document(text: str) -> bool:
    if not text or text[0] not in "{[":
        return False
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True
