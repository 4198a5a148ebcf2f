"""Stored ticket → ``TicketView``: the one place that turns rows into the contract's shape."""

from __future__ import annotations

from gateway.topics import Kind
from rules.decision import Category, Priority
from tickets.lifecycle import Status
from tickets.models import SuppressedCondition, Ticket, TicketEvent
from tickets.schemas import (
    EscalationView,
    FollowUpView,
    HistoryEntry,
    LinkedCondition,
    Reporter,
    Source,
    TicketView,
)

COMPLAINT_LINKED = "complaint_linked"
"""History action on a ticket when a complaint is linked to it (``data.ticket``)."""


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
        onsite_at=ticket.onsite_at,
        planned_at=ticket.planned_at,
        follow_up=_follow_up(ticket),
        escalation=_escalation(ticket),
        parent=ticket.parent_number,
        linked=[str(e.data["ticket"]) for e in ticket.history if e.action == COMPLAINT_LINKED],
        linked_conditions=[linked_condition(c) for c in ticket.linked_conditions],
    )


def _follow_up(ticket: Ticket) -> FollowUpView | None:
    if ticket.followed_up_at is None:
        return None
    return FollowUpView(
        at=ticket.followed_up_at,
        by=ticket.followed_up_by or "",
        result=ticket.follow_up_result or "",
        satisfaction=ticket.satisfaction or 0,
    )


def _escalation(ticket: Ticket) -> EscalationView | None:
    stored = (ticket.sla_state or {}).get("escalation")
    return None if stored is None else EscalationView.model_validate(stored)


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
