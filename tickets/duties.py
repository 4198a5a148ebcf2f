"""What a ticket needs from the clock: missed deadlines, escalation, reminders.

``due(watch, now, policy)`` is a pure function of a ticket snapshot and the time, in the
Alertmanager style; the sweep (``tickets.sweep``) stores what it returns and asks again at
``next_at``. The same step definitions feed the monthly report, so what escalates and what the
report counts as missed cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from rules.decision import Priority
from tickets.lifecycle import ACTIVE_STATUSES, Status
from tickets.policy import Role, SitePolicy
from tickets.schemas import Source


class Step(StrEnum):
    """The standard's time limits, in the order a ticket meets them."""

    RESPOND = "respond"
    ONSITE = "onsite"
    PLAN = "plan"
    RESOLVE = "resolve"
    FOLLOW_UP = "follow_up"
    PROGRESS = "progress"
    """Hourly progress updates of an emergency outage until restored (report only)."""


@dataclass(frozen=True, slots=True)
class Watch:
    """The part of a ticket the duties read."""

    priority: Priority
    status: Status
    source: Source
    rule: str | None
    kind: str | None
    opened_at: datetime
    respond_by: datetime
    onsite_by: datetime
    plan_by: datetime | None = None
    resolve_by: datetime | None = None
    follow_up_by: datetime | None = None
    acknowledged_at: datetime | None = None
    onsite_at: datetime | None = None
    planned_at: datetime | None = None
    resolved_at: datetime | None = None
    followed_up_at: datetime | None = None
    condition_cleared_at: datetime | None = None
    escalation_level: int = 0
    last_progress_at: datetime | None = None
    breached: frozenset[Step] = frozenset()
    progress_reminded: datetime | None = None
    """The due time of the last hourly reminder sent."""
    daily_reminded_on: date | None = None


def _first(*times: datetime | None) -> datetime | None:
    present = [t for t in times if t is not None]
    return min(present) if present else None


def step_deadlines(w: Watch) -> dict[Step, tuple[datetime, datetime | None]]:
    """step → (deadline, when it was done). Resolving a ticket completes the steps before
    it (a fault fixed remotely needed nobody on site). Follow-up calls are for tickets with
    someone to call back: manual tickets."""
    steps: dict[Step, tuple[datetime, datetime | None]] = {
        Step.RESPOND: (w.respond_by, _first(w.acknowledged_at, w.resolved_at)),
        Step.ONSITE: (w.onsite_by, _first(w.onsite_at, w.resolved_at)),
    }
    if w.plan_by is not None:
        steps[Step.PLAN] = (w.plan_by, _first(w.planned_at, w.resolved_at))
    if w.resolve_by is not None:
        steps[Step.RESOLVE] = (w.resolve_by, w.resolved_at)
    if w.follow_up_by is not None and w.source is Source.MANUAL:
        steps[Step.FOLLOW_UP] = (w.follow_up_by, w.followed_up_at)
    return steps


def needs_progress_updates(w: Watch, policy: SitePolicy) -> bool:
    """Emergency outages (and emergencies people report: water or power out, a lift
    stuck) report progress every ``progress_every`` until restored."""
    every = policy.sla.targets_for(w.priority, w.rule).progress_every
    if every is None or w.priority is not Priority.EMERGENCY:
        return False
    return w.source is Source.MANUAL or (w.rule in policy.reminders.outage_rules)


def restored_at(w: Watch) -> datetime | None:
    return _first(w.condition_cleared_at, w.resolved_at)


@dataclass(frozen=True, slots=True)
class Breach:
    step: Step
    deadline: datetime


@dataclass(frozen=True, slots=True)
class Escalation:
    level: int
    roles: tuple[Role, ...]
    reason: str
    """The missed step (``respond``...) or ``night`` (an emergency at night)."""


@dataclass(frozen=True, slots=True)
class ProgressDue:
    due: datetime


@dataclass(frozen=True, slots=True)
class DailyReportDue:
    on: date
    by: datetime


Duty = Breach | Escalation | ProgressDue | DailyReportDue


@dataclass(frozen=True, slots=True)
class Plan:
    duties: tuple[Duty, ...]
    next_at: datetime | None
    """When to look at this ticket again (``None``: never, unless it changes)."""


def due(w: Watch, now: datetime, policy: SitePolicy) -> Plan:
    steps = step_deadlines(w)
    following_up = w.status is Status.RESOLVED and Step.FOLLOW_UP in steps
    if w.status not in ACTIVE_STATUSES and not following_up:
        return Plan((), None)
    wake: list[datetime] = []
    duties: list[Duty] = []
    open_breaches: list[tuple[Step, datetime]] = []
    breached = set(w.breached)
    for step, (deadline, done) in steps.items():
        if done is not None:
            continue
        if now > deadline:
            open_breaches.append((step, deadline))
            if step not in breached:
                breached.add(step)
                duties.append(Breach(step, deadline))
        else:
            wake.append(deadline)
    escalation = _escalation(w, now, policy, open_breaches, breached, wake)
    if escalation is not None:
        duties.append(escalation)
    if w.status in ACTIVE_STATUSES:
        # An outage reports every hour until restored; the daily report is for the rest.
        hourly = needs_progress_updates(w, policy) and restored_at(w) is None
        reminder = _progress(w, now, policy, wake) if hourly else _daily(w, now, policy, wake)
        if reminder is not None:
            duties.append(reminder)
    return Plan(tuple(duties), min(wake) if wake else None)


def _escalation(
    w: Watch,
    now: datetime,
    policy: SitePolicy,
    open_breaches: list[tuple[Step, datetime]],
    breached: set[Step],
    wake: list[datetime],
) -> Escalation | None:
    level, reason = 0, ""
    night = (
        w.priority is Priority.EMERGENCY
        and w.status in ACTIVE_STATUSES
        and policy.escalation.is_night(w.opened_at.astimezone(policy.timezone).time())
    )
    if night:
        level, reason = 1, "night"
    if breached:
        first = next(s for s in Step if s in breached)
        level, reason = 1, first.value
    after = policy.escalation.level2_after[w.priority]
    for step, deadline in sorted(open_breaches, key=lambda b: b[1]):
        if now >= deadline + after:
            level, reason = 2, step.value
            break
        if w.escalation_level < 2:
            wake.append(deadline + after)
    if level <= w.escalation_level:
        return None
    return Escalation(level, policy.escalation.roles(level, w.kind), reason)


def _progress(
    w: Watch, now: datetime, policy: SitePolicy, wake: list[datetime]
) -> ProgressDue | None:
    every = policy.sla.targets_for(w.priority, w.rule).progress_every
    assert every is not None  # needs_progress_updates checked it
    base = max(w.opened_at, w.last_progress_at or w.opened_at)
    periods = int((now - base) / every)
    wake.append(base + (periods + 1) * every)
    if periods < 1:
        return None
    due_at = base + periods * every
    if w.progress_reminded is not None and w.progress_reminded >= due_at:
        return None
    return ProgressDue(due_at)


def _daily(
    w: Watch, now: datetime, policy: SitePolicy, wake: list[datetime]
) -> DailyReportDue | None:
    """Work that has run past the day it was opened on reports by ``daily_by`` each day."""
    if w.status not in (Status.ACKNOWLEDGED, Status.IN_PROGRESS):
        return None
    tz, reminders = policy.timezone, policy.reminders
    local_now = now.astimezone(tz)
    today = local_now.date()
    remind_at = datetime.combine(today, reminders.daily_at, tz)
    report_by = datetime.combine(today, reminders.daily_by, tz)
    tomorrow = datetime.combine(today + timedelta(days=1), reminders.daily_at, tz)
    if now < remind_at:
        wake.append(remind_at)
        return None
    wake.append(tomorrow)
    multi_day = w.opened_at.astimezone(tz).date() < today
    reported_today = (
        w.last_progress_at is not None and w.last_progress_at.astimezone(tz).date() == today
    )
    if not multi_day or reported_today or now >= report_by or w.daily_reminded_on == today:
        return None
    return DailyReportDue(today, report_by)
