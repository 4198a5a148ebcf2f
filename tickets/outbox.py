"""The transactional outbox: every ticket change leaves one CloudEvent (contract §6) in the
same transaction, so an event exists exactly when its change committed.

Readers (SSE, webhook and MQTT connectors) page through events by ``id``. For that to be
safe, ids must become visible in order: a reader that has seen event 10 must never later
find a newly committed event 9. SQLite serialises writers anyway; on PostgreSQL the writers
take a transaction-scoped advisory lock just before inserting their events, which holds
until commit, so ids are allocated and committed in the same order. The lock is taken last
(after all ticket rows are written) so it is never held while waiting for a row lock.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from tickets.models import OutboxEvent, Ticket, TicketEvent
from tickets.render import ticket_view
from tickets.schemas import TicketView, utc_iso

OUTBOX_LOCK = 0x5354_4F42  # "STOB"
SPEC_VERSION = "1.0"


class EventType(StrEnum):
    OPENED = "steward.ticket.opened"
    UPDATED = "steward.ticket.updated"
    ACKNOWLEDGED = "steward.ticket.acknowledged"
    ESCALATED = "steward.ticket.escalated"
    RESOLVED = "steward.ticket.resolved"
    CLOSED = "steward.ticket.closed"
    """Also sent for a cancelled ticket: either way it has left service (see ``status``)."""


def cloud_event(
    view: TicketView, *, event_type: EventType, event_id: str, source: str, at: datetime
) -> dict[str, Any]:
    """The CloudEvents 1.0 JSON object (structured mode) announcing a change of ``view``."""
    return {
        "specversion": SPEC_VERSION,
        "id": event_id,
        "source": source,
        "type": event_type.value,
        "subject": view.id,
        "time": utc_iso(at),
        "datacontenttype": "application/json",
        "data": view.model_dump(mode="json"),
    }


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    """An outbox row detached from its session: ``pk`` is the reader's position."""

    pk: int
    event_id: str
    ticket: str
    site: str
    type: EventType
    created_at: datetime
    payload: dict[str, Any]


def outbox_record(row: OutboxEvent) -> OutboxRecord:
    return OutboxRecord(
        pk=row.id,
        event_id=row.event_id,
        ticket=str(row.payload["subject"]),
        site=row.site,
        type=EventType(row.type),
        created_at=row.created_at,
        payload=row.payload,
    )


class Journal:
    """One write transaction's record keeper: history entries as changes happen, outbox rows
    at the end (``publish``), under the ordering lock described above."""

    def __init__(self, session: Session, *, now: datetime, source: str) -> None:
        self.session = session
        self.now = now
        self._source = source
        self._pending: list[OutboxEvent] = []

    def entry(
        self,
        action: str,
        *,
        actor: str,
        from_status: str | None = None,
        to_status: str | None = None,
        note: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> TicketEvent:
        return TicketEvent(
            at=self.now,
            actor=actor,
            action=action,
            from_status=from_status,
            to_status=to_status,
            note=note,
            data=data or {},
        )

    def record(
        self, ticket: Ticket, event_type: EventType, entries: Sequence[TicketEvent]
    ) -> TicketView:
        """Append ``entries`` to the ticket's history and queue one event with the result.
        A changed ticket is due for a sweep now: its deadlines and reminders may have moved."""
        ticket.history.extend(entries)
        ticket.sweep_at = self.now
        view = ticket_view(ticket)
        event_id = str(uuid.uuid4())
        self._pending.append(
            OutboxEvent(
                event_id=event_id,
                ticket_id=ticket.id,
                site=ticket.site,
                type=event_type.value,
                created_at=self.now,
                payload=cloud_event(
                    view,
                    event_type=event_type,
                    event_id=event_id,
                    source=f"{self._source}/sites/{ticket.site}",
                    at=self.now,
                ),
            )
        )
        return view

    def marker(self) -> str | None:
        """The id of one event this transaction will publish: found in the outbox if and
        only if the transaction committed (see ``Attempts``)."""
        return self._pending[0].event_id if self._pending else None

    def publish(self) -> None:
        if not self._pending:
            return
        self.session.flush()  # ticket rows first: never wait for a row lock holding the lock
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": OUTBOX_LOCK})
        self.session.add_all(self._pending)
        self.session.flush()
        self._pending.clear()


@dataclass
class Attempts:
    """One write retried until it commits (a batch of the decision writer), and whether an
    earlier attempt committed after all.

    A connection lost during COMMIT leaves the client not knowing whether the transaction
    committed: applying the batch again would then apply it twice (an alarm counted as a
    second occurrence, its events sent again). Each attempt remembers the id of one outbox
    event it wrote; the event is in the outbox if and only if that attempt committed. (Not
    PostgreSQL's ``txid_status``: after a crash the server may hand a lost transaction's id to
    a new one, which would then look like the lost one committed.) An attempt that wrote no
    event changed no ticket (a suppressed condition at most) and is simply tried again."""

    marker: str | None = None
    result: Any = None
    """What the attempt that wrote ``marker`` returned, for when it turns out committed."""

    def committed(self, sessions: sessionmaker[Session]) -> bool:
        if self.marker is None:
            return False
        with sessions() as session:
            found = session.scalar(
                select(OutboxEvent.id).where(OutboxEvent.event_id == self.marker)
            )
        if found is None:
            self.marker = None
            return False
        return True
