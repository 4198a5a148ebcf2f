"""The clock's side of tickets: on every tick, the tickets whose next duty is due get it.

``sweep`` reads only tickets with ``sweep_at <= now`` (an index), asks ``duties.due`` what is
owed, records it (history + one outbox event per ticket: ``escalated`` when the level rose,
``updated`` for breaches and reminders) and stores when to look again. Suppressed conditions
whose cover has gone are released first, so their new tickets are swept in the same pass.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from rules.decision import Priority
from steward.clock import iso
from tickets import suppress
from tickets.changes import STEWARD
from tickets.duties import (
    Breach,
    DailyReportDue,
    Escalation,
    ProgressDue,
    Step,
    Watch,
    due,
)
from tickets.lifecycle import Status
from tickets.models import Ticket, TicketEvent
from tickets.outbox import EventType, Journal
from tickets.policy import Policies, SitePolicy
from tickets.schemas import Source, TicketView

SWEEP_BATCH = 500
"""Tickets handled per sweep; the rest wait for the next tick (their ``sweep_at`` stays)."""


def sweep(journal: Journal, policies: Policies, *, limit: int = SWEEP_BATCH) -> list[TicketView]:
    views = suppress.release(journal, policies)
    query = (
        select(Ticket)
        .where(Ticket.sweep_at <= journal.now)
        .order_by(Ticket.sweep_at, Ticket.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    for ticket in journal.session.scalars(query):
        view = _sweep_one(journal, ticket, policies.for_site(ticket.site))
        if view is not None:
            views.append(view)
    return views


def _sweep_one(journal: Journal, ticket: Ticket, policy: SitePolicy) -> TicketView | None:
    plan = due(watch(ticket), journal.now, policy)
    state = dict(ticket.sla_state or {})
    entries: list[TicketEvent] = []
    escalated = False
    for duty in plan.duties:
        if isinstance(duty, Breach):
            state["breached"] = sorted({*state.get("breached", []), duty.step.value})
            entries.append(
                journal.entry(
                    "sla_breached",
                    actor=STEWARD,
                    note=f"{duty.step.value} deadline {iso(duty.deadline.timestamp())} missed",
                    data={"step": duty.step.value, "deadline": iso(duty.deadline.timestamp())},
                )
            )
        elif isinstance(duty, Escalation):
            escalated = True
            entries.append(_escalate(journal, ticket, duty, policy, state))
        elif isinstance(duty, ProgressDue):
            state["progress_reminded"] = iso(duty.due.timestamp())
            entries.append(
                journal.entry(
                    "reminder",
                    actor=STEWARD,
                    note="progress update due: report progress every hour until restored",
                    data={"reminder": "progress_due", "due": iso(duty.due.timestamp())},
                )
            )
        else:
            state["daily_reminded_on"] = duty.on.isoformat()
            entries.append(_daily(journal, duty))
    view = None
    if entries:
        ticket.sla_state = state
        view = journal.record(
            ticket, EventType.ESCALATED if escalated else EventType.UPDATED, entries
        )
    ticket.sweep_at = plan.next_at  # after ``record``, which marks the ticket as due now
    return view


def _escalate(
    journal: Journal, ticket: Ticket, duty: Escalation, policy: SitePolicy, state: dict[str, Any]
) -> TicketEvent:
    contacts = [
        {
            k: v
            for k, v in (
                ("role", c.role.value),
                ("name", c.name),
                ("phone", c.phone),
                ("email", c.email),
            )
            if v
        }
        for c in policy.escalation.contacts_for(duty.roles)
    ]
    roles = [r.value for r in duty.roles]
    ticket.escalation_level = duty.level
    state["escalation"] = {
        "level": duty.level,
        "roles": roles,
        "reason": duty.reason,
        "at": iso(journal.now.timestamp()),
        "contacts": contacts,
    }
    why = "emergency at night" if duty.reason == "night" else f"{duty.reason} deadline missed"
    return journal.entry(
        "escalated",
        actor=STEWARD,
        note=f"escalated to level {duty.level} ({', '.join(roles)}): {why}",
        data={"level": duty.level, "roles": roles, "reason": duty.reason, "contacts": contacts},
    )


def _daily(journal: Journal, duty: DailyReportDue) -> TicketEvent:
    by = iso(duty.by.timestamp())
    return journal.entry(
        "reminder",
        actor=STEWARD,
        note=f"multi-day work: today's progress report is due by {by}",
        data={"reminder": "daily_report", "on": duty.on.isoformat(), "by": by},
    )


def watch(ticket: Ticket) -> Watch:
    state = ticket.sla_state or {}
    progress = [e.at for e in ticket.history if e.action == "progress"]
    reminded = state.get("progress_reminded")
    daily = state.get("daily_reminded_on")
    return Watch(
        priority=Priority(ticket.priority),
        status=Status(ticket.status),
        source=Source(ticket.source),
        rule=ticket.rule,
        kind=ticket.kind,
        opened_at=ticket.opened_at,
        respond_by=ticket.respond_by,
        onsite_by=ticket.onsite_by,
        plan_by=ticket.plan_by,
        resolve_by=ticket.resolve_by,
        follow_up_by=ticket.follow_up_by,
        acknowledged_at=ticket.acknowledged_at,
        onsite_at=ticket.onsite_at,
        planned_at=ticket.planned_at,
        resolved_at=ticket.resolved_at,
        followed_up_at=ticket.followed_up_at,
        condition_cleared_at=ticket.condition_cleared_at,
        escalation_level=ticket.escalation_level,
        last_progress_at=max(progress) if progress else None,
        breached=frozenset(Step(s) for s in state.get("breached", [])),
        progress_reminded=None if reminded is None else datetime.fromisoformat(reminded),
        daily_reminded_on=None if daily is None else date.fromisoformat(daily),
    )
