"""The delivery tables' queries: endpoint registration, fan-out, claiming what is due, and
recording attempts. Plain functions over a ``Session``; the dispatcher owns transactions.

Order per ticket: a delivery is due only when no older delivery of the same ticket to the same
endpoint is still pending, so a ticket's events reach each endpoint one after the other.
On PostgreSQL the claim locks its rows ``FOR UPDATE SKIP LOCKED`` for the whole send, so
several dispatchers share the work and never hold one delivery at once; a later event of the
same ticket stays blocked behind the locked, still pending, one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, exists, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from delivery.config import EventFilter, escalation_of
from delivery.models import Delivery, DeliveryAttempt, DeliveryEndpoint, DeliveryStatus
from delivery.policy import OUTAGE_REASONS
from steward.clock import as_datetime
from tickets.models import OutboxEvent

PENDING = DeliveryStatus.PENDING.value


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    name: str
    kind: str
    target: str


@dataclass(frozen=True, slots=True)
class Due:
    """A claimed delivery with what its send needs."""

    delivery_id: int
    event_id: str
    site: str
    event_type: str
    payload: dict[str, Any]
    attempts: int
    failures: int
    retry_since: datetime | None


def _insert_ignoring_duplicates(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    dialect = session.get_bind().dialect.name
    statement: Insert
    if dialect == "postgresql":
        statement = postgresql.insert(table).on_conflict_do_nothing()
    else:
        statement = sqlite.insert(table).on_conflict_do_nothing()
    session.execute(statement, rows)


def register(session: Session, specs: Sequence[EndpointSpec], *, now: float) -> None:
    """Make a row for each configured endpoint. A new endpoint starts at the outbox's end:
    it receives the events committed from now on, not the whole history."""
    top = int(session.scalar(select(func.max(OutboxEvent.id))) or 0)
    rows = [
        {
            "name": s.name,
            "kind": s.kind,
            "target": s.target,
            "outbox_cursor": top,
            "created_at": as_datetime(now),
        }
        for s in specs
    ]
    if rows:
        _insert_ignoring_duplicates(session, DeliveryEndpoint, rows)
    for spec in specs:
        session.execute(
            update(DeliveryEndpoint)
            .where(
                DeliveryEndpoint.name == spec.name,
                (DeliveryEndpoint.kind != spec.kind) | (DeliveryEndpoint.target != spec.target),
            )
            .values(kind=spec.kind, target=spec.target)
        )


@dataclass(frozen=True, slots=True)
class EndpointState:
    cursor: int
    outbox_top: int
    disabled: bool
    next_attempt_at: datetime | None = None
    """The earliest pending delivery's next attempt (None: nothing pending)."""

    def idle(self, now: datetime) -> bool:
        """No event to queue and no attempt due: a pass would do nothing."""
        return self.outbox_top <= self.cursor and (
            self.disabled or self.next_attempt_at is None or self.next_attempt_at > now
        )


def endpoint_state(session: Session, name: str) -> EndpointState:
    """One statement (all index lookups): what a dispatcher's pass needs to know first."""
    top = select(func.coalesce(func.max(OutboxEvent.id), 0)).scalar_subquery()
    first_due = (
        select(func.min(Delivery.next_attempt_at))
        .where(Delivery.endpoint == name, Delivery.status == PENDING)
        .scalar_subquery()
    )
    row = session.execute(
        select(DeliveryEndpoint.outbox_cursor, DeliveryEndpoint.disabled_at, top, first_due).where(
            DeliveryEndpoint.name == name
        )
    ).one()
    return EndpointState(int(row[0]), int(row[2]), row[1] is not None, row[3])


def fan_out(
    session: Session, name: str, event_filter: EventFilter, *, now: float, limit: int
) -> int:
    """Queue the endpoint's next events; returns how many outbox events were read (0 also
    when another dispatcher holds the endpoint's row)."""
    endpoint = session.scalars(
        select(DeliveryEndpoint)
        .where(DeliveryEndpoint.name == name)
        .with_for_update(skip_locked=True)
    ).one_or_none()
    if endpoint is None:
        return 0
    events = session.execute(
        select(
            OutboxEvent.id,
            OutboxEvent.ticket_id,
            OutboxEvent.event_id,
            OutboxEvent.site,
            OutboxEvent.type,
            OutboxEvent.payload,
        )
        .where(OutboxEvent.id > endpoint.outbox_cursor)
        .order_by(OutboxEvent.id)
        .limit(limit)
    ).all()
    if not events:
        return 0
    when = as_datetime(now)
    rows = [
        {
            "endpoint": name,
            "outbox_pk": e.id,
            "ticket_id": e.ticket_id,
            "event_id": e.event_id,
            "status": PENDING,
            "attempts": 0,
            "failures": 0,
            "created_at": when,
            "next_attempt_at": when,
        }
        for e in events
        if _matches(event_filter, e.site, e.type, e.payload["data"])
    ]
    if rows:
        _insert_ignoring_duplicates(session, Delivery, rows)
    endpoint.outbox_cursor = events[-1].id
    return len(events)


def _matches(event_filter: EventFilter, site: str, event_type: str, data: dict[str, Any]) -> bool:
    """The filter against what the outbox row already holds: no query per event."""
    level, roles = escalation_of(data)
    return event_filter.matches(
        site=site,
        priority=str(data.get("priority")),
        event_type=event_type,
        escalation_level=level,
        roles=roles,
    )


def due(session: Session, name: str, *, now: float, limit: int, lock: bool) -> list[Due]:
    older = aliased(Delivery)
    blocked = exists().where(
        older.endpoint == Delivery.endpoint,
        older.ticket_id == Delivery.ticket_id,
        older.status == PENDING,
        older.outbox_pk < Delivery.outbox_pk,
    )
    query = (
        select(
            Delivery.id,
            Delivery.event_id,
            OutboxEvent.site,
            OutboxEvent.type,
            OutboxEvent.payload,
            Delivery.attempts,
            Delivery.failures,
            Delivery.retry_since,
        )
        .join(OutboxEvent, OutboxEvent.id == Delivery.outbox_pk)
        .where(
            Delivery.endpoint == name,
            Delivery.status == PENDING,
            Delivery.next_attempt_at <= as_datetime(now),
            ~blocked,
        )
        .order_by(Delivery.outbox_pk)
        .limit(limit)
    )
    if lock:
        query = query.with_for_update(skip_locked=True, of=Delivery)
    return [Due(*row) for row in session.execute(query).all()]


def record_attempt(
    session: Session, *, delivery_id: int, values: dict[str, Any], attempt: dict[str, Any]
) -> None:
    session.execute(update(Delivery).where(Delivery.id == delivery_id).values(**values))
    session.execute(insert(DeliveryAttempt), [{"delivery_id": delivery_id, **attempt}])


def disable(session: Session, name: str, *, now: float, reason: str) -> None:
    session.execute(
        update(DeliveryEndpoint)
        .where(DeliveryEndpoint.name == name, DeliveryEndpoint.disabled_at.is_(None))
        .values(disabled_at=as_datetime(now), disabled_reason=reason)
    )


def retry_now(session: Session, name: str, *, now: float) -> int:
    """The receiver answers again: what waits only because it was away is due at once."""
    result = session.execute(
        update(Delivery)
        .where(
            Delivery.endpoint == name,
            Delivery.status == PENDING,
            Delivery.next_attempt_at > as_datetime(now),
            Delivery.last_reason.in_([r.value for r in OUTAGE_REASONS]),
        )
        .values(next_attempt_at=as_datetime(now))
    )
    return int(getattr(result, "rowcount", 0) or 0)
