"""Tables: tickets, their history, and the transactional outbox (SQLAlchemy 2.0, typed).

Invariants the database itself enforces, on SQLite and PostgreSQL alike:

- one active ticket per ``dedup_key``: ``active_dedup_key`` is UNIQUE and equals ``dedup_key``
  exactly while the ticket is open, acknowledged or in progress, NULL otherwise (a CHECK ties
  the two), so two writers racing on one condition cannot both open a ticket;
- ``sqlite_autoincrement``: ids (hence ticket numbers and outbox positions) are never reused,
  even after the newest row is deleted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from rules.decision import Category, Priority
from tickets.lifecycle import ACTIVE_STATUSES, Status
from tickets.schemas import Source

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out. SQLite keeps no offset, so values are stored as naive
    UTC there and given their offset back when read; naive input is a bug and is refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: ticket times must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
    }


def _one_of(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


_ACTIVE_SQL = ", ".join(repr(s.value) for s in Status if s in ACTIVE_STATUSES)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint(_one_of("status", Status), name="status"),
        CheckConstraint(_one_of("priority", Priority), name="priority"),
        CheckConstraint(_one_of("category", Category), name="category"),
        CheckConstraint(_one_of("source", Source), name="source"),
        CheckConstraint(
            f"(status IN ({_ACTIVE_SQL}) AND active_dedup_key = dedup_key)"
            f" OR (status NOT IN ({_ACTIVE_SQL}) AND active_dedup_key IS NULL)",
            name="active_dedup_key",
        ),
        # Each filter column leads a (column, id) index: it filters and serves newest first.
        Index(None, "status", "id"),
        Index(None, "priority", "id"),
        Index(None, "site", "id"),
        Index(None, "device", "id"),
        Index(None, "rule", "id"),
        Index(None, "opened_at"),
        Index(None, "dedup_key"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    site: Mapped[str] = mapped_column(String(63))
    building: Mapped[str | None] = mapped_column(String(64))
    device: Mapped[str | None] = mapped_column(String(63))
    kind: Mapped[str | None] = mapped_column(String(32))
    location: Mapped[str | None] = mapped_column(String(200))
    rule: Mapped[str | None] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))
    opened_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    condition_cleared_at: Mapped[datetime | None]
    respond_by: Mapped[datetime]
    onsite_by: Mapped[datetime]
    plan_by: Mapped[datetime | None]
    resolve_by: Mapped[datetime | None]
    follow_up_by: Mapped[datetime | None]
    escalation_level: Mapped[int] = mapped_column(default=0)
    occurrences: Mapped[int] = mapped_column(default=1)
    last_occurrence_at: Mapped[datetime]
    dedup_key: Mapped[str] = mapped_column(String(255))
    active_dedup_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    owner: Mapped[str | None] = mapped_column(String(100))
    evidence: Mapped[dict[str, Any]]
    reporter: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    request_hash: Mapped[str | None] = mapped_column(String(64))
    """SHA-256 of the manual request body, to tell a retry from a reused idempotency key."""

    history: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", lazy="selectin"
    )


class TicketEvent(Base):
    """One audit entry: who did what to a ticket, when, and why."""

    __tablename__ = "ticket_events"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]]

    ticket: Mapped[Ticket] = relationship(back_populates="history")


class OutboxEvent(Base):
    """A CloudEvent to deliver, written in the transaction that made the change, so an event
    exists if and only if its change committed. Readers page through it by ``id``."""

    __tablename__ = "outbox_events"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    site: Mapped[str] = mapped_column(String(63))
    type: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]]
