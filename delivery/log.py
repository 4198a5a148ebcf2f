"""The delivery log: deliveries and their attempts per endpoint and per event, endpoint health,
and the operator's levers (replay one delivery, replay everything failed, re-enable)."""

from __future__ import annotations

import builtins
import statistics
from collections.abc import Sequence

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from delivery.models import Delivery, DeliveryAttempt, DeliveryEndpoint, DeliveryStatus
from delivery.schemas import AttemptView, DeliveryPage, DeliveryView, EndpointHealth
from steward.clock import Clock, as_datetime
from tickets.db import read_session, write_session
from tickets.models import OutboxEvent, Ticket

PENDING, DELIVERED, FAILED = (s.value for s in DeliveryStatus)


class DeliveryNotFoundError(LookupError):
    """No such endpoint or delivery."""


class DeliveryLog:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    # -- reading ------------------------------------------------------------------------------
    def endpoints(self) -> builtins.list[EndpointHealth]:
        with read_session(self._sessions) as session:
            rows = session.scalars(select(DeliveryEndpoint).order_by(DeliveryEndpoint.name))
            return [_health(session, row) for row in rows]

    def endpoint(self, name: str) -> EndpointHealth:
        with read_session(self._sessions) as session:
            row = session.get(DeliveryEndpoint, name)
            if row is None:
                raise DeliveryNotFoundError(f"no delivery endpoint named {name!r}")
            return _health(session, row)

    def list(
        self,
        *,
        endpoint: str | None = None,
        status: DeliveryStatus | None = None,
        event_id: str | None = None,
        ticket: str | None = None,
        limit: int = 50,
        cursor: int | None = None,
    ) -> DeliveryPage:
        """Newest first; ``next_cursor`` continues with older deliveries."""
        query = _with_ticket(select(Delivery)).order_by(Delivery.id.desc()).limit(limit + 1)
        if endpoint is not None:
            query = query.where(Delivery.endpoint == endpoint)
        if status is not None:
            query = query.where(Delivery.status == status.value)
        if event_id is not None:
            query = query.where(Delivery.event_id == event_id)
        if ticket is not None:
            query = query.where(Ticket.number == ticket)
        if cursor is not None:
            query = query.where(Delivery.id < cursor)
        with read_session(self._sessions) as session:
            rows = session.execute(query).all()
            items = _views(session, [tuple(r) for r in rows[:limit]])
        more = len(rows) > limit
        return DeliveryPage(items=items, next_cursor=str(items[-1].id) if more else None)

    def get(self, delivery_id: int) -> DeliveryView:
        query = _with_ticket(select(Delivery)).where(Delivery.id == delivery_id)
        with read_session(self._sessions) as session:
            row = session.execute(query).one_or_none()
            if row is None:
                raise DeliveryNotFoundError(f"no delivery {delivery_id}")
            return _views(session, [tuple(row)])[0]

    # -- levers -------------------------------------------------------------------------------
    def replay(self, delivery_id: int) -> DeliveryView:
        """Send a delivered or failed event again (same ``webhook-id``), with a fresh retry
        window. A pending one is left as it is."""
        with write_session(self._sessions) as session:
            if session.get(Delivery, delivery_id) is None:
                raise DeliveryNotFoundError(f"no delivery {delivery_id}")
            self._requeue(session, Delivery.id == delivery_id)
        return self.get(delivery_id)

    def replay_failed(self, endpoint: str) -> int:
        with write_session(self._sessions) as session:
            if session.get(DeliveryEndpoint, endpoint) is None:
                raise DeliveryNotFoundError(f"no delivery endpoint named {endpoint!r}")
            return self._requeue(session, Delivery.endpoint == endpoint, Delivery.status == FAILED)

    def enable(self, endpoint: str) -> EndpointHealth:
        with write_session(self._sessions) as session:
            if session.get(DeliveryEndpoint, endpoint) is None:
                raise DeliveryNotFoundError(f"no delivery endpoint named {endpoint!r}")
            session.execute(
                update(DeliveryEndpoint)
                .where(DeliveryEndpoint.name == endpoint)
                .values(disabled_at=None, disabled_reason=None)
            )
        return self.endpoint(endpoint)

    def _requeue(self, session: Session, *where: object) -> int:
        result = session.execute(
            update(Delivery)
            .where(*where, Delivery.status != PENDING)  # type: ignore[arg-type]
            .values(
                status=PENDING,
                next_attempt_at=as_datetime(self._clock.now()),
                retry_since=None,
                failures=0,
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)


def _with_ticket(query: Select[tuple[Delivery]]) -> Select[tuple[Delivery, str, str]]:
    return (
        query.add_columns(Ticket.number, OutboxEvent.type)
        .join(OutboxEvent, OutboxEvent.id == Delivery.outbox_pk)
        .join(Ticket, Ticket.id == Delivery.ticket_id)
    )


def _views(session: Session, rows: Sequence[tuple[Delivery, str, str]]) -> list[DeliveryView]:
    ids = [d.id for d, _, _ in rows]
    attempts: dict[int, list[AttemptView]] = {i: [] for i in ids}
    if ids:
        query = (
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id.in_(ids))
            .order_by(DeliveryAttempt.id)
        )
        for a in session.scalars(query):
            attempts[a.delivery_id].append(
                AttemptView(
                    number=a.number,
                    at=a.at,
                    worker=a.worker,
                    outcome=a.outcome,
                    reason=a.reason,
                    status_code=a.status_code,
                    latency_ms=a.latency_ms,
                    detail=a.detail,
                )
            )
    return [
        DeliveryView(
            id=d.id,
            endpoint=d.endpoint,
            event_id=d.event_id,
            event_type=event_type,
            ticket=number,
            status=d.status,
            attempts=d.attempts,
            created_at=d.created_at,
            next_attempt_at=d.next_attempt_at if d.status == PENDING else None,
            last_attempt_at=d.last_attempt_at,
            delivered_at=d.delivered_at,
            last_status_code=d.last_status_code,
            last_reason=d.last_reason,
            history=attempts[d.id],
        )
        for d, number, event_type in rows
    ]


def _health(session: Session, endpoint: DeliveryEndpoint) -> EndpointHealth:
    mine = Delivery.endpoint == endpoint.name
    counts = dict(
        session.execute(select(Delivery.status, func.count()).where(mine).group_by(Delivery.status))
        .tuples()
        .all()
    )
    pending_q = select(func.count(), func.min(Delivery.created_at)).where(
        mine, Delivery.status == PENDING
    )
    pending, oldest = session.execute(pending_q).one()
    retrying = session.scalar(
        select(func.count()).where(mine, Delivery.status == PENDING, Delivery.failures > 0)
    )
    last = session.execute(
        select(Delivery.last_attempt_at, Delivery.last_reason, Delivery.last_status_code)
        .where(mine, Delivery.last_attempt_at.is_not(None))
        .order_by(Delivery.last_attempt_at.desc(), Delivery.id.desc())
        .limit(1)
    ).one_or_none()
    latencies = session.scalars(
        select(DeliveryAttempt.latency_ms)
        .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
        .where(mine, DeliveryAttempt.outcome == DELIVERED)
        .order_by(DeliveryAttempt.id.desc())
        .limit(100)
    ).all()
    last_delivered = session.scalar(select(func.max(Delivery.delivered_at)).where(mine))
    if endpoint.disabled_at is not None:
        state = "disabled"
    elif last is None:
        state = "idle"
    else:
        state = "failing" if retrying else "healthy"
    return EndpointHealth(
        name=endpoint.name,
        kind=endpoint.kind,
        target=endpoint.target,
        state=state,
        disabled_at=endpoint.disabled_at,
        disabled_reason=endpoint.disabled_reason,
        pending=int(pending),
        retrying=int(retrying or 0),
        failed=int(counts.get(FAILED, 0)),
        delivered=int(counts.get(DELIVERED, 0)),
        oldest_pending_at=_aware(oldest),
        last_attempt_at=None if last is None else last.last_attempt_at,
        last_delivered_at=_aware(last_delivered),
        last_reason=None if last is None else last.last_reason,
        last_status_code=None if last is None else last.last_status_code,
        latency_ms_p50=statistics.median(latencies) if latencies else None,
    )


def _aware(value: object) -> object:
    """Aggregates (min, max) bypass the column type: give SQLite's naive UTC its offset."""
    from datetime import UTC, datetime  # noqa: PLC0415

    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
