"""A real local HTTP server that records what it receives, and settings builders.

:class:`RecordingServer` is a ``ThreadingHTTPServer`` on ``127.0.0.1`` (a free port) in a
thread. Each request is recorded as a :class:`Received`; the answer is the
:class:`Reply` routed to the request's path (without query), by default ``200`` with
``{"ok": true}``.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cvibot.testing import FakeConversation

SECRET = "sekrit-token-0123456789"


@dataclass(frozen=True)
class Received:
    """One request as the server saw it; ``target`` is the raw request target."""

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query, keep_blank_values=True)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    """What the server answers: ``body`` bytes, text, or a JSON value (dict, list...);
    ``delay`` seconds of waiting first (cut short when the server stops)."""

    status: int = 200
    body: Any = field(default_factory=lambda: {"ok": True})
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return json.dumps(self.body).encode(), "application/json"


class RecordingServer:
    """The server; use :func:`recording_server` to run one."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.routes: dict[str, Reply] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self.release = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def last(self) -> Received:
        assert self.received, "the server received no request"
        return self.received[-1]

    def route(self, path: str, **reply: Any) -> None:
        """Answer requests for ``path`` with ``Reply(**reply)``."""
        self.routes[path] = Reply(**reply)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


def _handler(server: RecordingServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            server.received.append(Received(self.command, self.path, dict(self.headers), body))
            reply = server.routes.get(urlsplit(self.path).path, Reply())
            with server._lock:
                server.in_flight += 1
                server.max_in_flight = max(server.max_in_flight, server.in_flight)
            try:
                if reply.delay:
                    server.release.wait(reply.delay)
            finally:
                with server._lock:
                    server.in_flight -= 1
            content, content_type = reply.encoded()
            try:
                self.send_response(reply.status)
                headers = {"Content-Type": content_type, **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(content)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def recording_server() -> Iterator[RecordingServer]:
    server = RecordingServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 whose port nothing listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def tool(name: str = "lookup_order", **keys: Any) -> dict[str, Any]:
    """A tool declaration: a description, no parameters and ``GET /`` unless given."""
    declared: dict[str, Any] = {
        "name": name,
        "description": "Look up an order by its number.",
        "request": {"method": "GET", "url": "/"},
    }
    declared.update(keys)
    return declared


def conversation(settings: Mapping[str, Any], **kwargs: Any) -> FakeConversation:
    """A fake conversation whose bot loads cvibot-http with ``settings``."""
    return FakeConversation(plugins=[{"name": "cvibot-http", "settings": dict(settings)}], **kwargs)
