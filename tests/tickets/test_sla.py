"""SLA deadlines (contract §4) as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rules.decision import Priority
from tickets.sla import (
    ENTRAPMENT_RULES,
    Deadlines,
    RuleOverride,
    SlaPolicy,
    Targets,
    deadlines,
    tightened,
)

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)


@pytest.mark.parametrize("rule", sorted(ENTRAPMENT_RULES))
def test_entrapment_respond_in_15_minutes_and_on_site_in_30(rule: str) -> None:
    due = deadlines(SlaPolicy(), Priority.EMERGENCY, rule, T0)
    assert due == Deadlines(
        respond_by=T0 + 15 * M, onsite_by=T0 + 30 * M, plan_by=None, resolve_by=None
    )


def test_other_emergencies_have_two_hours_on_site_and_hourly_progress() -> None:
    policy = SlaPolicy()
    due = deadlines(policy, Priority.EMERGENCY, "elevator.power_loss", T0)
    assert (due.respond_by, due.onsite_by) == (T0 + 15 * M, T0 + 2 * H)
    assert due.resolve_by is None
    assert policy.targets_for(Priority.EMERGENCY, "elevator.power_loss").progress_every == H


@pytest.mark.parametrize(
    ("priority", "expected"),
    [
        (Priority.IMPORTANT, (2 * H, 2 * H, 24 * H, 72 * H)),
        (Priority.GENERAL, (4 * H, 24 * H, 4 * H, 24 * H)),
    ],
)
def test_important_and_general_targets(
    priority: Priority, expected: tuple[timedelta, timedelta, timedelta, timedelta]
) -> None:
    respond, onsite, plan, resolve = expected
    for rule in (None, "water_pressure.low", "elevator.entrapment"):
        due = deadlines(SlaPolicy(), priority, rule, T0)
        # The entrapment override only shortens the on-site time.
        expected_onsite = 30 * M if rule == "elevator.entrapment" else onsite
        assert due == Deadlines(T0 + respond, T0 + expected_onsite, T0 + plan, T0 + resolve)


def test_follow_up_call_is_due_48_hours_after_resolution() -> None:
    assert SlaPolicy().follow_up == 48 * H


def test_a_site_policy_overrides_priorities_and_rules() -> None:
    policy = SlaPolicy(
        targets={
            Priority.EMERGENCY: Targets(respond=10 * M, onsite=H),
            Priority.IMPORTANT: Targets(respond=H, onsite=H, plan=8 * H, resolve=48 * H),
            Priority.GENERAL: Targets(respond=2 * H, onsite=8 * H),
        },
        rule_overrides={"water_pressure.burst": RuleOverride(respond=5 * M, resolve=6 * H)},
    )
    assert deadlines(policy, Priority.GENERAL, None, T0) == Deadlines(
        T0 + 2 * H, T0 + 8 * H, None, None
    )
    assert deadlines(policy, Priority.IMPORTANT, "water_pressure.burst", T0) == Deadlines(
        T0 + 5 * M, T0 + H, T0 + 8 * H, T0 + 6 * H
    )
    # Overrides replace the defaults: entrapment is no longer special in this policy.
    assert deadlines(policy, Priority.EMERGENCY, "elevator.entrapment", T0).onsite_by == T0 + H


def test_a_policy_must_cover_every_priority() -> None:
    with pytest.raises(ValueError, match="general"):
        SlaPolicy(targets={Priority.EMERGENCY: Targets(respond=M, onsite=M)})


def test_a_priority_rise_only_ever_shortens_deadlines() -> None:
    policy = SlaPolicy()
    opened = deadlines(policy, Priority.GENERAL, None, T0)
    raised_at = T0 + 3 * H
    raised = deadlines(policy, Priority.EMERGENCY, "elevator.entrapment", raised_at)
    new = tightened(opened, raised, responded=False)
    assert opened.respond_by == T0 + 4 * H
    assert new.respond_by == raised_at + 15 * M  # earlier than the general promise
    assert new.onsite_by == raised_at + 30 * M
    # Emergencies have no plan or resolve deadline: the earlier promise still stands.
    assert (new.plan_by, new.resolve_by) == (opened.plan_by, opened.resolve_by)


def test_a_priority_rise_keeps_the_respond_deadline_already_met() -> None:
    opened = deadlines(SlaPolicy(), Priority.GENERAL, None, T0)
    raised = deadlines(SlaPolicy(), Priority.EMERGENCY, None, T0 + H)
    assert tightened(opened, raised, responded=True).respond_by == opened.respond_by
    assert tightened(opened, raised, responded=False).respond_by == T0 + H + 15 * M
