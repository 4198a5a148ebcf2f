"""Stored ticket → ``TicketView``: the one place that turns rows into the contract's shape."""

from __future__ import annotations

from gateway.topics import Kind
from rules.decision import Category, Priority
from tickets.lifecycle import Status
from tickets.models import Ticket, TicketEvent
from tickets.schemas import HistoryEntry, Reporter, Source, TicketView


def history_entry(event: TicketEvent) -> HistoryEntry:
    return HistoryEntry(
        at=event.at,
        actor=event.actor,
        action=event.action,
        from_status=None if event.from_status is None else Status(event.from_status),
        to_status=None if event.to_status is None else Status(event.to_status),
        note=event.note,
        data=event.data,
    )


def ticket_view(ticket: Ticket) -> TicketView:
    return TicketView(
        id=ticket.number,
        site=ticket.site,
        building=ticket.building,
        device=ticket.device,
        kind=None if ticket.kind is None else Kind(ticket.kind),
        location=ticket.location,
        rule=ticket.rule,
        category=Category(ticket.category),
        priority=Priority(ticket.priority),
        status=Status(ticket.status),
        title=ticket.title,
        description=ticket.description,
        source=Source(ticket.source),
        opened_at=ticket.opened_at,
        acknowledged_at=ticket.acknowledged_at,
        resolved_at=ticket.resolved_at,
        closed_at=ticket.closed_at,
        condition_cleared_at=ticket.condition_cleared_at,
        respond_by=ticket.respond_by,
        onsite_by=ticket.onsite_by,
        plan_by=ticket.plan_by,
        resolve_by=ticket.resolve_by,
        follow_up_by=ticket.follow_up_by,
        escalation_level=ticket.escalation_level,
        occurrences=ticket.occurrences,
        last_occurrence_at=ticket.last_occurrence_at,
        dedup_key=ticket.dedup_key,
        owner=ticket.owner,
        evidence=ticket.evidence,
        reporter=None if ticket.reporter is None else Reporter.model_validate(ticket.reporter),
        history=[history_entry(event) for event in ticket.history],
    )
