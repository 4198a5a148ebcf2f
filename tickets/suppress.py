"""Silences and inhibition: conditions that fire but should not open a ticket (yet).

Applied inside ``TicketService.apply`` before a ticket would open, so the rules pipeline
needs no change:

- a **silence** (maintenance window) matching the condition records it and opens nothing;
- an active **root** ticket (a power cut in the building or site) explains elevator
  power-loss and pump-pressure conditions: they are linked to the root, not opened;
- life-safety rules (entrapment, door open while moving) are never suppressed.

A suppressed condition that clears is done. One still holding when its cover goes (the window
ends, the root ticket has been closed for ``release_after``) opens its ticket at the next sweep
(``release``), or at once when a person ends the window early.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from gateway.topics import DeviceRef, Kind
from rules.decision import Action, Category, Decision, Priority
from steward.clock import iso
from tickets import changes
from tickets.lifecycle import ACTIVE_STATUSES
from tickets.models import (
    Silence,
    SuppressedCondition,
    SuppressionState,
    Ticket,
)
from tickets.outbox import EventType, Journal
from tickets.policy import LIFE_SAFETY_RULES, POWER_CUT_RULE, InhibitPolicy, Policies, SitePolicy
from tickets.schemas import TicketView
from tickets.store import find_active

CONDITION_LINKED = "condition_linked"
_ACTIVE = [s.value for s in ACTIVE_STATUSES]


def fire(journal: Journal, decision: Decision, policy: SitePolicy) -> list[TicketView]:
    """A FIRE decision: an occurrence of its ticket, a suppressed condition, or a new ticket."""
    session = journal.session
    suppressible = decision.rule not in LIFE_SAFETY_RULES
    if suppressible and find_active(session, decision.dedup_key, lock=True) is None:
        silence = covering_silence(journal, decision)
        if silence is not None:
            _suppress(journal, decision, SuppressionState.SILENCED, silence=silence)
            return []
        root = inhibiting_root(journal, decision, policy.inhibit)
        if root is not None:
            return _link(journal, decision, root)
    view = changes.fire(journal, decision, policy.sla)
    _mark_released(journal, decision.dedup_key, view)
    return [view]


def clear(journal: Journal, decision: Decision) -> None:
    """A CLEAR decision for a suppressed condition: it ended without needing a ticket."""
    row = _active_row(journal, decision.dedup_key)
    if row is None:
        return
    row.state = SuppressionState.CLEARED.value
    row.cleared_at = journal.now
    row.active_dedup_key = None


def covering_silence(journal: Journal, decision: Decision) -> Silence | None:
    now = journal.now
    query = (
        select(Silence)
        .where(
            Silence.site == decision.ref.site,
            Silence.starts_at <= now,
            Silence.ends_at > now,
            _matches(Silence.building, decision.building),
            _matches(Silence.device, decision.ref.device),
            _matches(Silence.rule, decision.rule),
        )
        .order_by(Silence.ends_at.desc(), Silence.id)
        .limit(1)
    )
    return journal.session.scalars(query).first()


def _matches(column: Any, value: str | None) -> ColumnElement[bool]:
    unset: ColumnElement[bool] = column.is_(None)
    return unset if value is None else or_(unset, column == value)


def inhibiting_root(journal: Journal, decision: Decision, policy: InhibitPolicy) -> Ticket | None:
    """The oldest active power-cut ticket that explains ``decision``: same site, and the same
    building, or a site-wide declared power cut (``power.cut`` without a building)."""
    if decision.rule not in policy.targets or decision.rule in LIFE_SAFETY_RULES:
        return None
    scope: ColumnElement[bool] = (Ticket.building.is_(None)) & (Ticket.rule == POWER_CUT_RULE)
    if decision.building is not None:
        scope = or_(scope, Ticket.building == decision.building)
    query = (
        select(Ticket)
        .where(
            Ticket.site == decision.ref.site,
            Ticket.rule.in_(sorted(policy.sources)),
            Ticket.status.in_(_ACTIVE),
            Ticket.dedup_key != decision.dedup_key,
            scope,
        )
        .order_by(Ticket.id)
        .limit(1)
    )
    return journal.session.scalars(query).first()


def _active_row(journal: Journal, dedup_key: str) -> SuppressedCondition | None:
    query = (
        select(SuppressedCondition)
        .where(SuppressedCondition.active_dedup_key == dedup_key)
        .with_for_update()
    )
    return journal.session.scalars(query).one_or_none()


def _suppress(
    journal: Journal,
    decision: Decision,
    state: SuppressionState,
    *,
    silence: Silence | None = None,
    root: Ticket | None = None,
) -> tuple[SuppressedCondition, bool]:
    """Record (or count again) the suppressed condition; ``True`` if its cover changed."""
    row = _active_row(journal, decision.dedup_key)
    if row is None:
        row = SuppressedCondition(
            dedup_key=decision.dedup_key,
            active_dedup_key=decision.dedup_key,
            site=decision.ref.site,
            building=decision.building,
            device=decision.ref.device,
            kind=decision.ref.kind.value,
            rule=decision.rule,
            priority=decision.priority.value,
            first_at=journal.now,
            last_at=journal.now,
            occurrences=1,
            decision=encode(decision),
        )
        journal.session.add(row)
        changed = True
    else:
        row.occurrences += 1
        row.last_at = journal.now
        row.rule, row.priority = decision.rule, decision.priority.value
        row.decision = encode(decision)
        changed = row.root_ticket_id != (root.id if root else None) or row.silence_id != (
            silence.id if silence else None
        )
    row.state = state.value
    row.silence_id = None if silence is None else silence.id
    row.root_ticket_id = None if root is None else root.id
    journal.session.flush()
    return row, changed


def _link(journal: Journal, decision: Decision, root: Ticket) -> list[TicketView]:
    _, changed = _suppress(journal, decision, SuppressionState.INHIBITED, root=root)
    if not changed:
        return []  # the same condition again: already linked
    journal.session.expire(root, ["linked_conditions"])
    entry = journal.entry(
        CONDITION_LINKED,
        actor=changes.STEWARD,
        note=f"{decision.rule} on {decision.ref.device} explained by this ticket",
        data={
            "rule": decision.rule,
            "device": decision.ref.device,
            "building": decision.building,
            "dedup_key": decision.dedup_key,
            "detected_at": iso(decision.at),
        },
    )
    return [journal.record(root, EventType.UPDATED, [entry])]


def _mark_released(journal: Journal, dedup_key: str, view: TicketView) -> None:
    """A ticket opened for a condition that was suppressed (life-safety, or its cover has
    gone before the sweep noticed): the record points at the ticket."""
    row = _active_row(journal, dedup_key)
    if row is not None:
        _released(journal, row, view)


def _released(journal: Journal, row: SuppressedCondition, view: TicketView) -> None:
    row.state = SuppressionState.RELEASED.value
    row.released_at = journal.now
    row.active_dedup_key = None
    row.ticket_number = view.id
    row.ticket_id = journal.session.scalars(select(Ticket.id).where(Ticket.number == view.id)).one()


def release(journal: Journal, policies: Policies) -> list[TicketView]:
    """Conditions whose cover has gone: covered again, or their ticket opens now."""
    now = journal.now
    silenced = (
        select(SuppressedCondition)
        .join(Silence, SuppressedCondition.silence_id == Silence.id)
        .where(SuppressedCondition.state == SuppressionState.SILENCED.value, Silence.ends_at <= now)
    )
    inhibited = (
        select(SuppressedCondition, Ticket)
        .join(Ticket, SuppressedCondition.root_ticket_id == Ticket.id)
        .where(
            SuppressedCondition.state == SuppressionState.INHIBITED.value,
            Ticket.status.not_in(_ACTIVE),
        )
    )
    # A row another transaction is releasing (a person ending the window while the clock
    # ticks) is skipped, not released twice.
    silenced = silenced.with_for_update(skip_locked=True, of=SuppressedCondition)
    inhibited = inhibited.with_for_update(skip_locked=True, of=SuppressedCondition)
    due = list(journal.session.scalars(silenced.order_by(SuppressedCondition.id)))
    rows = journal.session.execute(inhibited.order_by(SuppressedCondition.id))
    for row, root in rows:
        left = root.resolved_at or root.closed_at or now
        if now >= left + policies.for_site(row.site).inhibit.release_after:
            due.append(row)
    views: list[TicketView] = []
    for row in due:
        views.extend(reevaluate(journal, row, policies.for_site(row.site)))
    _mark_silences_released(journal)
    return views


def next_release(session: Session, policies: Policies, now: datetime) -> datetime | None:
    """The earliest time ``release`` has work: a window with held conditions ends, or a root
    ticket's release delay runs out."""
    times: list[datetime] = []
    ends = session.scalar(
        select(func.min(Silence.ends_at))
        .join(SuppressedCondition, SuppressedCondition.silence_id == Silence.id)
        .where(SuppressedCondition.state == SuppressionState.SILENCED.value)
    )
    if ends is not None:
        times.append(ends)
    roots = session.execute(
        select(SuppressedCondition.site, Ticket.resolved_at, Ticket.closed_at)
        .join(Ticket, SuppressedCondition.root_ticket_id == Ticket.id)
        .where(
            SuppressedCondition.state == SuppressionState.INHIBITED.value,
            Ticket.status.not_in(_ACTIVE),
        )
    )
    for site, resolved, closed in roots:
        left = resolved or closed or now
        times.append(left + policies.for_site(site).inhibit.release_after)
    return min(times, default=None)


def reevaluate(
    journal: Journal, row: SuppressedCondition, policy: SitePolicy
) -> Sequence[TicketView]:
    decision = decode(row.decision, at=journal.now.timestamp())
    silence = covering_silence(journal, decision)
    if silence is not None:
        row.state, row.silence_id, row.root_ticket_id = (
            SuppressionState.SILENCED.value,
            silence.id,
            None,
        )
        return []
    root = inhibiting_root(journal, decision, policy.inhibit)
    if root is not None:
        return _link(journal, decision, root)
    cover = (
        {"silence": row.silence_id}
        if row.silence_id is not None
        else {"root": _number(journal, row.root_ticket_id)}
    )
    evidence = {
        **decision.evidence,
        "suppressed": {"state": row.state, "since": iso(row.first_at.timestamp()), **cover},
    }
    opened = changes.fire(journal, _with_evidence(decision, evidence), policy.sla)
    _released(journal, row, opened)
    return [opened]


def _number(journal: Journal, ticket_id: int | None) -> str | None:
    if ticket_id is None:
        return None
    return journal.session.scalars(select(Ticket.number).where(Ticket.id == ticket_id)).one()


def _mark_silences_released(journal: Journal) -> None:
    query = select(Silence).where(Silence.ends_at <= journal.now, Silence.released_at.is_(None))
    for silence in journal.session.scalars(query):
        silence.released_at = journal.now


def encode(decision: Decision) -> dict[str, Any]:
    return {
        "rule": decision.rule,
        "site": decision.ref.site,
        "kind": decision.ref.kind.value,
        "device": decision.ref.device,
        "at": decision.at,
        "priority": decision.priority.value,
        "category": decision.category.value,
        "title": decision.title,
        "description": decision.description,
        "dedup_key": decision.dedup_key,
        "evidence": decision.evidence,
        "building": decision.building,
        "location": decision.location,
        "auto_resolve": decision.auto_resolve,
    }


def decode(data: dict[str, Any], *, at: float) -> Decision:
    return Decision(
        action=Action.FIRE,
        rule=str(data["rule"]),
        ref=DeviceRef(str(data["site"]), Kind(data["kind"]), str(data["device"])),
        at=at,
        priority=Priority(data["priority"]),
        category=Category(data["category"]),
        title=str(data["title"]),
        description=str(data["description"]),
        dedup_key=str(data["dedup_key"]),
        evidence=dict(data.get("evidence") or {}),
        building=data.get("building"),
        location=data.get("location"),
        auto_resolve=bool(data.get("auto_resolve", False)),
    )


def _with_evidence(decision: Decision, evidence: dict[str, Any]) -> Decision:
    return replace(decision, evidence=evidence)
