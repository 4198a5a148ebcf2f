"""Look-ups and inserts shared by the service's write paths."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from tickets.errors import TicketNotFound
from tickets.models import Ticket

NUMBER_PREFIX = "ST-"


def ticket_number(pk: int) -> str:
    """``ST-000123``: derived from the primary key, so unique and stable across restarts."""
    return f"{NUMBER_PREFIX}{pk:06d}"


def manual_dedup_key(number: str) -> str:
    """A complaint is its own condition: it never absorbs another one."""
    return f"manual/{number}"


def insert_ticket(session: Session, ticket: Ticket, *, own_dedup_key: bool = False) -> None:
    """Insert ``ticket`` and give it its number.

    The number derives from the id, which only the database assigns: the row goes in with a
    placeholder unique to this insert and gets its number in the same transaction, so no
    committed ticket ever shows the placeholder. ``own_dedup_key`` (manual tickets) derives
    the dedup key from the number the same way.
    """
    placeholder = f"pending-{uuid.uuid4().hex}"
    ticket.number = placeholder
    if own_dedup_key:
        ticket.dedup_key = ticket.active_dedup_key = placeholder
    session.add(ticket)
    session.flush()
    ticket.number = ticket_number(ticket.id)
    if own_dedup_key:
        ticket.dedup_key = ticket.active_dedup_key = manual_dedup_key(ticket.number)
    session.flush()
    set_committed_value(ticket, "linked_conditions", [])  # new: nothing linked, no query


def find_active(session: Session, dedup_key: str, *, lock: bool = False) -> Ticket | None:
    """The active ticket holding ``dedup_key``; ``lock`` holds its row until commit so
    concurrent occurrences are counted, not lost (a no-op on SQLite, whose writers are
    serialised already)."""
    query = select(Ticket).where(Ticket.active_dedup_key == dedup_key)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalars(query).one_or_none()


def get_ticket(session: Session, number: str, *, lock: bool = False) -> Ticket:
    query = select(Ticket).where(Ticket.number == number)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    ticket = session.scalars(query).one_or_none()
    if ticket is None:
        raise TicketNotFound(number)
    return ticket


def find_by_idempotency_key(session: Session, key: str) -> Ticket | None:
    return session.scalars(select(Ticket).where(Ticket.idempotency_key == key)).one_or_none()
