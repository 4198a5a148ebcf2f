"""The monthly review (seed 二(四), 三): SLA compliance per priority and step, time to
acknowledge and resolve, frequent problems, repeated failures, patrol and inspection.

The month is the site's calendar month in its time zone; the tickets are those opened in it.
Every query filters ``site = ? AND opened_at >= ? AND opened_at < ?`` and is answered from
``ix_tickets_site_opened_at`` (on PostgreSQL from the index alone: it INCLUDEs the columns
aggregated here), so the cost follows the month's tickets, not the table's. Aggregation runs
in SQL; only the few emergency outage tickets' progress updates are read row by row.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, false, func, or_, select, true
from sqlalchemy.orm import Session

from rules.decision import Priority
from tickets.duties import Step
from tickets.errors import InvalidRequest
from tickets.lifecycle import Status
from tickets.models import Ticket, TicketEvent
from tickets.policy import POWER_CUT_RULE, SitePolicy
from tickets.report_schema import (
    GREEN_AT,
    YELLOW_AT,
    Complaints,
    Compliance,
    Count,
    Durations,
    InspectionCompliance,
    MonthlyReport,
    PatrolCompliance,
    PriorityCompliance,
    RepeatedFailure,
    StepCompliance,
    TimeToAct,
    colour,
    percent,
)
from tickets.schemas import Source

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
TOP = 10
NOT_FAILURES = (
    "device.",
    "sensor.",
    "patrol.",
    "elevator.maintenance_overdue",
    "elevator.inspection_due",
    "elevator.alarm_follow_up",
    "elevator.repeated_failure",
    "extinguisher.inspection_overdue",
    "elevator.power_loss",
    POWER_CUT_RULE,
)
"""Tickets that are not a failure of the device: sensor health, calendars, patrol, and power
cuts (the supply failed, not the lift)."""
MISSED_ROUND_RULES = ("patrol.missed_checkpoint", "patrol.missed_repeatedly")
INSPECTION_RULES = {
    "elevator": ("elevator.maintenance_overdue", "elevator.inspection_due"),
    "extinguisher": ("extinguisher.inspection_overdue",),
}
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Fleet:
    """What the site file says exists, for the compliance rates tickets alone cannot give."""

    patrol_intervals_s: Sequence[float] = ()
    """One entry per key-area checkpoint: its patrol interval."""
    devices: dict[str, int] = field(default_factory=dict)
    """Registered devices per kind."""
    known: bool = False


@dataclass(frozen=True, slots=True)
class Window:
    site: str
    start: datetime
    end: datetime
    as_of: datetime

    def where(self) -> list[ColumnElement[bool]]:
        return [
            Ticket.site == self.site,
            Ticket.opened_at >= self.start,
            Ticket.opened_at < self.end,
        ]


def month_window(month: str, policy: SitePolicy) -> tuple[datetime, datetime]:
    found = MONTH.match(month)
    if found is None:
        raise InvalidRequest(f"month must be YYYY-MM, got {month!r}")
    year, number = int(found.group(1)), int(found.group(2))
    if not 1970 <= year <= 9998:
        raise InvalidRequest(f"month {month} is out of range")
    tz = policy.timezone
    start = datetime(year, number, 1, tzinfo=tz)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=tz)
    return start, end


def monthly_report(
    session: Session,
    *,
    site: str,
    month: str,
    policy: SitePolicy,
    now: datetime,
    fleet: Fleet | None = None,
    repeated_at: int = 3,
) -> MonthlyReport:
    start, end = month_window(month, policy)
    if start > now:
        raise InvalidRequest(f"{month} has not started yet at {site}")
    w = Window(site, start, end, now)
    fleet = fleet or Fleet()
    priorities, overall = _sla(session, w, policy)
    counts = _counts(session, w)
    return MonthlyReport(
        site=site,
        month=month,
        timezone=str(policy.timezone),
        period_start=start,
        period_end=end,
        as_of=now,
        thresholds={"green": GREEN_AT, "yellow": YELLOW_AT},
        opened=sum(counts["source"].values()),
        cancelled=counts["cancelled"].get(Status.CANCELLED.value, 0),
        by_priority=counts["priority"],
        by_source=counts["source"],
        sla_overall=overall,
        sla=priorities,
        times=_times(session, w),
        top_devices=_top(session, w, Ticket.device, Ticket.kind),
        top_rules=_top(session, w, Ticket.rule),
        top_categories=_top(session, w, Ticket.category),
        repeated_failures=_repeated(session, w, repeated_at),
        patrol=_patrol(session, w, fleet),
        inspection=_inspection(session, w, fleet),
        complaints=_complaints(session, w),
    )


# -- SLA compliance -------------------------------------------------------------------------


def _earliest(a: Any, b: Any) -> Any:
    return case((a.is_(None), b), (b.is_(None), a), (a < b, a), else_=b)


def _step_columns() -> dict[Step, tuple[Any, Any, ColumnElement[bool], Any]]:
    """step → (deadline, done, applies, missed-anyway): the SQL twin of
    ``duties.step_deadlines``. A complaint closed without its follow-up call missed it."""
    resolved = Ticket.resolved_at
    never: ColumnElement[bool] = false()
    return {
        Step.RESPOND: (
            Ticket.respond_by,
            _earliest(Ticket.acknowledged_at, resolved),
            true(),
            never,
        ),
        Step.ONSITE: (Ticket.onsite_by, _earliest(Ticket.onsite_at, resolved), true(), never),
        Step.PLAN: (
            Ticket.plan_by,
            _earliest(Ticket.planned_at, resolved),
            Ticket.plan_by.is_not(None),
            never,
        ),
        Step.RESOLVE: (Ticket.resolve_by, resolved, Ticket.resolve_by.is_not(None), never),
        Step.FOLLOW_UP: (
            Ticket.follow_up_by,
            Ticket.followed_up_at,
            and_(Ticket.source == Source.MANUAL.value, Ticket.follow_up_by.is_not(None)),
            Ticket.status == Status.CLOSED.value,
        ),
    }


def _sum(condition: ColumnElement[bool]) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _sla(
    session: Session, w: Window, policy: SitePolicy
) -> tuple[list[PriorityCompliance], Compliance]:
    columns: list[Any] = [Ticket.priority, func.count()]
    steps = _step_columns()
    for deadline, done, applies, missed_anyway in steps.values():
        late = and_(done.is_(None), or_(deadline < w.as_of, missed_anyway))
        columns += [
            _sum(and_(applies, done.is_not(None), done <= deadline)),
            _sum(and_(applies, or_(and_(done.is_not(None), done > deadline), late))),
            _sum(and_(applies, done.is_(None), deadline >= w.as_of, ~missed_anyway)),
        ]
    query = (
        select(*columns)
        .where(*w.where(), Ticket.status != Status.CANCELLED.value)
        .group_by(Ticket.priority)
    )
    found = {row[0]: row for row in session.execute(query)}
    progress = _progress(session, w, policy)
    result: list[PriorityCompliance] = []
    total = [0, 0, 0]
    for priority in Priority:
        row = found.get(priority.value)
        step_rows: list[StepCompliance] = []
        for i, step in enumerate(steps):
            met, missed, pending = (
                (int(row[2 + 3 * i + k] or 0) for k in range(3))
                if row
                else (
                    0,
                    0,
                    0,
                )
            )
            step_rows.append(_step(step, met, missed, pending))
        if priority is Priority.EMERGENCY:
            step_rows.append(_step(Step.PROGRESS, *progress))
        targets = policy.sla.targets[priority]
        shown = {
            Step.PLAN: targets.plan is not None,
            Step.RESOLVE: targets.resolve is not None,
            Step.PROGRESS: targets.progress_every is not None,
        }
        # The priority's own steps always (a stable shape), others only if some ticket had
        # them (a rule override adding a deadline).
        applicable = [
            s for s in step_rows if shown.get(Step(s.step), True) or s.met + s.missed + s.pending
        ]
        sums = [sum(getattr(s, k) for s in applicable) for k in ("met", "missed", "pending")]
        total = [a + b for a, b in zip(total, sums, strict=True)]
        result.append(
            PriorityCompliance(
                priority=priority.value,
                tickets=int(row[1]) if row else 0,
                overall=Compliance.of(*sums),
                steps=applicable,
            )
        )
    return result, Compliance.of(*total)


def _step(step: Step, met: int, missed: int, pending: int) -> StepCompliance:
    pct = percent(met, met + missed)
    return StepCompliance(
        step=step.value,
        met=met,
        missed=missed,
        pending=pending,
        compliance_pct=pct,
        colour=colour(pct),
    )


def _progress(session: Session, w: Window, policy: SitePolicy) -> tuple[int, int, int]:
    """Emergency outages: met when no gap between the opening, each progress update and the
    restoration was longer than the progress interval."""
    every = policy.sla.targets[Priority.EMERGENCY].progress_every
    if every is None:
        return 0, 0, 0
    query = select(
        Ticket.id, Ticket.opened_at, Ticket.condition_cleared_at, Ticket.resolved_at
    ).where(
        *w.where(),
        Ticket.priority == Priority.EMERGENCY.value,
        Ticket.status != Status.CANCELLED.value,
        or_(
            Ticket.source == Source.MANUAL.value,
            Ticket.rule.in_(sorted(policy.reminders.outage_rules)),
        ),
    )
    tickets = session.execute(query).all()
    updates: dict[int, list[datetime]] = {}
    ids = [t[0] for t in tickets]
    for i in range(0, len(ids), _CHUNK):
        rows = session.execute(
            select(TicketEvent.ticket_id, TicketEvent.at).where(
                TicketEvent.ticket_id.in_(ids[i : i + _CHUNK]), TicketEvent.action == "progress"
            )
        )
        for ticket_id, at in rows:
            updates.setdefault(ticket_id, []).append(at)
    met = missed = pending = 0
    for ticket_id, opened, cleared, resolved in tickets:
        restored = min((t for t in (cleared, resolved) if t is not None), default=None)
        end = restored or w.as_of
        points = [opened, *sorted(t for t in updates.get(ticket_id, []) if t < end), end]
        worst = max(b - a for a, b in itertools.pairwise(points))
        if worst > every:
            missed += 1
        elif restored is None:
            pending += 1
        else:
            met += 1
    return met, missed, pending


# -- times, counts, top problems ------------------------------------------------------------


def _epoch(session: Session, column: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", column)
    return (func.julianday(column) - 2440587.5) * 86400.0


def _times(session: Session, w: Window) -> list[TimeToAct]:
    opened = _epoch(session, Ticket.opened_at)
    spans = {
        "acknowledge": (Ticket.acknowledged_at, _epoch(session, Ticket.acknowledged_at) - opened),
        "resolve": (Ticket.resolved_at, _epoch(session, Ticket.resolved_at) - opened),
    }
    out: list[TimeToAct] = []
    for scope in ["all", *(p.value for p in Priority)]:
        found: dict[str, Durations] = {}
        for name, (column, span) in spans.items():
            where = [*w.where(), column.is_not(None), Ticket.status != Status.CANCELLED.value]
            if scope != "all":
                where.append(Ticket.priority == scope)
            count, mean = session.execute(select(func.count(), func.avg(span)).where(*where)).one()
            p90 = _p90(session, span, where, int(count)) if count else None
            found[name] = Durations(
                count=int(count),
                mean_s=None if mean is None else round(float(mean), 1),
                p90_s=None if p90 is None else round(p90, 1),
            )
        out.append(TimeToAct(scope=scope, **found))
    return out


def _p90(session: Session, span: Any, where: list[ColumnElement[bool]], count: int) -> float:
    """Nearest rank (PostgreSQL's ``percentile_disc``): the ceil(0.9 n)-th smallest."""
    if session.get_bind().dialect.name == "postgresql":
        query = select(func.percentile_disc(0.9).within_group(span)).where(*where)
        return float(session.execute(query).scalar_one())
    rank = math.ceil(0.9 * count)
    nth: Select[Any] = select(span).where(*where).order_by(span).offset(rank - 1).limit(1)
    return float(session.execute(nth).scalar_one())


def _counts(session: Session, w: Window) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for name, column in (
        ("priority", Ticket.priority),
        ("source", Ticket.source),
        ("cancelled", Ticket.status),
    ):
        rows = session.execute(select(column, func.count()).where(*w.where()).group_by(column))
        out[name] = {str(k): int(n) for k, n in rows}
    return out


def _top(session: Session, w: Window, column: Any, kind: Any = None) -> list[Count]:
    n = func.count().label("n")
    keys = [column] if kind is None else [column, kind]
    query = (
        select(*keys, n)
        .where(*w.where(), column.is_not(None), Ticket.status != Status.CANCELLED.value)
        .group_by(*keys)
        .order_by(n.desc(), *keys)
        .limit(TOP)
    )
    return [
        Count(key=str(row[0]), tickets=int(row[-1]), kind=row[1] if kind is not None else None)
        for row in session.execute(query)
    ]


def _failure(w: Window) -> list[ColumnElement[bool]]:
    return [
        *w.where(),
        Ticket.source == Source.RULE.value,
        Ticket.device.is_not(None),
        Ticket.status != Status.CANCELLED.value,
        *(~Ticket.rule.startswith(prefix) for prefix in NOT_FAILURES),
    ]


def _repeated(session: Session, w: Window, at: int) -> list[RepeatedFailure]:
    """Devices that failed ``at`` or more times in the month (seed: a lift failing 3 times a
    month calls for a review of its maintenance)."""
    rows = session.execute(
        select(Ticket.device, Ticket.kind, Ticket.rule, func.count())
        .where(*_failure(w))
        .group_by(Ticket.device, Ticket.kind, Ticket.rule)
    )
    by_device: dict[tuple[str, str | None], dict[str, int]] = {}
    for device, kind, rule, n in rows:
        by_device.setdefault((device, kind), {})[rule] = int(n)
    found = [
        RepeatedFailure(device=d, kind=k, failures=sum(r.values()), rules=dict(sorted(r.items())))
        for (d, k), r in by_device.items()
        if sum(r.values()) >= at
    ]
    return sorted(found, key=lambda f: (-f.failures, f.device))


# -- patrol, inspection, complaints ---------------------------------------------------------


def _patrol(session: Session, w: Window, fleet: Fleet) -> PatrolCompliance:
    rows = session.execute(
        select(Ticket.rule, func.count(), func.sum(Ticket.occurrences))
        .where(*w.where(), Ticket.rule.startswith("patrol."))
        .group_by(Ticket.rule)
    )
    tickets: dict[str, tuple[int, int]] = {r: (int(n), int(o or 0)) for r, n, o in rows}
    missed_rounds = sum(tickets.get(r, (0, 0))[1] for r in MISSED_ROUND_RULES)
    expected = None
    if fleet.known:
        seconds = (w.end - w.start).total_seconds()
        expected = sum(int(seconds // interval) for interval in fleet.patrol_intervals_s)
    pct = None if not expected else round(100.0 * max(expected - missed_rounds, 0) / expected, 1)
    return PatrolCompliance(
        key_area_checkpoints=len(fleet.patrol_intervals_s) if fleet.known else None,
        expected_rounds=expected,
        missed_rounds=missed_rounds,
        missed_checkpoint_tickets=sum(tickets.get(r, (0, 0))[0] for r in MISSED_ROUND_RULES),
        shift_miss_tickets=tickets.get("patrol.shift_misses", (0, 0))[0],
        guard_inactive_tickets=tickets.get("patrol.guard_inactive", (0, 0))[0],
        compliance_pct=pct,
        colour=colour(pct),
    )


def _inspection(session: Session, w: Window, fleet: Fleet) -> list[InspectionCompliance]:
    out = []
    for kind, rules in INSPECTION_RULES.items():
        # Overdue at some time in the month: opened before its end, not resolved before its
        # start. Reads the (rule, id) index: few tickets have these rules.
        query = (
            select(Ticket.device)
            .where(
                Ticket.site == w.site,
                Ticket.rule.in_(rules),
                Ticket.opened_at < w.end,
                Ticket.status != Status.CANCELLED.value,
                or_(Ticket.resolved_at.is_(None), Ticket.resolved_at >= w.start),
                Ticket.device.is_not(None),
            )
            .distinct()
        )
        overdue = sorted(str(d) for d in session.scalars(query))
        devices = fleet.devices.get(kind) if fleet.known else None
        pct = None if not devices else round(100.0 * max(devices - len(overdue), 0) / devices, 1)
        out.append(
            InspectionCompliance(
                kind=kind,
                devices=devices,
                overdue_devices=overdue,
                compliance_pct=pct,
                colour=colour(pct),
            )
        )
    return out


def _complaints(session: Session, w: Window) -> Complaints:
    manual = [*w.where(), Ticket.source == Source.MANUAL.value, Ticket.rule.is_(None)]
    channel = Ticket.reporter["channel"].as_string()
    by_channel = {
        str(k): int(n)
        for k, n in session.execute(
            select(channel, func.count()).where(*manual).group_by(channel).order_by(channel)
        )
    }
    by_category = {
        str(k): int(n)
        for k, n in session.execute(
            select(Ticket.category, func.count())
            .where(*manual)
            .group_by(Ticket.category)
            .order_by(Ticket.category)
        )
    }
    linked, follow_ups, satisfaction = session.execute(
        select(
            _sum(Ticket.parent_id.is_not(None)),
            _sum(Ticket.followed_up_at.is_not(None)),
            func.avg(Ticket.satisfaction),
        ).where(*manual)
    ).one()
    return Complaints(
        tickets=sum(by_category.values()),
        by_channel=by_channel,
        by_category=by_category,
        linked_to_sensor_tickets=int(linked or 0),
        follow_ups=int(follow_ups or 0),
        satisfaction_mean=None if satisfaction is None else round(float(satisfaction), 2),
    )
