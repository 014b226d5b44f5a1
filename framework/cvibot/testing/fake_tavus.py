"""A stateful local fake of the documented Tavus REST endpoints (protocol reference §8.1–8.3).

Two ways to reach it, sharing one state::

    fake = FakeTavusAPI(api_key="k")
    async with TavusClient("k", transport=fake.transport()) as api:   # in process
        ...
    with fake.serve() as base_url:           # real HTTP on 127.0.0.1, e.g. for a CLI test
        subprocess.run([..., "--tavus-base-url", base_url])

What it does, endpoint by endpoint (paths under ``/v2``):

- ``POST /conversations``: checks the body's fields and types (§8.2; ``pal_id``/``face_id``
  accepted as aliases, D15; an unknown field is a 400), a known ``persona_id``, a replica
  (``replica_id`` or the persona's ``default_replica_id``) and the optional
  concurrent-conversation limit (a 400 whose message says "maximum concurrent
  conversations"). Answers §8.3: ``conversation_id`` (``c`` + 11 hex digits),
  ``conversation_url`` ``https://tavus.daily.co/<id>``, ``status`` ``active`` (``ended``
  with ``test_mode``), ``meeting_token`` with ``require_auth``.
- ``GET /conversations/{id}[?verbose=true]``: the conversation; verbose adds ``events``
  (``system.replica_joined``, ``system.shutdown``) and ``shutdown_reason``.
- ``POST /conversations/{id}/end``: status ``ended``; 200 with a JSON body, or 204 when
  built with ``end_status=204``. Ending an ended conversation succeeds again.
- ``POST /personas``, ``GET /personas/{id}``: a persona; ``pipeline_mode`` ``full`` (the
  default) needs a ``system_prompt``; any other mode string is accepted (D14).
- ``PATCH /personas/{id}``: an RFC 6902 JSON Patch applied all-or-nothing; a failed
  ``test``, a path that does not exist, a malformed operation or a change of
  ``persona_id`` is a 400. 200 with the new document; 304 when nothing changed.

Every call needs the configured ``x-api-key`` (else 401 with a JSON ``message``); an
unknown id is a 404, a bad body a 400, always as ``{"message": "..."}``; an unknown path a
404 and a known path with another method a 405.

Faults (:meth:`FakeTavusAPI.fail_next`, :meth:`~FakeTavusAPI.drop_next`,
:meth:`~FakeTavusAPI.refuse_next`) replace the next matching answers, and
:attr:`FakeTavusAPI.requests` records every request received (the key header removed).
The server binds 127.0.0.1 only.
"""

from __future__ import annotations

import copy
import fnmatch
import hmac
import json
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx

__all__ = ["API_PREFIX", "FakeTavusAPI", "RecordedRequest", "Reply", "apply_json_patch"]

API_PREFIX = "/v2"
"""The path prefix the fake serves, as in ``https://tavusapi.com/v2``."""

_JSON = [("content-type", "application/json")]


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received.

    ``path`` is the API path without ``/v2`` and without the query (``"/conversations"``),
    ``query`` the decoded query parameters, ``headers`` the lower-cased request headers
    without ``x-api-key``, ``json`` the decoded body (None when empty or not JSON),
    ``body`` its raw bytes, ``authorized`` whether the key matched.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    body: bytes
    authorized: bool


@dataclass(frozen=True)
class Reply:
    """An answer of :meth:`FakeTavusAPI.handle`. ``kind`` ``"drop"`` closes the connection
    without an answer; ``"refuse"`` refuses the connection (nothing was received)."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    kind: Literal["answer", "drop", "refuse"] = "answer"

    @classmethod
    def json(cls, status: int, data: Any, headers: list[tuple[str, str]] | None = None) -> Reply:
        body = json.dumps(data).encode()
        return cls(status, _JSON + list(headers or []), body)

    @classmethod
    def message(cls, status: int, message: str) -> Reply:
        return cls.json(status, {"message": message})


@dataclass
class _Fault:
    reply: Reply
    times: int
    method: str | None
    path: str | None
    processed: bool

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        return self.path is None or fnmatch.fnmatchcase(path, self.path)


class _BadBody(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(6)[:11]


# -- body checks --------------------------------------------------------------------------

_Check = Callable[[Any], bool]


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _is_pos_int(v: Any) -> bool:
    return _is_int(v) and v >= 1


def _is_str_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _is_obj(v: Any) -> bool:
    return isinstance(v, dict)


_TYPE_NAMES: dict[_Check, str] = {
    _is_str: "a string",
    _is_bool: "a boolean",
    _is_int: "a non-negative integer",
    _is_pos_int: "a positive integer",
    _is_str_list: "a list of strings",
    _is_obj: "an object",
}

_CONVERSATION_FIELDS: dict[str, _Check] = {
    "persona_id": _is_str,
    "replica_id": _is_str,
    "conversation_name": _is_str,
    "conversational_context": _is_str,
    "custom_greeting": _is_str,
    "callback_url": _is_str,
    "audio_only": _is_bool,
    "test_mode": _is_bool,
    "require_auth": _is_bool,
    "max_participants": _is_pos_int,
    "memory_stores": _is_str_list,
    "document_ids": _is_str_list,
    "document_tags": _is_str_list,
    "document_retrieval_strategy": lambda v: v in ("speed", "balanced", "quality"),
    "chat": _is_bool,
    "meeting_url": _is_str,
    "properties": _is_obj,
}
_CONVERSATION_ALIASES = {"pal_id": "persona_id", "face_id": "replica_id"}

_PROPERTY_FIELDS: dict[str, _Check] = {
    "max_call_duration": _is_pos_int,
    "participant_left_timeout": _is_int,
    "participant_absent_timeout": _is_int,
    "enable_recording": _is_bool,
    "recording_s3_bucket_name": _is_str,
    "recording_s3_bucket_region": _is_str,
    "aws_assume_role_arn": _is_str,
    "recording_storage": _is_obj,
    "enable_closed_captions": _is_bool,
    "apply_greenscreen": _is_bool,
    "language": _is_str,
    "livekit_ws_url": _is_str,
    "livekit_room_token": _is_str,
}

_PERSONA_FIELDS: dict[str, _Check] = {
    "persona_name": _is_str,
    "system_prompt": _is_str,
    "pipeline_mode": _is_str,
    "default_replica_id": _is_str,
    "context": _is_str,
    "layers": _is_obj,
    "document_ids": _is_str_list,
    "document_tags": _is_str_list,
}
_PERSONA_READ_ONLY = ("persona_id", "created_at", "updated_at")


def _check_fields(
    data: dict[str, Any], checks: dict[str, _Check], where: str, *, extra: bool = False
) -> None:
    for key, value in data.items():
        check = checks.get(key)
        if check is None:
            if extra:
                continue
            raise _BadBody(f"Unknown field: {where}{key}")
        if value is None:
            continue
        if not check(value):
            expected = _TYPE_NAMES.get(check, "one of the documented values")
            raise _BadBody(f"Invalid value for {where}{key}: expected {expected}")


def _json_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _BadBody("The request body must be a JSON object")
    return body


# -- RFC 6902 JSON Patch ------------------------------------------------------------------


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise _BadBody(f"Invalid JSON Pointer: {path!r}")
    if path == "":
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container: list[Any], token: str, *, for_add: bool) -> int:
    if for_add and token == "-":
        return len(container)
    if not token.isdigit() or (token != "0" and token.startswith("0")):
        raise _BadBody(f"Invalid array index: {token!r}")
    index = int(token)
    limit = len(container) if for_add else len(container) - 1
    if index > limit:
        raise _BadBody(f"Array index out of range: {token}")
    return index


def _parent(doc: Any, tokens: list[str], path: str) -> Any:
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, for_add=False)]
        else:
            raise _BadBody(f"Path does not exist: {path}")
    return node


def _get(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return doc
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, for_add=False)]
    raise _BadBody(f"Path does not exist: {path}")


def _add(doc: Any, path: str, value: Any) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, for_add=True), value)
    else:
        raise _BadBody(f"Path does not exist: {path}")
    return doc


def _remove(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        raise _BadBody("Cannot remove the whole document")
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict) and last in parent:
        del parent[last]
    elif isinstance(parent, list):
        del parent[_index(parent, last, for_add=False)]
    else:
        raise _BadBody(f"Path does not exist: {path}")
    return doc


def _json_equal(a: Any, b: Any) -> bool:
    """JSON equality: ``1`` is not ``true``, ``1`` equals ``1.0``, objects ignore order."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def apply_json_patch(document: Any, operations: Any) -> Any:
    """``document`` with the RFC 6902 ``operations`` applied, on a copy (all or nothing).

    Raises ``ValueError`` naming the failing operation (a failed ``test``, a missing
    path, a bad operation).
    """
    if not isinstance(operations, list):
        raise ValueError("The request body must be a JSON Patch array")
    doc = copy.deepcopy(document)
    for n, op in enumerate(operations):
        try:
            doc = _apply_one(doc, op)
        except _BadBody as exc:
            raise ValueError(f"JSON Patch operation {n}: {exc.message}") from None
    return doc


def _apply_one(doc: Any, op: Any) -> Any:
    if not isinstance(op, dict) or not isinstance(op.get("op"), str):
        raise _BadBody("an operation must be an object with 'op' and 'path'")
    kind = op["op"]
    if "path" not in op:
        raise _BadBody("missing 'path'")
    path = op["path"]
    if kind in ("add", "replace", "test") and "value" not in op:
        raise _BadBody(f"the {kind!r} operation needs a 'value'")
    if kind in ("move", "copy") and "from" not in op:
        raise _BadBody(f"the {kind!r} operation needs 'from'")
    if kind == "add":
        return _add(doc, path, copy.deepcopy(op["value"]))
    if kind == "remove":
        return _remove(doc, path)
    if kind == "replace":
        _get(doc, path)
        return _add(_remove(doc, path) if _pointer(path) else doc, path, copy.deepcopy(op["value"]))
    if kind == "move":
        source = op["from"]
        if path != source and path.startswith(source + "/"):
            raise _BadBody(f"cannot move {source} into itself")
        value = _get(doc, source)
        return _add(_remove(doc, source), path, value)
    if kind == "copy":
        return _add(doc, path, copy.deepcopy(_get(doc, op["from"])))
    if kind == "test":
        if not _json_equal(_get(doc, path), op["value"]):
            raise _BadBody(f"test failed: {path} does not hold the given value")
        return doc
    raise _BadBody(f"unknown operation {kind!r}")


# -- the fake -----------------------------------------------------------------------------


class FakeTavusAPI:
    """The documented Tavus REST endpoints, in memory (see the module docstring).

    Args:
        api_key: the only ``x-api-key`` accepted.
        max_concurrent: the account's limit of active (non-``test_mode``)
            conversations; ``None`` for no limit.
        end_status: what ``POST /conversations/{id}/end`` answers: 200 (a JSON body) or
            204 (empty), the two behaviours documented (§8.1).

    Thread-safe: the served HTTP handler threads and the test share one lock.
    """

    def __init__(
        self,
        api_key: str = "fake-tavus-key",
        *,
        max_concurrent: int | None = None,
        end_status: Literal[200, 204] = 200,
    ) -> None:
        self.api_key = api_key
        self.max_concurrent = max_concurrent
        self.end_status = end_status
        self._lock = threading.Lock()
        self._conversations: dict[str, dict[str, Any]] = {}
        self._personas: dict[str, dict[str, Any]] = {}
        self._requests: list[RecordedRequest] = []
        self._faults: list[_Fault] = []

    def __repr__(self) -> str:
        return (
            f"FakeTavusAPI(conversations={len(self._conversations)}, "
            f"personas={len(self._personas)}, requests={len(self._requests)})"
        )

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
            return copy.deepcopy(self._conversations)

    @property
    def personas(self) -> dict[str, dict[str, Any]]:
        """The stored persona documents by id (copies)."""
        with self._lock:
            return copy.deepcopy(self._personas)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def add_persona(self, persona_id: str | None = None, **fields: Any) -> dict[str, Any]:
        """Store a persona directly (no request recorded); returns its document.

        ``fields`` are persona fields (``persona_name``, ``default_replica_id``,
        ``layers``, …); ``pipeline_mode`` defaults to ``full``, ``layers`` to ``{}``.
        """
        _check_fields(fields, _PERSONA_FIELDS, "")
        pid = persona_id or _new_id("p")
        now = _now()
        doc: dict[str, Any] = {
            "persona_id": pid,
            "persona_name": None,
            "system_prompt": None,
            "pipeline_mode": "full",
            "default_replica_id": None,
            "context": None,
            "layers": {},
            "created_at": now,
            "updated_at": now,
        }
        doc.update(copy.deepcopy(fields))
        with self._lock:
            self._personas[pid] = doc
            return copy.deepcopy(doc)

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
        with the failure, like a server that fails after committing.
        """
        headers: list[tuple[str, str]] = []
        if retry_after is not None:
            headers.append(("retry-after", str(retry_after)))
        if body is None:
            try:
                reason = HTTPStatus(status).phrase
            except ValueError:
                reason = "Error"
            reply = Reply.json(status, {"message": f"{reason} (injected)".strip()}, headers)
        elif isinstance(body, str | bytes):
            raw = body.encode() if isinstance(body, str) else body
            reply = Reply(status, [("content-type", "text/plain"), *headers], raw)
        else:
            reply = Reply.json(status, body, headers)
        self._add_fault(reply, times, method, path, processed)

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
                _Fault(reply, times, method.upper() if method else None, path, processed)
            )

    # -- the two ways in ------------------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        """An ``httpx.MockTransport`` answering from this fake (for ``transport=``)."""
        return httpx.MockTransport(self._handle_httpx)

    def _handle_httpx(self, request: httpx.Request) -> httpx.Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        reply = self.handle(request.method, request.url.raw_path.decode(), headers, request.content)
        if reply.kind == "refuse":
            raise httpx.ConnectError(
                "connection refused (injected by FakeTavusAPI)", request=request
            )
        if reply.kind == "drop":
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response (injected by FakeTavusAPI)",
                request=request,
            )
        return httpx.Response(reply.status, headers=reply.headers, content=reply.body)

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Serve this fake over HTTP on 127.0.0.1 (an ephemeral port) in a background thread.

        Yields the base URL, e.g. ``"http://127.0.0.1:54321/v2"``; the server stops when
        the block ends.
        """
        server = _Server(self)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-tavus-http",
            daemon=True,
        )
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}{API_PREFIX}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

    # -- the core -------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        """Answer one request. ``target`` is the path with its query
        (``"/v2/conversations/c1?verbose=true"``), ``headers`` lower-cased."""
        method = method.upper()
        split = urlsplit(target)
        full_path = unquote(split.path)
        path = full_path[len(API_PREFIX) :] if full_path.startswith(API_PREFIX + "/") else full_path
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
            if not full_path.startswith(API_PREFIX + "/"):
                reply = Reply.message(404, "Not found")
            elif not authorized:
                reply = Reply.message(401, "Invalid access token")
            else:
                reply = self._route(method, path, query, body)
            return fault.reply if fault is not None else reply

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.matches(method, path):
                fault.times -= 1
                if fault.times == 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _route(self, method: str, path: str, query: dict[str, str], body: bytes) -> Reply:
        parts = [p for p in path.split("/") if p]
        handlers: dict[str, Callable[[], Reply]] = {}
        if parts == ["conversations"]:
            handlers["POST"] = lambda: self._create_conversation(body)
        elif len(parts) == 2 and parts[0] == "conversations":
            handlers["GET"] = lambda: self._get_conversation(parts[1], query)
        elif len(parts) == 3 and parts[0] == "conversations" and parts[2] == "end":
            handlers["POST"] = lambda: self._end_conversation(parts[1])
        elif parts == ["personas"]:
            handlers["POST"] = lambda: self._create_persona(body)
        elif len(parts) == 2 and parts[0] == "personas":
            handlers["GET"] = lambda: self._get_persona(parts[1])
            handlers["PATCH"] = lambda: self._patch_persona(parts[1], body)
        if not handlers:
            return Reply.message(404, "Not found")
        handler = handlers.get(method)
        if handler is None:
            allow = ("allow", ", ".join(handlers))
            return Reply(405, [*_JSON, allow], b'{"message": "Method not allowed"}')
        try:
            return handler()
        except _BadBody as exc:
            return Reply.message(400, exc.message)

    @staticmethod
    def _decode(body: bytes) -> Any:
        if not body.strip():
            raise _BadBody("The request body is empty")
        try:
            return json.loads(body)
        except ValueError:
            raise _BadBody("The request body is not valid JSON") from None

    # -- conversations --------------------------------------------------------------------

    def _create_conversation(self, body: bytes) -> Reply:
        data = dict(_json_object(self._decode(body)))
        for alias, name in _CONVERSATION_ALIASES.items():
            if alias in data:
                if name in data and data[name] != data[alias]:
                    raise _BadBody(f"{alias} and {name} disagree")
                data[name] = data.pop(alias)
        _check_fields(data, _CONVERSATION_FIELDS, "")
        properties = data.get("properties") or {}
        _check_fields(properties, _PROPERTY_FIELDS, "properties.", extra=True)
        persona_id = data.get("persona_id")
        persona = self._personas.get(persona_id) if persona_id else None
        if persona_id and persona is None:
            raise _BadBody(f"Invalid persona_id: {persona_id} does not exist")
        replica_id = data.get("replica_id") or (persona or {}).get("default_replica_id")
        if not replica_id:
            raise _BadBody("replica_id is required: the persona has no default_replica_id")
        test_mode = bool(data.get("test_mode"))
        if not test_mode and self.max_concurrent is not None:
            active = sum(
                1
                for c in self._conversations.values()
                if c["status"] == "active" and not c["test_mode"]
            )
            if active >= self.max_concurrent:
                raise _BadBody("User has reached maximum concurrent conversations")
        cid = _new_id("c")
        now = _now()
        conversation: dict[str, Any] = {
            "conversation_id": cid,
            "conversation_name": data.get("conversation_name") or "New Conversation",
            "conversation_url": f"https://tavus.daily.co/{cid}",
            "status": "ended" if test_mode else "active",
            "callback_url": data.get("callback_url"),
            "created_at": now,
            "updated_at": now,
            "replica_id": replica_id,
            "persona_id": persona_id,
            "test_mode": test_mode,
            "properties": copy.deepcopy(properties),
            "events": [],
            "shutdown_reason": None,
        }
        if data.get("require_auth"):
            conversation["meeting_token"] = "fake-meeting-token-" + secrets.token_hex(8)
        if not test_mode:
            conversation["events"].append(
                self._event(cid, "system.replica_joined", {"replica_id": replica_id})
            )
        self._conversations[cid] = conversation
        answer = {
            key: conversation[key]
            for key in (
                "conversation_id",
                "conversation_name",
                "conversation_url",
                "status",
                "callback_url",
                "created_at",
            )
        }
        if "meeting_token" in conversation:
            answer["meeting_token"] = conversation["meeting_token"]
        return Reply.json(200, answer)

    @staticmethod
    def _event(cid: str, event_type: str, properties: dict[str, Any]) -> dict[str, Any]:
        return {
            "conversation_id": cid,
            "event_type": event_type,
            "message_type": "system",
            "timestamp": _now(),
            "properties": properties,
        }

    def _get_conversation(self, cid: str, query: dict[str, str]) -> Reply:
        conversation = self._conversations.get(cid)
        if conversation is None:
            return Reply.message(404, f"Conversation {cid} not found")
        answer = {
            k: copy.deepcopy(v)
            for k, v in conversation.items()
            if k not in ("test_mode", "events", "shutdown_reason")
        }
        if query.get("verbose", "").lower() == "true":
            answer["events"] = copy.deepcopy(conversation["events"])
            answer["shutdown_reason"] = conversation["shutdown_reason"]
        return Reply.json(200, answer)

    def _end_conversation(self, cid: str) -> Reply:
        conversation = self._conversations.get(cid)
        if conversation is None:
            return Reply.message(404, f"Conversation {cid} not found")
        if conversation["status"] != "ended" or conversation["shutdown_reason"] is None:
            reason = "end_conversation_endpoint_hit"
            conversation["status"] = "ended"
            conversation["updated_at"] = _now()
            conversation["shutdown_reason"] = reason
            conversation["events"].append(
                self._event(
                    cid,
                    "system.shutdown",
                    {"replica_id": conversation["replica_id"], "shutdown_reason": reason},
                )
            )
        if self.end_status == 204:
            return Reply(204)
        return Reply.message(200, f"Conversation {cid} ended")

    # -- personas -------------------------------------------------------------------------

    def _create_persona(self, body: bytes) -> Reply:
        data = _json_object(self._decode(body))
        _check_fields(data, _PERSONA_FIELDS, "")
        self._check_persona(data)
        pid = _new_id("p")
        now = _now()
        doc: dict[str, Any] = {
            "persona_id": pid,
            "persona_name": data.get("persona_name"),
            "system_prompt": data.get("system_prompt"),
            "pipeline_mode": data.get("pipeline_mode") or "full",
            "default_replica_id": data.get("default_replica_id"),
            "context": data.get("context"),
            "layers": copy.deepcopy(data.get("layers") or {}),
            "created_at": now,
            "updated_at": now,
        }
        for key in ("document_ids", "document_tags"):
            if data.get(key) is not None:
                doc[key] = list(data[key])
        self._personas[pid] = doc
        return Reply.json(
            200, {"persona_id": pid, "persona_name": doc["persona_name"], "created_at": now}
        )

    @staticmethod
    def _check_persona(doc: dict[str, Any]) -> None:
        mode = doc.get("pipeline_mode") or "full"
        if mode == "full" and not doc.get("system_prompt"):
            raise _BadBody("system_prompt is required when pipeline_mode is full")

    def _get_persona(self, pid: str) -> Reply:
        doc = self._personas.get(pid)
        if doc is None:
            return Reply.message(404, f"Persona {pid} not found")
        return Reply.json(200, doc)

    def _patch_persona(self, pid: str, body: bytes) -> Reply:
        doc = self._personas.get(pid)
        if doc is None:
            return Reply.message(404, f"Persona {pid} not found")
        operations = self._decode(body)
        try:
            patched = apply_json_patch(doc, operations)
        except ValueError as exc:
            raise _BadBody(str(exc)) from None
        if not isinstance(patched, dict):
            raise _BadBody("The persona must remain a JSON object")
        for key in _PERSONA_READ_ONLY:
            if not _json_equal(patched.get(key), doc.get(key)):
                raise _BadBody(f"{key} cannot be changed")
        editable = {k: v for k, v in patched.items() if k not in _PERSONA_READ_ONLY}
        _check_fields(editable, _PERSONA_FIELDS, "")
        self._check_persona(patched)
        if _json_equal(patched, doc):
            return Reply(304)
        patched["updated_at"] = _now()
        self._personas[pid] = patched
        return Reply.json(200, patched)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # seconds an idle keep-alive connection is held
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.server.fake.handle(self.command, self.path, headers, body)
        if reply.kind != "answer":
            self.close_connection = True
            return
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        no_body = reply.status in (204, 304)
        if not no_body:
            self.send_header("content-length", str(len(reply.body)))
        self.end_headers()
        if not no_body and reply.body:
            self.wfile.write(reply.body)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the fake records requests itself."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeTavusAPI) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-answer is not an error worth printing."""
