"""The fake's front: :class:`FakeTavusAPI`, which checks the key, records each request,
injects faults, and hands the rest to the endpoint handlers."""

from __future__ import annotations

import copy
import hmac
import json
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx

from doubles.fake_tavus import serving
from doubles.fake_tavus.endpoints import Endpoints
from doubles.fake_tavus.records import (
    API_PREFIX,
    Fault,
    RecordedRequest,
    Reply,
    fault_reply,
)

__all__ = ["FakeTavusAPI"]


class FakeTavusAPI:
    """The documented Tavus REST endpoints, in memory (see :mod:`doubles.fake_tavus`).

    Args:
        api_key: the only ``x-api-key`` accepted.
        max_concurrent: the account's limit of active (non-``test_mode``)
            conversations; ``None`` for no limit.
        end_status: what ``POST /conversations/{id}/end`` answers: 200 (a JSON body) or
            204 (empty), the two behaviours documented (§8.1).
        system_tools: the names of the system tools the account starts with (Tavus's
            ``end_call`` by default): listed by ``GET /tools``, never attached, changed
            or deleted, and their names cannot be taken.

    Thread-safe: the served HTTP handler threads and the test share one lock.
    """

    def __init__(
        self,
        api_key: str = "fake-tavus-key",
        *,
        max_concurrent: int | None = None,
        end_status: Literal[200, 204] = 200,
        system_tools: Sequence[str] = ("end_call",),
    ) -> None:
        self.api_key = api_key
        self._lock = threading.Lock()
        self._endpoints = Endpoints(max_concurrent=max_concurrent, end_status=end_status)
        for name in system_tools:
            self._endpoints.tools.add_tool(
                {"name": name, "description": f"The system tool {name}."}, system=True
            )
        self._requests: list[RecordedRequest] = []
        self._faults: list[Fault] = []

    def __repr__(self) -> str:
        return (
            f"FakeTavusAPI(conversations={len(self._endpoints.conversations)}, "
            f"personas={len(self._endpoints.personas)}, "
            f"tools={len(self._endpoints.tools.tools)}, requests={len(self._requests)})"
        )

    @property
    def max_concurrent(self) -> int | None:
        return self._endpoints.max_concurrent

    @max_concurrent.setter
    def max_concurrent(self, value: int | None) -> None:
        self._endpoints.max_concurrent = value

    @property
    def end_status(self) -> Literal[200, 204]:
        return self._endpoints.end_status

    @end_status.setter
    def end_status(self, value: Literal[200, 204]) -> None:
        self._endpoints.end_status = value

    # -- inspection and set-up ------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (refused connections excluded)."""
        with self._lock:
            return list(self._requests)

    @property
    def conversations(self) -> dict[str, dict[str, Any]]:
        """The stored conversations by id (copies)."""
        with self._lock:
            return copy.deepcopy(self._endpoints.conversations)

    @property
    def personas(self) -> dict[str, dict[str, Any]]:
        """The stored persona documents by id (copies)."""
        with self._lock:
            return copy.deepcopy(self._endpoints.personas)

    @property
    def tools(self) -> dict[str, dict[str, Any]]:
        """The account's tools by ``tool_id``, system tools included (copies)."""
        with self._lock:
            return copy.deepcopy(self._endpoints.tools.tools)

    def attached_tools(self, persona_id: str) -> list[dict[str, Any]]:
        """The tools attached to the PAL ``persona_id``, in attach order (copies)."""
        with self._lock:
            registry = self._endpoints.tools
            ids = registry.attached.get(persona_id, [])
            return copy.deepcopy([registry.tools[tid] for tid in ids])

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def add_persona(self, persona_id: str | None = None, **fields: Any) -> dict[str, Any]:
        """Store a persona directly (no request recorded); returns (a copy of) its document.

        ``fields`` are persona fields (``persona_name``, ``default_replica_id``,
        ``layers``, …); ``pipeline_mode`` defaults to ``full``, ``layers`` to ``{}``.
        Unlike ``POST /personas``, a ``full`` persona needs no ``system_prompt`` here.
        """
        with self._lock:
            return copy.deepcopy(self._endpoints.add_persona(persona_id, fields))

    def add_tool(self, **fields: Any) -> dict[str, Any]:
        """Store a tool directly (no request recorded), checked as ``POST /tools`` checks
        it; returns (a copy of) the stored tool with its ``tool_id`` and defaults.

        Raises :class:`~doubles.fake_tavus.records.Refusal` for a body Tavus
        would refuse.
        """
        with self._lock:
            return copy.deepcopy(self._endpoints.tools.add_tool(fields))

    def attach(self, persona_id: str, *tool_ids: str) -> None:
        """Attach tools to the PAL ``persona_id`` directly (no request recorded), checked
        as ``POST /pals/{id}/tools`` checks them (raises ``Refusal``)."""
        with self._lock:
            self._endpoints.tools.attach_ids(persona_id, list(tool_ids))

    # -- faults ---------------------------------------------------------------------------

    def fail_next(
        self,
        status: int = 503,
        *,
        times: int = 1,
        retry_after: float | str | None = None,
        body: Any = None,
        method: str | None = None,
        path: str | None = None,
        processed: bool = False,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status``.

        ``body``: a dict/list (sent as JSON), a str/bytes (sent as text), or None for
        ``{"message": "<reason> (injected)"}``. ``retry_after`` sets ``Retry-After``.
        ``method`` (``"POST"``) and ``path`` (a glob on the API path, e.g.
        ``"/conversations*"``) narrow which requests match. ``processed=True`` handles the
        request first (state changes, e.g. a conversation is created) and then answers
        with the failure, like a server that fails after committing. Faults come before
        the key check.
        """
        self._add_fault(fault_reply(status, retry_after, body), times, method, path, processed)

    def drop_next(
        self,
        *,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
        processed: bool = False,
    ) -> None:
        """Receive the next matching requests, then close the connection without answering
        (the client sees a dropped connection: the request may have been acted on)."""
        self._add_fault(Reply(kind="drop"), times, method, path, processed)

    def refuse_next(
        self, *, times: int = 1, method: str | None = None, path: str | None = None
    ) -> None:
        """Refuse the next matching connections: nothing is received or recorded.

        Exact in process (``httpx.ConnectError``). Over real HTTP the fake can only close
        the accepted socket at once, which the client sees as a dropped connection.
        """
        self._add_fault(Reply(kind="refuse"), times, method, path, False)

    def _add_fault(
        self, reply: Reply, times: int, method: str | None, path: str | None, processed: bool
    ) -> None:
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._faults.append(
                Fault(reply, times, method.upper() if method else None, path, processed)
            )

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self._faults:
            if fault.matches(method, path):
                fault.times -= 1
                if fault.times == 0:
                    self._faults.remove(fault)
                return fault
        return None

    # -- the two ways in ------------------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        """An ``httpx.MockTransport`` answering from this fake (for ``transport=``)."""
        return serving.mock_transport(self.handle)

    def serve(self) -> AbstractContextManager[str]:
        """Serve this fake over HTTP on 127.0.0.1 (an ephemeral port) in a background thread.

        ``with fake.serve() as base_url:`` gives the base URL, e.g.
        ``"http://127.0.0.1:54321/v2"``; the server stops when the block ends.
        """
        return serving.serve(self.handle)

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        """Answer one request. ``target`` is the path with its query
        (``"/v2/conversations/c1?verbose=true"``), ``headers`` lower-cased."""
        method = method.upper()
        split = urlsplit(target)
        full_path = unquote(split.path)
        served = full_path.startswith(API_PREFIX + "/")
        path = full_path[len(API_PREFIX) :] if served else full_path
        query = dict(parse_qsl(split.query))
        given_key = headers.get("x-api-key", "")
        authorized = bool(given_key) and hmac.compare_digest(
            given_key.encode(), self.api_key.encode()
        )
        try:
            decoded: Any = json.loads(body) if body.strip() else None
        except ValueError:
            decoded = None
        with self._lock:
            fault = self._take_fault(method, path)
            if fault is not None and fault.reply.kind == "refuse":
                return fault.reply
            self._requests.append(
                RecordedRequest(
                    method=method,
                    path=path,
                    query=query,
                    headers={k: v for k, v in headers.items() if k != "x-api-key"},
                    json=decoded,
                    body=bytes(body),
                    authorized=authorized,
                )
            )
            if fault is not None and not fault.processed:
                return fault.reply
            if not served:
                reply = Reply.message(404, "Not found")
            elif not authorized:
                reply = Reply.message(401, "Invalid access token")
            else:
                reply = self._endpoints.route(method, path, query, body)
            return fault.reply if fault is not None else reply
