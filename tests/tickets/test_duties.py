"""What the clock owes a ticket, as a pure function of a snapshot and the time."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.decision import Priority
from tickets.duties import (
    Breach,
    DailyReportDue,
    Escalation,
    Plan,
    ProgressDue,
    Step,
    Watch,
    due,
)
from tickets.lifecycle import Status
from tickets.policy import (
    Contact,
    EscalationPolicy,
    InhibitPolicy,
    ReminderPolicy,
    Role,
    SitePolicy,
)
from tickets.schemas import Source
from tickets.sla import SlaPolicy, deadlines

POLICY = SitePolicy()
M = timedelta(minutes=1)
H = timedelta(hours=1)
T0 = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai


def ticket(
    priority: Priority = Priority.GENERAL,
    rule: str | None = "extinguisher.low_pressure",
    *,
    opened: datetime = T0,
    source: Source = Source.RULE,
    kind: str | None = "extinguisher",
    **changes: object,
) -> Watch:
    due_by = deadlines(SlaPolicy(), priority, rule, opened)
    watch = Watch(
        priority=priority,
        status=Status.OPEN,
        source=source,
        rule=rule,
        kind=kind,
        opened_at=opened,
        respond_by=due_by.respond_by,
        onsite_by=due_by.onsite_by,
        plan_by=due_by.plan_by,
        resolve_by=due_by.resolve_by,
    )
    return replace(watch, **changes)  # type: ignore[arg-type]


def kinds(plan: Plan) -> list[object]:
    return list(plan.duties)


def test_nothing_is_due_before_the_first_deadline() -> None:
    plan = due(ticket(), T0 + 3 * H, POLICY)
    assert plan == Plan((), T0 + 4 * H)  # respond and plan are both due at 4 h


def test_a_missed_deadline_is_a_breach_and_level_1() -> None:
    plan = due(ticket(), T0 + 4 * H + M, POLICY)
    assert plan.duties == (
        Breach(Step.RESPOND, T0 + 4 * H),
        Breach(Step.PLAN, T0 + 4 * H),
        Escalation(1, (Role.DUTY_MANAGER,), "respond"),
    )
    # Level 2 is next: 4 h (general) after the breach, unless the steps get done.
    assert plan.next_at == T0 + 8 * H


def test_level_2_when_the_missed_step_stays_undone() -> None:
    w = ticket(escalation_level=1, breached=frozenset({Step.RESPOND, Step.PLAN}))
    assert due(w, T0 + 8 * H - M, POLICY).duties == ()
    assert due(w, T0 + 8 * H, POLICY).duties == (Escalation(2, (Role.MANAGEMENT,), "respond"),)


def test_level_2_for_a_lift_reaches_the_maintenance_company() -> None:
    w = ticket(
        Priority.EMERGENCY,
        "elevator.entrapment",
        kind="elevator",
        escalation_level=1,
        breached=frozenset({Step.RESPOND}),
    )
    # Respond at 15 min, level 2 15 min later; on site (30 min) is missed at the same time.
    assert due(w, T0 + 31 * M, POLICY).duties == (
        Breach(Step.ONSITE, T0 + 30 * M),
        Escalation(2, (Role.MAINTENANCE_COMPANY, Role.MANAGEMENT), "respond"),
    )


def test_a_late_step_that_gets_done_does_not_reach_level_2() -> None:
    w = ticket(
        escalation_level=1,
        breached=frozenset({Step.RESPOND, Step.PLAN}),
        status=Status.ACKNOWLEDGED,
        acknowledged_at=T0 + 5 * H,
        planned_at=T0 + 5 * H,
    )
    plan = due(w, T0 + 9 * H, POLICY)
    assert plan.duties == ()
    assert plan.next_at == T0 + 24 * H  # on site and resolve, both at 24 h


@pytest.mark.parametrize(
    ("step", "field"),
    [
        (Step.RESPOND, "acknowledged_at"),
        (Step.ONSITE, "onsite_at"),
        (Step.PLAN, "planned_at"),
    ],
)
def test_resolving_completes_the_earlier_steps(step: Step, field: str) -> None:
    w = ticket(status=Status.RESOLVED, resolved_at=T0 + M, follow_up_by=T0 + 49 * H)
    assert getattr(w, field) is None
    assert due(w, T0 + 30 * H, POLICY) == Plan((), None)  # rule ticket: no follow-up call


def test_a_complaint_owes_its_follow_up_call() -> None:
    w = ticket(
        rule=None,
        source=Source.MANUAL,
        kind=None,
        status=Status.RESOLVED,
        acknowledged_at=T0 + M,
        resolved_at=T0 + H,
        follow_up_by=T0 + 49 * H,
    )
    assert due(w, T0 + 48 * H, POLICY) == Plan((), T0 + 49 * H)
    assert due(w, T0 + 49 * H + M, POLICY).duties == (
        Breach(Step.FOLLOW_UP, T0 + 49 * H),
        Escalation(1, (Role.DUTY_MANAGER,), "follow_up"),
    )
    done = replace(w, followed_up_at=T0 + 30 * H)
    assert due(done, T0 + 60 * H, POLICY) == Plan((), None)


@pytest.mark.parametrize("status", [Status.CLOSED, Status.CANCELLED])
def test_a_ticket_out_of_service_owes_nothing(status: Status) -> None:
    assert due(ticket(status=status), T0 + 100 * H, POLICY) == Plan((), None)


def test_an_emergency_at_night_goes_to_the_duty_manager_at_once() -> None:
    night = datetime(2026, 5, 4, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
    w = ticket(Priority.EMERGENCY, "elevator.entrapment", kind="elevator", opened=night)
    assert due(w, night + M, POLICY).duties == (Escalation(1, (Role.DUTY_MANAGER,), "night"),)
    day = ticket(Priority.EMERGENCY, "elevator.entrapment", kind="elevator")
    assert due(day, T0 + M, POLICY).duties == ()
    general_at_night = ticket(opened=night)
    assert due(general_at_night, night + M, POLICY).duties == ()
    no_night = replace(POLICY, escalation=EscalationPolicy(night_start=None, night_end=None))
    assert due(w, night + M, no_night).duties == ()


def test_outages_get_an_hourly_progress_reminder_until_restored() -> None:
    w = ticket(
        Priority.EMERGENCY,
        "water.outage",
        kind="water_pressure",
        status=Status.IN_PROGRESS,
        acknowledged_at=T0 + 5 * M,
        onsite_at=T0 + 30 * M,
    )
    assert due(w, T0 + 59 * M, POLICY) == Plan((), T0 + H)
    first = due(w, T0 + 61 * M, POLICY)
    assert first.duties == (ProgressDue(T0 + H),)
    assert first.next_at == T0 + 2 * H
    reminded = replace(w, progress_reminded=T0 + H)
    assert due(reminded, T0 + 90 * M, POLICY).duties == ()
    assert due(reminded, T0 + 2 * H, POLICY).duties == (ProgressDue(T0 + 2 * H),)
    # An update moves the next reminder an hour past it.
    updated = replace(reminded, last_progress_at=T0 + 100 * M)
    assert due(updated, T0 + 150 * M, POLICY) == Plan((), T0 + 160 * M)
    # Restored: no more hourly reminders; still open, so the daily one (16:00) is next.
    restored = replace(w, condition_cleared_at=T0 + 50 * M)
    assert due(restored, T0 + 5 * H, POLICY) == Plan((), T0 + 6 * H)


def test_entrapments_are_not_outages() -> None:
    w = ticket(
        Priority.EMERGENCY,
        "elevator.entrapment",
        kind="elevator",
        status=Status.IN_PROGRESS,
        acknowledged_at=T0 + M,
        onsite_at=T0 + 2 * M,
    )
    assert due(w, T0 + 3 * H, POLICY).duties == ()


def test_emergency_complaints_report_progress_too() -> None:
    w = ticket(
        Priority.EMERGENCY,
        None,
        source=Source.MANUAL,
        kind=None,
        status=Status.ACKNOWLEDGED,
        acknowledged_at=T0 + M,
        onsite_at=T0 + 2 * M,
    )
    assert due(w, T0 + H + M, POLICY).duties == (ProgressDue(T0 + H),)


def test_multi_day_work_is_reminded_before_17_00_local_time() -> None:
    # Opened Monday 10:00 Shanghai; Monday itself is not multi-day.
    w = ticket(
        Priority.IMPORTANT,
        "water.burst",
        kind="water_pressure",
        status=Status.IN_PROGRESS,
        acknowledged_at=T0 + M,
        onsite_at=T0 + H,
        planned_at=T0 + H,
    )
    monday_16 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
    tuesday_16 = monday_16 + 24 * H
    assert due(w, monday_16 + M, POLICY).next_at == tuesday_16
    plan = due(w, tuesday_16 + M, POLICY)
    assert plan.duties == (DailyReportDue(date(2026, 5, 5), tuesday_16 + H),)
    assert plan.next_at == tuesday_16 + 24 * H
    reminded = replace(w, daily_reminded_on=date(2026, 5, 5))
    assert due(reminded, tuesday_16 + 2 * M, POLICY).duties == ()
    reported = replace(w, last_progress_at=tuesday_16 - 5 * H)  # Tuesday 11:00
    assert due(reported, tuesday_16 + M, POLICY).duties == ()
    # Past 17:00 the reminder would be too late to help: none.
    assert due(w, tuesday_16 + H + M, POLICY).duties == ()


def test_the_daily_reminder_follows_the_site_time_zone() -> None:
    berlin = replace(
        POLICY,
        timezone=__import__("zoneinfo").ZoneInfo("Europe/Berlin"),
        reminders=ReminderPolicy(daily_at=time(15, 30), daily_by=time(17, 0)),
    )
    opened = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)  # 10:00 in Berlin (CEST)
    w = ticket(
        Priority.IMPORTANT,
        "water.burst",
        kind="water_pressure",
        opened=opened,
        status=Status.ACKNOWLEDGED,
        acknowledged_at=opened + M,
        onsite_at=opened + H,
        planned_at=opened + H,
    )
    tuesday_1530 = datetime(2026, 5, 5, 13, 30, tzinfo=UTC)
    assert due(w, tuesday_1530 + M, berlin).duties == (
        DailyReportDue(date(2026, 5, 5), tuesday_1530 + 90 * M),
    )


def test_escalation_contacts_by_role() -> None:
    policy = EscalationPolicy(
        contacts=(
            Contact(Role.DUTY_MANAGER, "Wang"),
            Contact(Role.MAINTENANCE_COMPANY, "Otis"),
            Contact(Role.MANAGEMENT, "Chen"),
        )
    )
    assert [c.name for c in policy.contacts_for(policy.roles(1, "elevator"))] == ["Wang"]
    assert [c.name for c in policy.contacts_for(policy.roles(2, "elevator"))] == ["Otis", "Chen"]
    assert [c.name for c in policy.contacts_for(policy.roles(2, "water_pressure"))] == ["Chen"]


def test_life_safety_rules_cannot_be_inhibited() -> None:
    with pytest.raises(ValueError, match="never inhibited"):
        InhibitPolicy(targets=frozenset({"elevator.door_open_while_moving"}))


@given(
    priority=st.sampled_from(list(Priority)),
    minutes=st.lists(st.integers(min_value=1, max_value=6000), min_size=1, max_size=12),
)
def test_the_sweep_converges(priority: Priority, minutes: list[int]) -> None:
    """Applying what ``due`` returns and asking again at the same time owes nothing more;
    the next time to look is always later; the level never goes down."""
    w = ticket(
        priority,
        "water.outage" if priority is Priority.EMERGENCY else None,
        kind="water_pressure",
        status=Status.ACKNOWLEDGED,
        acknowledged_at=T0 + 20 * M,
    )
    now = T0
    for step in sorted(minutes):
        now = T0 + step * M
        plan = due(w, now, POLICY)
        w = apply_plan(w, plan)
        again = due(w, now, POLICY)
        assert again.duties == ()
        assert again.next_at is None or again.next_at >= now
    assert w.escalation_level in (0, 1, 2)


def apply_plan(w: Watch, plan: Plan) -> Watch:
    for duty in plan.duties:
        if isinstance(duty, Breach):
            w = replace(w, breached=w.breached | {duty.step})
        elif isinstance(duty, Escalation):
            assert duty.level > w.escalation_level
            w = replace(w, escalation_level=duty.level)
        elif isinstance(duty, ProgressDue):
            w = replace(w, progress_reminded=duty.due)
        else:
            w = replace(w, daily_reminded_on=duty.on)
    return w
