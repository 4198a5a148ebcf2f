"""Changes to tickets inside one write transaction: rule decisions (FIRE, CLEAR), manual
tickets and lifecycle actions. Each change appends history and queues one outbox event
through the ``Journal``; the service owns the transaction around them.

People's changes take ``via``: the API key the request came with (``None``: not through the
API). Every history entry such a change writes, the linked tickets' too, records it as
``data.via``, so the trail says which key made the change whatever ``actor`` the body names.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from rules.decision import Decision, Priority
from steward.clock import iso
from tickets.errors import InvalidTransition
from tickets.lifecycle import (
    ACTIVE_STATUSES,
    PAST_TENSE,
    LifecycleState,
    Record,
    Status,
    TicketAction,
    allowed_actions,
    record,
    transition,
)
from tickets.models import Ticket, TicketEvent
from tickets.outbox import EventType, Journal
from tickets.policy import Policies
from tickets.render import COMPLAINT_LINKED
from tickets.schemas import FollowUpIn, ManualTicketIn, Source, TicketView, Via
from tickets.sla import Deadlines, SlaPolicy, deadlines, tightened
from tickets.store import find_active, get_ticket, insert_ticket

STEWARD = "steward"
"""The actor recorded for what Steward does by itself."""

PRIORITY_RANK = {Priority.GENERAL: 0, Priority.IMPORTANT: 1, Priority.EMERGENCY: 2}


def _via(data: dict[str, object], via: Via | None) -> dict[str, object]:
    """``data`` with ``via`` added (a copy), or ``data`` itself without one."""
    return data if via is None else {**data, "via": dict(via)}


def fire(journal: Journal, decision: Decision, sla: SlaPolicy) -> TicketView:
    """A condition fired: an occurrence of its active ticket, or a new ticket."""
    ticket = find_active(journal.session, decision.dedup_key, lock=True)
    if ticket is not None:
        return _add_occurrence(journal, ticket, decision, sla)
    try:
        return _open(journal, decision, sla)
    except IntegrityError:
        # Another writer opened a ticket for this key between our look-up and our insert
        # (PostgreSQL; SQLite writers are serialised). Its ticket stands; ours is one more
        # occurrence of it.
        winner = find_active(journal.session, decision.dedup_key, lock=True)
        if winner is not None:
            return _add_occurrence(journal, winner, decision, sla)
    # The winner was closed again meanwhile, or the insert failed for another reason: one
    # more try, and a second failure propagates.
    return _open(journal, decision, sla)


def _open(journal: Journal, decision: Decision, sla: SlaPolicy) -> TicketView:
    ticket = _rule_ticket(decision, journal.now, sla)
    with journal.session.begin_nested():
        insert_ticket(journal.session, ticket)
    opened = journal.entry(
        "opened", actor=STEWARD, to_status=Status.OPEN.value, data=_decision_data(decision)
    )
    return journal.record(ticket, EventType.OPENED, [opened])


def clear(journal: Journal, decision: Decision, sla: SlaPolicy) -> TicketView | None:
    """A condition ended: note it on its active ticket, and resolve it if the rule says the
    end of the condition is the end of the problem. ``None``: nothing changed."""
    ticket = find_active(journal.session, decision.dedup_key, lock=True)
    if ticket is None:
        return None
    entries: list[TicketEvent] = []
    if ticket.condition_cleared_at is None:
        ticket.condition_cleared_at = journal.now
        entries.append(
            journal.entry("condition_cleared", actor=STEWARD, data=_decision_data(decision))
        )
    if decision.auto_resolve:
        entries.append(
            perform(
                journal,
                ticket,
                TicketAction.RESOLVE,
                actor=STEWARD,
                sla=sla,
                note="condition cleared; resolved automatically",
            )
        )
        view = journal.record(ticket, EventType.RESOLVED, entries)
        resolve_children(journal, ticket, actor=STEWARD, sla=sla)
        return view
    if not entries:
        return None  # a repeated clear: already recorded
    return journal.record(ticket, EventType.UPDATED, entries)


def act(
    journal: Journal,
    number: str,
    action: TicketAction,
    *,
    actor: str,
    note: str | None,
    policies: Policies,
    via: Via | None = None,
) -> TicketView:
    """A person's lifecycle action on ticket ``number``."""
    ticket = get_ticket(journal.session, number, lock=True)
    sla = policies.for_site(ticket.site).sla
    was = Status(ticket.status)
    entry = perform(journal, ticket, action, actor=actor, note=note, sla=sla, via=via)
    if action is TicketAction.REOPEN:
        _claim_dedup_key(journal, ticket, was)
    view = journal.record(ticket, _event_type(action, was), [entry])
    if action is TicketAction.RESOLVE:
        resolve_children(journal, ticket, actor=actor, sla=sla, via=via)
    return view


def close(
    journal: Journal,
    number: str,
    *,
    actor: str,
    note: str | None,
    follow_up: FollowUpIn | None,
    policies: Policies,
    via: Via | None = None,
) -> TicketView:
    """Close a resolved ticket, with the follow-up call's result and satisfaction score."""
    ticket = get_ticket(journal.session, number, lock=True)
    sla = policies.for_site(ticket.site).sla
    entry = perform(journal, ticket, TicketAction.CLOSE, actor=actor, note=note, sla=sla, via=via)
    if follow_up is not None:
        ticket.followed_up_at = journal.now
        ticket.followed_up_by = actor
        ticket.follow_up_result = follow_up.result
        ticket.satisfaction = follow_up.satisfaction
        entry.data = {**entry.data, "follow_up": follow_up.model_dump(mode="json")}
    return journal.record(ticket, EventType.CLOSED, [entry])


def record_action(
    journal: Journal,
    number: str,
    action: Record,
    *,
    actor: str,
    note: str,
    to: str | None,
    via: Via | None = None,
) -> TicketView:
    """``plan`` or ``reassign`` on an active ticket, in the history with actor and note."""
    ticket = get_ticket(journal.session, number, lock=True)
    before = _lifecycle_state(ticket)
    after = record(before, action, at=journal.now, note=note, to=to)
    ticket.owner, ticket.planned_at = after.owner, after.planned_at
    past = "planned" if action is Record.PLAN else "reassigned"
    data: dict[str, object] = (
        {"from": before.owner, "to": after.owner} if action is Record.REASSIGN else {}
    )
    entry = journal.entry(past, actor=actor, note=note, data=_via(data, via))
    return journal.record(ticket, EventType.UPDATED, [entry])


def resolve_children(
    journal: Journal, parent: Ticket, *, actor: str, sla: SlaPolicy, via: Via | None = None
) -> None:
    """Tickets linked to ``parent`` (complaints about its device) are resolved with it; each
    still gets its own follow-up call."""
    query = (
        select(Ticket)
        .where(
            Ticket.parent_id == parent.id,
            Ticket.status.in_([s.value for s in ACTIVE_STATUSES]),
        )
        .order_by(Ticket.id)
        .with_for_update()
    )
    for child in journal.session.scalars(query):
        entry = perform(
            journal,
            child,
            TicketAction.RESOLVE,
            actor=actor,
            sla=sla,
            note=f"resolved with {parent.number}",
            via=via,
        )
        journal.record(child, EventType.RESOLVED, [entry])


def open_manual(
    journal: Journal,
    body: ManualTicketIn,
    *,
    actor: str,
    idempotency_key: str | None,
    request_hash: str,
    sla: SlaPolicy,
    via: Via | None = None,
) -> TicketView:
    """Insert a complaint ticket. The caller checks the idempotency key; a concurrent insert
    with the same key fails here with ``IntegrityError`` (inside a savepoint it can undo).

    A complaint about a device that already has an active sensor ticket is linked to it:
    the sensor ticket's history names the complaint, and resolving it resolves both."""
    now = journal.now
    parent = _sensor_ticket(journal, body.site, body.device)
    ticket = Ticket(
        site=body.site,
        building=body.building or (parent.building if parent else None),
        device=body.device,
        kind=body.kind.value if body.kind else (parent.kind if parent else None),
        location=body.location or (parent.location if parent else None),
        rule=body.rule,
        parent_id=None if parent is None else parent.id,
        parent_number=None if parent is None else parent.number,
        category=body.category.value,
        priority=body.priority.value,
        status=Status.OPEN.value,
        title=body.title,
        description=body.description,
        source=Source.MANUAL.value,
        opened_at=now,
        last_occurrence_at=now,
        occurrences=1,
        escalation_level=0,
        evidence={},
        reporter=body.reporter.model_dump(mode="json"),
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        history=[],
    )
    _set_deadlines(ticket, deadlines(sla, body.priority, body.rule, now))
    with journal.session.begin_nested():
        insert_ticket(journal.session, ticket, own_dedup_key=True)
    data: dict[str, object] = {"idempotency_key": idempotency_key} if idempotency_key else {}
    if parent is not None:
        data["linked_to"] = parent.number
    opened = journal.entry("opened", actor=actor, to_status=Status.OPEN.value, data=_via(data, via))
    view = journal.record(ticket, EventType.OPENED, [opened])
    if parent is not None:
        linked = journal.entry(
            COMPLAINT_LINKED,
            actor=actor,
            note=f"complaint {ticket.number} from room {body.reporter.room} about this device",
            data=_via({"ticket": ticket.number, "channel": body.reporter.channel.value}, via),
        )
        journal.record(parent, EventType.UPDATED, [linked])
    return view


def _sensor_ticket(journal: Journal, site: str, device: str | None) -> Ticket | None:
    """The device's active rule ticket a complaint belongs to: the most urgent, then the
    newest."""
    if device is None:
        return None
    query = (
        select(Ticket)
        .where(
            Ticket.site == site,
            Ticket.device == device,
            Ticket.source == Source.RULE.value,
            Ticket.status.in_([s.value for s in ACTIVE_STATUSES]),
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    found = list(journal.session.scalars(query))
    if not found:
        return None
    return max(found, key=lambda t: (PRIORITY_RANK[Priority(t.priority)], t.id))


def perform(
    journal: Journal,
    ticket: Ticket,
    action: TicketAction,
    *,
    actor: str,
    note: str | None,
    sla: SlaPolicy,
    via: Via | None = None,
) -> TicketEvent:
    """Run the state machine on ``ticket`` and write the result back; returns the history
    entry. A reopen is refused up front when another ticket is active for the condition."""
    blocker = None
    if action is TicketAction.REOPEN:
        other = find_active(journal.session, ticket.dedup_key)
        blocker = None if other is None or other.id == ticket.id else other.number
    before = _lifecycle_state(ticket)
    after = transition(
        before,
        action,
        actor=actor,
        at=journal.now,
        note=note,
        follow_up_after=sla.follow_up,
        reopen_blocked_by=blocker,
    )
    ticket.status = after.status.value
    ticket.owner = after.owner
    ticket.acknowledged_at = after.acknowledged_at
    ticket.resolved_at = after.resolved_at
    ticket.closed_at = after.closed_at
    ticket.follow_up_by = after.follow_up_by
    ticket.onsite_at = after.onsite_at
    ticket.active_dedup_key = ticket.dedup_key if after.status in ACTIVE_STATUSES else None
    return journal.entry(
        PAST_TENSE[action],
        actor=actor,
        from_status=before.status.value,
        to_status=after.status.value,
        note=note,
        data=_via({}, via),
    )


def _claim_dedup_key(journal: Journal, ticket: Ticket, was: Status) -> None:
    """Write the reopened ticket's claim on its dedup key now, so a ticket opened for the
    same condition since our check surfaces as the 409 it is, not as a database error."""
    try:
        with journal.session.begin_nested():
            journal.session.flush()
    except IntegrityError:
        raise InvalidTransition(
            status=was.value,
            action=TicketAction.REOPEN.value,
            allowed=[a.value for a in allowed_actions(was, reopen_blocked=True)],
            reason="cannot reopen: another ticket became active for the same condition",
        ) from None


def _add_occurrence(
    journal: Journal, ticket: Ticket, decision: Decision, sla: SlaPolicy
) -> TicketView:
    ticket.occurrences += 1
    ticket.last_occurrence_at = journal.now
    ticket.condition_cleared_at = None  # firing again: the condition is back
    data = {"occurrence": ticket.occurrences, **_decision_data(decision)}
    entries = [journal.entry("occurred", actor=STEWARD, data=data)]
    if PRIORITY_RANK[decision.priority] <= PRIORITY_RANK[Priority(ticket.priority)]:
        return journal.record(ticket, EventType.UPDATED, entries)
    entries.append(_raise_priority(journal, ticket, decision, sla))
    return journal.record(ticket, EventType.ESCALATED, entries)


def _raise_priority(
    journal: Journal, ticket: Ticket, decision: Decision, sla: SlaPolicy
) -> TicketEvent:
    current = Deadlines(ticket.respond_by, ticket.onsite_by, ticket.plan_by, ticket.resolve_by)
    raised = deadlines(sla, decision.priority, decision.rule, journal.now)
    responded = ticket.acknowledged_at is not None
    _set_deadlines(ticket, tightened(current, raised, responded=responded))
    old, ticket.priority = ticket.priority, decision.priority.value
    return journal.entry(
        "priority_raised",
        actor=STEWARD,
        note=f"priority raised from {old} to {ticket.priority} by {decision.rule}",
        data={"from": old, "to": ticket.priority, "rule": decision.rule},
    )


def _rule_ticket(decision: Decision, now: datetime, sla: SlaPolicy) -> Ticket:
    ref = decision.ref
    ticket = Ticket(
        site=ref.site,
        building=decision.building,
        device=ref.device,
        kind=ref.kind.value,
        location=decision.location,
        rule=decision.rule,
        category=decision.category.value,
        priority=decision.priority.value,
        status=Status.OPEN.value,
        title=decision.title,
        description=decision.description,
        source=Source.RULE.value,
        opened_at=now,
        last_occurrence_at=now,
        occurrences=1,
        escalation_level=0,
        dedup_key=decision.dedup_key,
        active_dedup_key=decision.dedup_key,
        evidence=decision.evidence,
        reporter=None,
        history=[],  # a new ticket has none: no need to ask the database
    )
    _set_deadlines(ticket, deadlines(sla, decision.priority, decision.rule, now))
    return ticket


def _set_deadlines(ticket: Ticket, due: Deadlines) -> None:
    ticket.respond_by = due.respond_by
    ticket.onsite_by = due.onsite_by
    ticket.plan_by = due.plan_by
    ticket.resolve_by = due.resolve_by


def _lifecycle_state(ticket: Ticket) -> LifecycleState:
    return LifecycleState(
        status=Status(ticket.status),
        owner=ticket.owner,
        acknowledged_at=ticket.acknowledged_at,
        resolved_at=ticket.resolved_at,
        closed_at=ticket.closed_at,
        follow_up_by=ticket.follow_up_by,
        onsite_at=ticket.onsite_at,
        planned_at=ticket.planned_at,
    )


def _decision_data(decision: Decision) -> dict[str, object]:
    return {"rule": decision.rule, "detected_at": iso(decision.at), "evidence": decision.evidence}


def _event_type(action: TicketAction, was: Status) -> EventType:
    if action is TicketAction.ACKNOWLEDGE or (action is TicketAction.START and was is Status.OPEN):
        return EventType.ACKNOWLEDGED  # starting work on an open ticket acknowledges it too
    if action is TicketAction.RESOLVE:
        return EventType.RESOLVED
    if action in (TicketAction.CLOSE, TicketAction.CANCEL):
        return EventType.CLOSED
    return EventType.UPDATED
