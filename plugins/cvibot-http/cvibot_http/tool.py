"""The handler of one declared tool: render the request, send it, map the response.

The request must finish a little before the call's deadline (10 % of the time left, at
most 0.1 s, is kept in reserve), so that a slow service gets the "unavailable" answer
and a log line with the cause rather than the framework's plain timeout. Each failure is
logged (event ``"http request failed"``, with ``method``, ``url`` as configured without
values or query, ``status``, ``elapsed_ms`` and ``error``) on the call's logger, which
carries the call's ids; header values are never logged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any, Final

import httpx

from cvibot import ToolContext, ToolError
from cvibot_http.client import Connection
from cvibot_http.parameters import CALL_FIELDS
from cvibot_http.request import NO_BODY, RequestParts, RequestPlan
from cvibot_http.response import Failure, ResponseMapper

__all__ = ["HttpTool"]

_RESERVE_SHARE: Final = 0.1
_MAX_RESERVE: Final = 0.1  # seconds
_MIN_BUDGET: Final = 0.001  # seconds


class HttpTool:
    """Calls one endpoint for one tool; ``await tool(arguments, ctx)`` gives the answer.

    Raises :class:`~cvibot._errors.ToolError` with a short message for the LLM when the
    request cannot be made or fails (see :mod:`cvibot_http.response`), and
    :class:`~cvibot_http.client.NotStartedError` when the client is not open.
    """

    __slots__ = ("connection", "name", "request", "response")

    def __init__(
        self, name: str, request: RequestPlan, response: ResponseMapper, connection: Connection
    ) -> None:
        self.name = name
        self.request = request
        self.response = response
        self.connection = connection

    async def __call__(self, arguments: dict[str, Any], ctx: ToolContext) -> Any:
        values = {name: getattr(ctx, name) for name in CALL_FIELDS} | arguments
        parts = self.request.render(values)
        client = self.connection.client
        budget = _budget(ctx.remaining)
        log = ctx.log.bind(method=parts.method, url=self.request.url_template)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(budget):
                response = await client.send(_build(client, parts, budget))
        except (httpx.HTTPError, httpx.InvalidURL, TimeoutError) as exc:
            cause = str(exc) or f"no response within {budget:.3g} s"
            failure = self.response.unavailable(values, f"{type(exc).__name__}: {cause}")
            log.warning("http request failed", error=failure.detail, elapsed_ms=_ms(started))
            raise ToolError(failure.message) from None
        log = log.bind(status=response.status_code, elapsed_ms=_ms(started))
        try:
            if not response.is_success:
                raise self.response.failure(response, values)
            answer = self.response.success(response)
        except Failure as failure:
            log.warning("http request failed", error=failure.detail)
            raise ToolError(failure.message) from None
        log.debug("http request done")
        return answer

    def __repr__(self) -> str:
        return f"<HttpTool {self.name}: {self.request.method} {self.request.url_template}>"


def _build(client: httpx.AsyncClient, parts: RequestParts, budget: float) -> httpx.Request:
    url = httpx.URL(parts.url)
    if parts.params:
        url = url.copy_merge_params(tuple(parts.params))
    extra: Mapping[str, Any] = {} if parts.json is NO_BODY else {"json": parts.json}
    return client.build_request(parts.method, url, headers=parts.headers, timeout=budget, **extra)


def _budget(remaining: float) -> float:
    reserve = min(_MAX_RESERVE, remaining * _RESERVE_SHARE)
    return max(_MIN_BUDGET, remaining - reserve)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
