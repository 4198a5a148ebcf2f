"""Webhooks over HTTP (httpx): CloudEvents 1.0 JSON or a template's request, Standard
Webhooks headers and signatures, a timeout on every call, redirects not followed."""

from __future__ import annotations

import time

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
