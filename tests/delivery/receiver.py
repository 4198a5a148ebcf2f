"""A real webhook receiver on 127.0.0.1 for tests: records every request, answers as scripted
(status, headers, delay, or dripped a piece at a time), and tracks how many requests per
``webhook-id`` are in flight."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.services import free_port


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    """``time.monotonic()`` when the request was read."""

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b'{"ok": true}'
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    drip_headers_s: float = 0.0
    """Send the status line and each header line on its own, this long apart."""
    drip_body_s: float = 0.0
    """Send the body a byte at a time, this long apart."""

    @property
    def drips(self) -> bool:
        return self.drip_headers_s > 0 or self.drip_body_s > 0


Script = Callable[[Received, int], Reply]
"""(request, its 0-based number) → the reply."""


def always(reply: Reply) -> Script:
    return lambda _r, _n: reply


class Receiver:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.script: Script = always(Reply())
        self.received: list[Received] = []
        self.max_in_flight_per_id = 0
        self._in_flight: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/steward"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                receiver._handle(self)

            def do_PUT(self) -> None:
                receiver._handle(self)

            def log_message(self, *_args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length", "0"))
        body = handler.rfile.read(length)
        request = Received(
            handler.command,
            handler.path,
            {k.lower(): v for k, v in handler.headers.items()},
            body,
            time.monotonic(),
        )
        webhook_id = request.headers.get("webhook-id", "")
        with self._lock:
            number = len(self.received)
            self.received.append(request)
            self._in_flight[webhook_id] += 1
            self.max_in_flight_per_id = max(self.max_in_flight_per_id, self._in_flight[webhook_id])
        try:
            reply = self.script(request, number)
            if reply.delay_s:
                time.sleep(reply.delay_s)
        finally:
            with self._lock:
                self._in_flight[webhook_id] -= 1
        if reply.drips:
            _drip(handler, reply)
            return
        try:
            handler.send_response(reply.status)
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.send_header("content-length", str(len(reply.body)))
            handler.end_headers()
            handler.wfile.write(reply.body)
        except OSError:
            pass  # the sender gave up (timeout): nothing to answer

    def busy(self) -> bool:
        """A request is being answered right now."""
        with self._lock:
            return any(n > 0 for n in self._in_flight.values())

    def ids(self) -> list[str]:
        with self._lock:
            return [r.webhook_id for r in self.received]


def _drip(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
    """A slow receiver: every piece sent on its own, a pause before each; stops when the
    sender has gone."""
    lines = [
        f"HTTP/1.1 {reply.status} {handler.responses.get(reply.status, ('',))[0]}\r\n",
        *(f"{name}: {value}\r\n" for name, value in reply.headers.items()),
        f"content-length: {len(reply.body)}\r\n",
        "\r\n",
    ]
    pieces = [(line.encode("latin-1"), reply.drip_headers_s) for line in lines]
    pieces += [(reply.body[i : i + 1], reply.drip_body_s) for i in range(len(reply.body))]
    handler.close_connection = True
    try:
        for piece, pause in pieces:
            time.sleep(pause)
            handler.wfile.write(piece)
            handler.wfile.flush()
    except OSError:
        pass  # the sender gave up
