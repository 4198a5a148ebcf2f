"""SLA deadlines (contract §4): pure functions of a policy, a priority, a rule and a time.

Defaults come from the property-service standard the project is seeded with; a site may
configure its own ``SlaPolicy``. Deadlines are computed once, when a ticket opens (or its
priority rises), and stored on the ticket so reports measure against what was promised then.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from rules.decision import Priority


@dataclass(frozen=True, slots=True)
class Targets:
    """How long each stage may take after a ticket opens; ``None`` = no such deadline."""

    respond: timedelta
    onsite: timedelta
    plan: timedelta | None = None
    resolve: timedelta | None = None
    progress_every: timedelta | None = None
    """Emergencies have no resolve deadline; instead someone reports progress this often."""


@dataclass(frozen=True, slots=True)
class RuleOverride:
    """Per-rule changes to the priority's targets; ``None`` keeps the priority's value."""

    respond: timedelta | None = None
    onsite: timedelta | None = None
    plan: timedelta | None = None
    resolve: timedelta | None = None


ENTRAPMENT_RULES = frozenset(
    {"elevator.entrapment", "elevator.entrapment_at_landing", "elevator.alarm_button"}
)
"""A person may be trapped: the maintenance company must be on site within 30 minutes."""

DEFAULT_TARGETS: Mapping[Priority, Targets] = MappingProxyType(
    {
        Priority.EMERGENCY: Targets(
            respond=timedelta(minutes=15),
            onsite=timedelta(hours=2),
            progress_every=timedelta(hours=1),
        ),
        Priority.IMPORTANT: Targets(
            respond=timedelta(hours=2),
            onsite=timedelta(hours=2),
            plan=timedelta(hours=24),
            resolve=timedelta(hours=72),
        ),
        Priority.GENERAL: Targets(
            respond=timedelta(hours=4),
            onsite=timedelta(hours=24),
            plan=timedelta(hours=4),
            resolve=timedelta(hours=24),
        ),
    }
)

DEFAULT_OVERRIDES: Mapping[str, RuleOverride] = MappingProxyType(
    {rule: RuleOverride(onsite=timedelta(minutes=30)) for rule in sorted(ENTRAPMENT_RULES)}
)

DEFAULT_FOLLOW_UP = timedelta(hours=48)


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    targets: Mapping[Priority, Targets] = field(default_factory=lambda: DEFAULT_TARGETS)
    rule_overrides: Mapping[str, RuleOverride] = field(default_factory=lambda: DEFAULT_OVERRIDES)
    follow_up: timedelta = DEFAULT_FOLLOW_UP
    """The follow-up call with the owner is due this long after resolution."""

    def __post_init__(self) -> None:
        missing = [p.value for p in Priority if p not in self.targets]
        if missing:
            raise ValueError(f"SLA policy has no targets for priority {', '.join(missing)}")

    def targets_for(self, priority: Priority, rule: str | None) -> Targets:
        base = self.targets[priority]
        override = self.rule_overrides.get(rule) if rule else None
        if override is None:
            return base
        return Targets(
            respond=override.respond or base.respond,
            onsite=override.onsite or base.onsite,
            plan=override.plan or base.plan,
            resolve=override.resolve or base.resolve,
            progress_every=base.progress_every,
        )


@dataclass(frozen=True, slots=True)
class Deadlines:
    respond_by: datetime
    onsite_by: datetime
    plan_by: datetime | None
    resolve_by: datetime | None


def deadlines(
    policy: SlaPolicy, priority: Priority, rule: str | None, opened_at: datetime
) -> Deadlines:
    """Deadlines for a ticket of ``priority`` raised by ``rule`` (None: manual) at ``opened_at``."""
    targets = policy.targets_for(priority, rule)
    return Deadlines(
        respond_by=opened_at + targets.respond,
        onsite_by=opened_at + targets.onsite,
        plan_by=None if targets.plan is None else opened_at + targets.plan,
        resolve_by=None if targets.resolve is None else opened_at + targets.resolve,
    )


def tightened(current: Deadlines, raised: Deadlines, *, responded: bool) -> Deadlines:
    """Deadlines after a priority rise: each the earlier of the two, so a rise never gives
    anyone more time. A response already given keeps its deadline, so the SLA report still
    judges it against the promise in force when it was made."""
    return Deadlines(
        respond_by=current.respond_by if responded else min(current.respond_by, raised.respond_by),
        onsite_by=min(current.onsite_by, raised.onsite_by),
        plan_by=_earlier(current.plan_by, raised.plan_by),
        resolve_by=_earlier(current.resolve_by, raised.resolve_by),
    )


def _earlier(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return min(a, b)
