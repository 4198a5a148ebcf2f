"""Delivery tables, on the tickets' ``Base`` (one metadata, one migration history).

- ``delivery_endpoints``: one row per configured destination (webhook or MQTT): how far its
  fan-out has read the outbox (``outbox_cursor``) and whether a receiver has switched it off
  (HTTP 410). Several dispatchers take turns on the row with ``FOR UPDATE SKIP LOCKED``.
- ``deliveries``: one row per (endpoint, outbox event) the endpoint subscribes to; ``pending``
  until the receiver acknowledges it (``delivered``) or it cannot be (``failed``).
- ``delivery_attempts``: every try, with its HTTP status, reason and latency (the log).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tickets.models import Base


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class DeliveryEndpoint(Base):
    __tablename__ = "delivery_endpoints"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(500))
    """Where events go, without credentials (shown in the delivery log)."""
    outbox_cursor: Mapped[int] = mapped_column(Integer)
    """Outbox position up to which events have been turned into deliveries."""
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(Text)


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status"),
        UniqueConstraint("endpoint", "outbox_pk"),
        # What is due, per endpoint; and the oldest pending event of a ticket (its order).
        Index(None, "endpoint", "status", "next_attempt_at"),
        Index(None, "endpoint", "ticket_id", "status", "outbox_pk"),
        Index(None, "event_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    endpoint: Mapped[str] = mapped_column(ForeignKey("delivery_endpoints.name"))
    outbox_pk: Mapped[int] = mapped_column(ForeignKey("outbox_events.id"))
    ticket_id: Mapped[int] = mapped_column(Integer)
    event_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    """Failed tries since the event was queued or replayed: the backoff's exponent."""
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    retry_since: Mapped[datetime | None]
    """First failed try since the event was queued or replayed: the retry window's start."""
    last_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_reason: Mapped[str | None] = mapped_column(String(32))


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempts"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]
    worker: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    detail: Mapped[str | None] = mapped_column(Text)
    """The start of the response body, or the error, for people reading the log."""
