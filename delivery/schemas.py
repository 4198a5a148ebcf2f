"""What the delivery log API returns."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from tickets.schemas import UtcTime

EndpointState = Literal["idle", "healthy", "failing", "disabled"]


class _Output(BaseModel):
    model_config = ConfigDict(frozen=True)


class AttemptView(_Output):
    number: int
    at: UtcTime
    worker: str
    outcome: str
    """``delivered``, ``retry``, ``failed`` or ``gone``."""
    reason: str
    status_code: int | None
    latency_ms: float
    detail: str | None
    """The start of the response body, or the error."""


class DeliveryView(_Output):
    id: int
    endpoint: str
    event_id: str
    """Also the ``webhook-id`` the receiver saw."""
    event_type: str
    ticket: str
    status: str
    """``pending``, ``delivered`` or ``failed``."""
    attempts: int
    created_at: UtcTime
    next_attempt_at: UtcTime | None
    """When a pending delivery is tried next."""
    last_attempt_at: UtcTime | None
    delivered_at: UtcTime | None
    last_status_code: int | None
    last_reason: str | None
    history: list[AttemptView]


class DeliveryPage(_Output):
    items: list[DeliveryView]
    next_cursor: str | None = None


class EndpointHealth(_Output):
    name: str
    kind: str
    target: str
    state: EndpointState
    """``disabled`` (a 410, until enabled), ``failing`` (deliveries wait to be retried),
    ``healthy`` (nothing waits on the receiver; see ``failed`` for rejected events), or
    ``idle`` (nothing tried yet)."""
    disabled_at: UtcTime | None
    disabled_reason: str | None
    pending: int
    retrying: int
    """Pending deliveries that have failed at least once."""
    failed: int
    delivered: int
    oldest_pending_at: UtcTime | None
    last_attempt_at: UtcTime | None
    last_delivered_at: UtcTime | None
    last_reason: str | None
    last_status_code: int | None
    latency_ms_p50: float | None
    """Median latency of the last 100 delivered attempts."""


class ReplayResult(_Output):
    replayed: int
