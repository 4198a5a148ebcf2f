"""Webhooks over HTTP (httpx): CloudEvents 1.0 JSON or a template's request, Standard
Webhooks headers and signatures, a timeout on every call, redirects not followed.

The timeout is a deadline for the whole call: waiting for a connection, connecting, sending,
the status line and headers and the start of the body read for the log. httpx's own timeouts
apply to each network operation separately (a receiver that sends a byte every second keeps
a read timeout of 10 s waiting for ever), so every transport's network backend is wrapped:
each connect, read and write waits at most until the call's deadline, and one that starts
after it raises httpx's timeout at once. A call that times out is a ``timeout`` attempt and
retried, even if the status line had already arrived.
"""

from __future__ import annotations

import contextvars
import ssl
import time
from collections.abc import Iterable

import httpcore
import httpx
import orjson

from delivery.config import WebhookConfig
from delivery.connector import AttemptResult, Message
from delivery.policy import Reason, retry_after_seconds
from delivery.signing import secret_key, signature_header
from delivery.templates import (
    CompiledTemplate,
    RenderedRequest,
    TemplateRenderError,
    template_context,
)
from steward import __version__

CLOUDEVENTS_JSON = "application/cloudevents+json; charset=utf-8"
RESPONSE_PEEK = 2048
WRITE_CHUNK = 16 * 1024
"""Writes go out in pieces of at most this, each bounded by what is left of the deadline."""

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "steward_webhook_deadline", default=None
)
"""``time.monotonic()`` by which the call running in this thread must be over."""


def _bounded(timeout: float | None, expired: type[httpcore.TimeoutException]) -> float | None:
    """``timeout`` cut down to what is left of the call's deadline; ``expired`` once none is."""
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the call's deadline has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        for start in range(0, len(buffer), WRITE_CHUNK):
            piece = buffer[start : start + WRITE_CHUNK]
            self._stream.write(piece, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> object:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(
            self._backend.connect_tcp(host, port, bounded, local_address, socket_options)
        )

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._backend.connect_unix_socket(path, bounded, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def _enforce_deadlines(client: httpx.Client) -> None:
    """Wrap the network backend of every transport the client may use (its own and any
    proxy's from the environment). httpx has no public hook for this, so anything unexpected
    fails here, when the endpoint is set up, never silently at send time."""
    transports = [client._transport, *client._mounts.values()]
    for transport in transports:
        if transport is None:
            continue
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if not isinstance(pool, httpcore.ConnectionPool) or not isinstance(
            backend, httpcore.NetworkBackend
        ):
            raise RuntimeError(  # noqa: TRY004
                f"cannot bound webhook calls by a deadline on {type(transport).__name__}"
                f" (httpx {httpx.__version__}, httpcore {httpcore.__version__})"
            )
        if not isinstance(backend, _DeadlineBackend):
            pool._network_backend = _DeadlineBackend(backend)


class WebhookConnector:
    kind = "webhook"

    def __init__(self, config: WebhookConfig, *, max_connections: int = 16) -> None:
        self.config = config
        self._keys = [secret_key(s) for s in config.secrets]
        self._template: CompiledTemplate | None = config.compiled_template()
        self._client = httpx.Client(
            timeout=httpx.Timeout(config.timeout_s),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=max_connections),
            headers={"user-agent": f"Steward/{__version__}"},
        )
        _enforce_deadlines(self._client)

    def start(self) -> None:
        return None

    def close(self) -> None:
        self._client.close()

    def request_for(self, message: Message, *, now: float) -> RenderedRequest:
        """The request to send, signed: ``TemplateRenderError`` if its template cannot render."""
        if self._template is None:
            request = RenderedRequest(
                "POST",
                self.config.url,
                {"content-type": CLOUDEVENTS_JSON},
                orjson.dumps(message.event),
            )
        else:
            context = template_context(
                message.event,
                params=self.config.params,
                endpoint=self.config.name,
                url=self.config.url,
            )
            request = self._template.render(context)
        timestamp = int(now)
        headers = {
            **request.headers,
            "webhook-id": message.event_id,
            "webhook-timestamp": str(timestamp),
        }
        if self._keys:
            headers["webhook-signature"] = signature_header(
                self._keys, message_id=message.event_id, timestamp=timestamp, body=request.body
            )
        return RenderedRequest(request.method, request.url, headers, request.body)

    def send(self, message: Message, *, now: float) -> AttemptResult:
        started = time.perf_counter()
        try:
            request = self.request_for(message, now=now)
        except TemplateRenderError as exc:
            return AttemptResult.from_error(Reason.TEMPLATE_ERROR, latency_ms=0.0, detail=str(exc))
        token = _deadline.set(time.monotonic() + self.config.timeout_s)
        try:
            with self._client.stream(
                request.method, request.url, content=request.body, headers=request.headers
            ) as response:
                peek = _peek(response)
        except httpx.TimeoutException as exc:
            return _error(Reason.TIMEOUT, started, exc)
        except httpx.ConnectError as exc:
            return _error(Reason.CONNECT_ERROR, started, exc)
        except httpx.HTTPError as exc:
            return _error(Reason.NETWORK_ERROR, started, exc)
        finally:
            _deadline.reset(token)
        return AttemptResult.from_status(
            response.status_code,
            latency_ms=_ms_since(started),
            retry_after_s=retry_after_seconds(response.headers.get("retry-after"), now),
            detail=peek,
        )


def _peek(response: httpx.Response) -> str:
    """The start of the body, for the log: never the whole of an unexpected large answer."""
    data = b""
    for chunk in response.iter_bytes():
        data += chunk
        if len(data) >= RESPONSE_PEEK:
            break
    return data[:RESPONSE_PEEK].decode("utf-8", errors="replace")


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _error(reason: Reason, started: float, exc: Exception) -> AttemptResult:
    return AttemptResult.from_error(
        reason, latency_ms=_ms_since(started), detail=f"{type(exc).__name__}: {exc}"
    )
