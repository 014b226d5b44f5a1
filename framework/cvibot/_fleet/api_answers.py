"""The answer of each ``delivery.api`` tool call, kept in the fleet's Redis: a call that
Tavus delivers again (the same ``tool_call_id``) runs once across every host.

One string key per call, ``{S}:api:<sha256 of conversation_id NUL tool_call_id>``:

- ``claim <worker_id>``, set by the host that runs the handler (``SET NX PX``): the first
  host to set it runs the call, every other host waits for the answer;
- then the answer (an :class:`~cvibot.serve._api_calls.ApiAnswer`) as JSON ``{"status",
  "media_type", "text", "outcome", "tool"}`` (plain ``SET PX``, ``ttl`` long), which
  every host serves for a redelivery.

A host that loses the claim polls the key (a short back-off from 10 to 200 ms) until the
answer is there, the key is gone (the claimer died and its claim expired) or its time is
up (the claimer is slow or dead): never does it run the handler. No Lua: one
``SET NX`` decides, and only its winner writes the answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

import structlog

try:
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError
except ImportError as exc:  # an optional dependency: cvibot's serve extra
    raise ImportError("the redis fleet needs redis: pip install 'cvibot[serve]'") from exc

from cvibot._fleet.scripts import FleetKeys
from cvibot.serve._api_calls import ApiAnswer
from cvibot.serve._backend import BackendError

__all__ = ["AnswerStoreUnavailable", "FleetAnswers", "Waited", "decode_answer", "encode_answer"]

_log: structlog.typing.FilteringBoundLogger = structlog.get_logger("cvibot.fleet").bind()

_CLAIM: Final = "claim "
_FIRST_POLL: Final = 0.01
_MAX_POLL: Final = 0.2
# How long one Redis command may take before the store counts as unreachable (s).
_COMMAND_TIMEOUT: Final = 2.0
# What a command that did not reach Redis raises (BackendError: no client yet).
_UNREACHABLE: Final = (RedisError, OSError, TimeoutError, BackendError)


class AnswerStoreUnavailable(BackendError):
    """Redis did not answer a claim or a read (the message says why): the call can be
    neither run (another host may run it) nor answered from the store."""


def encode_answer(answer: ApiAnswer) -> str:
    """The JSON text an answer is stored as."""
    return json.dumps(
        {
            "status": answer.status,
            "media_type": answer.media_type,
            "text": answer.text,
            "outcome": answer.outcome,
            "tool": answer.tool,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


def decode_answer(raw: str) -> ApiAnswer:
    """The answer of a stored JSON text; ``ValueError`` when it is not one."""
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("a stored answer must be a JSON object")
    status, media_type, text = data.get("status"), data.get("media_type"), data.get("text")
    outcome, tool = data.get("outcome", "success"), data.get("tool", "unknown")
    if not (
        isinstance(status, int)
        and isinstance(media_type, str)
        and isinstance(text, str)
        and isinstance(outcome, str)
        and isinstance(tool, str)
    ):
        raise ValueError("a stored answer needs status, media_type and text")
    return ApiAnswer(status, text, media_type, outcome, tool)


@dataclass(frozen=True, slots=True)
class Waited:
    """What waiting for another host's answer gave: ``answer`` when it came; else
    ``why`` is ``gone`` (no claim and no answer any more: the claimer died, or the
    answer expired) or ``pending`` (still claimed when the time was up)."""

    answer: ApiAnswer | None
    why: Literal["answered", "gone", "pending"]


class FleetAnswers:
    """Claims and answers of ``delivery.api`` calls in the fleet's Redis (see the module
    docstring).

    - ``client``: returns the connected client (the :class:`RedisBackend`'s, once it
      started); raising :class:`BackendError` counts as unreachable;
    - ``keys``: the fleet's key names; ``worker_id``: written into the claims (for
      ``redis-cli`` readers; nothing depends on it);
    - ``ttl`` (s): how long an answer is kept for redeliveries; ``clock``: monotonic
      seconds, for the waits.
    """

    def __init__(
        self,
        client: Callable[[], aioredis.Redis],
        keys: FleetKeys,
        *,
        worker_id: str,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not ttl > 0:
            raise ValueError(f"ttl must be greater than 0, not {ttl!r}")
        self._client = client
        self._keys = keys
        self._worker_id = worker_id
        self._ttl_ms = max(1, round(ttl * 1000))
        self._clock = clock

    def key(self, conversation_id: str, tool_call_id: str) -> str:
        """The Redis key of one call (a hash: ids of any length and bytes fit)."""
        digest = hashlib.sha256(f"{conversation_id}\0{tool_call_id}".encode()).hexdigest()
        return f"{self._keys.prefix}:api:{digest}"

    async def claim(self, key: str, *, running_for: float) -> bool:
        """``SET NX PX`` of ``key``: ``True`` when this host is the first and must run the
        call and :meth:`store` its answer. The claim lives ``max(ttl, running_for)``
        seconds (``running_for``: the longest the call can run), so that it cannot
        expire under a call still running. Raises :class:`AnswerStoreUnavailable` when
        Redis does not answer within 2 s."""
        px = max(self._ttl_ms, round(running_for * 1000))
        try:
            async with asyncio.timeout(_COMMAND_TIMEOUT):
                won = await self._client().set(key, _CLAIM + self._worker_id, nx=True, px=px)
        except _UNREACHABLE as exc:
            raise AnswerStoreUnavailable(
                f"redis: cannot claim a delivery.api call: {exc or type(exc).__name__}"
            ) from exc
        return bool(won)

    async def store(self, key: str, answer: ApiAnswer, *, within: float = 1.0) -> bool:
        """Write the answer under ``key`` for ``ttl`` (replacing the claim), retried
        with back-off for ``within`` seconds; ``False`` (logged) when Redis did not take
        it: a redelivery elsewhere then answers that the call was not answered."""
        deadline = self._clock() + within
        delay = 0.05
        while True:
            try:
                async with asyncio.timeout(max(0.05, min(_COMMAND_TIMEOUT, within))):
                    await self._client().set(key, encode_answer(answer), px=self._ttl_ms)
                return True
            except _UNREACHABLE as exc:
                if self._clock() + delay > deadline:
                    _log.error(
                        "delivery.api answer not stored: a redelivery to another host "
                        "will not get it",
                        error=str(exc) or type(exc).__name__,
                    )
                    return False
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.5)

    async def wait(self, key: str, *, within: float) -> Waited:
        """Poll ``key`` until another host's answer is there, the key is gone, or
        ``within`` seconds are up (see :class:`Waited`). A read Redis does not answer is
        retried within the same time; :class:`AnswerStoreUnavailable` when none of the
        reads got an answer from Redis."""
        deadline = self._clock() + within
        delay = _FIRST_POLL
        reached = False
        error: BaseException | None = None
        while True:
            try:
                async with asyncio.timeout(max(0.01, min(_COMMAND_TIMEOUT, within))):
                    raw = await self._client().get(key)
                reached = True
            except _UNREACHABLE as exc:
                error = exc
            else:
                if raw is None:
                    return Waited(None, "gone")
                text = raw.decode() if isinstance(raw, bytes) else str(raw)
                if not text.startswith(_CLAIM):
                    try:
                        return Waited(decode_answer(text), "answered")
                    except ValueError as exc:
                        _log.error("unreadable delivery.api answer in redis", error=str(exc))
                        return Waited(None, "gone")
            remaining = deadline - self._clock()
            if remaining <= 0:
                if not reached:
                    raise AnswerStoreUnavailable(
                        f"redis: cannot read a delivery.api answer: {error}"
                    ) from error
                return Waited(None, "pending")
            await asyncio.sleep(min(delay, remaining))  # the last read is at the deadline
            delay = min(delay * 2, _MAX_POLL)
