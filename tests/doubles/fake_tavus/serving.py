"""The two ways to reach a fake: an ``httpx.MockTransport`` (in process) and an HTTP
server on 127.0.0.1 (for another process, e.g. the CLI). Both hand every request to
:meth:`FakeTavusAPI.handle <doubles.fake_tavus.FakeTavusAPI.handle>` and turn its
:class:`~doubles.fake_tavus.records.Reply` into an answer, a dropped connection or
a refused one."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from doubles.fake_tavus.records import API_PREFIX, Reply

__all__ = ["Handle", "mock_transport", "serve"]

Handle = Callable[[str, str, dict[str, str], bytes], Reply]
"""``handle(method, target, headers, body)``: see ``FakeTavusAPI.handle``."""


def mock_transport(handle: Handle) -> httpx.MockTransport:
    """An ``httpx.MockTransport`` answering from ``handle``."""

    def answer(request: httpx.Request) -> httpx.Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        reply = handle(request.method, request.url.raw_path.decode(), headers, request.content)
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

    return httpx.MockTransport(answer)


@contextmanager
def serve(handle: Handle) -> Iterator[str]:
    """Serve ``handle`` over HTTP on 127.0.0.1 (an ephemeral port) in a background thread.

    Yields the base URL, e.g. ``"http://127.0.0.1:54321/v2"``; the server stops when the
    block ends. A refused connection can only be a dropped one here: the socket is
    already accepted.
    """
    server = _Server(handle)
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
        reply = self.server.answer(self.command, self.path, headers, body)
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

    def __init__(self, handle: Handle) -> None:
        self.answer = handle
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-answer is not an error worth printing."""
