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
    text,
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


MAX_ROW_ID = 2**31 - 1
"""Row ids are ``INTEGER`` columns: PostgreSQL refuses a larger number even in a query."""


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
    }


def _one_of(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


_ACTIVE_SQL = ", ".join(repr(s.value) for s in Status if s in ACTIVE_STATUSES)

REPORT_COLUMNS = (
    "priority",
    "status",
    "source",
    "category",
    "kind",
    "device",
    "rule",
    "acknowledged_at",
    "onsite_at",
    "planned_at",
    "resolved_at",
    "followed_up_at",
    "condition_cleared_at",
    "respond_by",
    "onsite_by",
    "plan_by",
    "resolve_by",
    "follow_up_by",
    "satisfaction",
    "occurrences",
    "parent_id",
    "reporter",
    "id",
)
"""Columns the monthly report reads (covered by ``ix_tickets_site_opened_at`` on PostgreSQL,
so its passes over a site's month are index-only scans)."""


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
        # Device ids repeat from site to site: a list by site and device needs both. Rules
        # are shared by all sites: one site's tickets of a rule (the report's inspection
        # section) would otherwise read every site's.
        Index(None, "site", "device", "id"),
        Index(None, "site", "rule", "id"),
        Index(None, "rule", "id"),
        Index(None, "opened_at"),
        Index(None, "dedup_key"),
        # The monthly report reads one site's month through this index alone on PostgreSQL
        # (an index-only scan over the columns it aggregates).
        Index(None, "site", "opened_at", postgresql_include=list(REPORT_COLUMNS)),
        # The sweep reads only the tickets whose next duty is due.
        Index(
            None,
            "sweep_at",
            postgresql_where=text("sweep_at IS NOT NULL"),
            sqlite_where=text("sweep_at IS NOT NULL"),
        ),
        Index(None, "parent_id"),
        CheckConstraint("satisfaction BETWEEN 1 AND 5", name="satisfaction"),
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
    onsite_at: Mapped[datetime | None]
    """First ``start``: someone is on site and working."""
    planned_at: Mapped[datetime | None]
    """First ``plan``: the corrective measure / first plan was given."""
    followed_up_at: Mapped[datetime | None]
    follow_up_result: Mapped[str | None] = mapped_column(Text)
    satisfaction: Mapped[int | None]
    followed_up_by: Mapped[str | None] = mapped_column(String(100))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    """The ticket this one was linked to when it opened (a complaint about a device that
    already had a sensor ticket); resolving the parent resolves it too."""
    parent_number: Mapped[str | None] = mapped_column(String(40))
    sweep_at: Mapped[datetime | None]
    """When the sweep must look at this ticket next (NULL: nothing is due unless it
    changes). Every change sets it to the time of the change."""
    sla_state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """What the sweep already did: breached steps, reminders sent, the last escalation."""

    history: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", lazy="selectin"
    )
    linked_conditions: Mapped[list[SuppressedCondition]] = relationship(
        foreign_keys="SuppressedCondition.root_ticket_id",
        order_by="SuppressedCondition.id",
        lazy="selectin",
        viewonly=True,
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


class Silence(Base):
    """A maintenance window: conditions matching it are recorded, not ticketed, between
    ``starts_at`` and ``ends_at``. Unset matchers match anything within the site."""

    __tablename__ = "silences"
    __table_args__ = (
        CheckConstraint("ends_at >= starts_at", name="window"),
        Index(None, "site", "ends_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(63))
    building: Mapped[str | None] = mapped_column(String(64))
    device: Mapped[str | None] = mapped_column(String(63))
    rule: Mapped[str | None] = mapped_column(String(100))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    ended_by: Mapped[str | None] = mapped_column(String(100))
    """Who ended the window before its planned end (``ends_at`` then says when)."""
    released_at: Mapped[datetime | None]
    """When the sweep evaluated the conditions still held at the end of the window."""

    conditions: Mapped[list[SuppressedCondition]] = relationship(
        foreign_keys="SuppressedCondition.silence_id",
        order_by="SuppressedCondition.id",
        lazy="selectin",
        viewonly=True,
    )


class SuppressionState(StrEnum):
    SILENCED = "silenced"
    INHIBITED = "inhibited"
    CLEARED = "cleared"
    """The condition ended while suppressed: it never needed a ticket."""
    RELEASED = "released"
    """Still holding when its silence ended or its root ticket closed: a ticket opened."""


SUPPRESSED_NOW = (SuppressionState.SILENCED, SuppressionState.INHIBITED)


class SuppressedCondition(Base):
    """A condition that fired while silenced or explained by a root ticket: recorded here
    instead of opening a ticket. One active row per ``dedup_key`` (the same trick as
    tickets: ``active_dedup_key`` is set only while silenced or inhibited)."""

    __tablename__ = "suppressed_conditions"
    __table_args__ = (
        CheckConstraint(_one_of("state", SuppressionState), name="state"),
        Index(None, "silence_id"),
        Index(None, "root_ticket_id"),
        Index(None, "state"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(255))
    active_dedup_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    site: Mapped[str] = mapped_column(String(63))
    building: Mapped[str | None] = mapped_column(String(64))
    device: Mapped[str | None] = mapped_column(String(63))
    kind: Mapped[str | None] = mapped_column(String(32))
    rule: Mapped[str] = mapped_column(String(100))
    priority: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    silence_id: Mapped[int | None] = mapped_column(ForeignKey("silences.id"))
    root_ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    """The ticket opened when the condition was released."""
    ticket_number: Mapped[str | None] = mapped_column(String(40))
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None]
    released_at: Mapped[datetime | None]
    occurrences: Mapped[int] = mapped_column(default=1)
    decision: Mapped[dict[str, Any]]
    """The firing decision, to open its ticket from if the condition outlives the cover."""


class RuleDwell(Base):
    """A rule dwell in progress (rules.engine.Dwell), saved so a restart resumes it: one row
    per device with a condition holding but not yet long enough to fire."""

    __tablename__ = "rule_dwells"

    site: Mapped[str] = mapped_column(String(63), primary_key=True)
    device: Mapped[str] = mapped_column(String(63), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    reading: Mapped[dict[str, Any]]
    """The device's latest reading (telemetry, received and observed times) and what its
    rule view had derived from earlier ones (``view_memo``)."""
    since: Mapped[dict[str, Any]]
    """Rule id → since when (epoch seconds, device time) the condition has held."""
    saved_at: Mapped[datetime]
