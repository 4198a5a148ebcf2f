"""Stored ticket → ``TicketView``: the one place that turns rows into the contract's shape.

Two ways in: ``ticket_view`` for a ticket the ORM already holds (after a change), and
``ticket_views`` for reads (list, get), which skip the ORM: one Core query for the tickets'
columns, one for their history, one for their linked conditions, whatever the page size.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Select, select
from sqlalchemy.orm import Session

from tickets.models import SuppressedCondition, Ticket, TicketEvent
from tickets.schemas import FollowUpView, LinkedCondition, TicketView

COMPLAINT_LINKED = "complaint_linked"
"""History action on a ticket when a complaint is linked to it (``data.ticket``)."""


_NOT_SHOWN = {"active_dedup_key", "idempotency_key", "request_hash", "sweep_at"}
VIEW_COLUMNS = tuple(c for c in Ticket.__table__.c if c.key not in _NOT_SHOWN)
"""The ticket columns a view reads (a ``Row`` of these reads like a ``Ticket``)."""
_HISTORY_COLUMNS = (
    TicketEvent.ticket_id,
    TicketEvent.at,
    TicketEvent.actor,
    TicketEvent.action,
    TicketEvent.from_status,
    TicketEvent.to_status,
    TicketEvent.note,
    TicketEvent.data,
)
_HISTORY_FIELDS = tuple(c.key for c in _HISTORY_COLUMNS[1:])
"""``HistoryEntry``'s fields: the history columns but the ticket id."""


def view_query() -> Select[Any]:
    """``SELECT`` of the view's columns, to add ``WHERE``, ``ORDER BY`` and ``LIMIT`` to."""
    return select(*VIEW_COLUMNS)


def ticket_views(session: Session, rows: Sequence[Row[Any]]) -> list[TicketView]:
    """Views of tickets read with ``view_query``, in their order, with history and links."""
    ids = [row.id for row in rows]
    history: defaultdict[int, list[dict[str, Any]]] = defaultdict(list)
    linked: defaultdict[int, list[SuppressedCondition]] = defaultdict(list)
    if ids:
        events = select(*_HISTORY_COLUMNS).where(TicketEvent.ticket_id.in_(ids))
        for ticket_id, *fields in session.execute(events.order_by(TicketEvent.id)):
            history[ticket_id].append(dict(zip(_HISTORY_FIELDS, fields, strict=True)))
        conditions = select(SuppressedCondition).where(SuppressedCondition.root_ticket_id.in_(ids))
        for condition in session.scalars(conditions.order_by(SuppressedCondition.id)):
            linked[condition.root_ticket_id or 0].append(condition)
    return [view_of(row._asdict(), history[row.id], linked[row.id]) for row in rows]


def history_entry(event: TicketEvent) -> dict[str, Any]:
    return {name: getattr(event, name) for name in _HISTORY_FIELDS}


def ticket_view(ticket: Ticket) -> TicketView:
    columns = {c.key: getattr(ticket, c.key) for c in VIEW_COLUMNS}
    return view_of(columns, [history_entry(e) for e in ticket.history], ticket.linked_conditions)


def view_of(
    ticket: dict[str, Any],
    history: Sequence[dict[str, Any]],
    linked: Sequence[SuppressedCondition],
) -> TicketView:
    """The view of a ticket's columns (by name), its history entries (``HistoryEntry``'s
    fields) and the conditions linked to it. Pydantic validates the whole tree in one call."""
    fields = {name: ticket[name] for name in _COPIED}
    fields["id"] = ticket["number"]
    fields["parent"] = ticket["parent_number"]
    fields["history"] = history
    fields["follow_up"] = _follow_up(ticket)
    fields["escalation"] = (ticket["sla_state"] or {}).get("escalation")
    fields["linked"] = [
        str(e["data"]["ticket"]) for e in history if e["action"] == COMPLAINT_LINKED
    ]
    fields["linked_conditions"] = [linked_condition(c) for c in linked]
    return TicketView.model_validate(fields)


_COPIED = tuple(
    name
    for name in TicketView.model_fields
    if name in {c.key for c in VIEW_COLUMNS} and name != "id"
)
"""View fields that are ticket columns of the same name, as they are (the view's ``id`` is
the ticket's number, not its row id)."""


def _follow_up(ticket: dict[str, Any]) -> FollowUpView | None:
    if ticket["followed_up_at"] is None:
        return None
    return FollowUpView(
        at=ticket["followed_up_at"],
        by=ticket["followed_up_by"] or "",
        result=ticket["follow_up_result"] or "",
        satisfaction=ticket["satisfaction"] or 0,
    )


def linked_condition(row: SuppressedCondition) -> LinkedCondition:
    return LinkedCondition(
        rule=row.rule,
        device=row.device,
        building=row.building,
        dedup_key=row.dedup_key,
        state=row.state,
        first_at=row.first_at,
        last_at=row.last_at,
        cleared_at=row.cleared_at,
        ticket=row.ticket_number,
        occurrences=row.occurrences,
    )
