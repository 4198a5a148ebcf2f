"""The ticket sections of the site file (``sla:``, ``escalation:``, ``inhibit:`` per site),
validated strictly, and the ``Policies`` built from them.

Durations are written ``90s``, ``15m``, ``2h``, ``3d`` (or a number of seconds). Anything left
out keeps the standard's default, so ``sla: {general: {resolve: 48h}}`` changes one number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import time, timedelta
from typing import Annotated, Any, Protocol
from zoneinfo import ZoneInfo

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from rules.decision import Priority
from tickets.policy import (
    DEFAULT_LEVEL2_AFTER,
    Contact,
    EscalationPolicy,
    InhibitPolicy,
    Policies,
    ReminderPolicy,
    Role,
    SitePolicy,
)
from tickets.sla import DEFAULT_OVERRIDES, DEFAULT_TARGETS, RuleOverride, SlaPolicy, Targets

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
RuleName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")]
HHMM = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


def _duration(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (found := _DURATION.match(value)):
        seconds = float(found.group(1)) * _UNITS[found.group(2)]
    elif isinstance(value, timedelta):
        return value
    else:
        raise ValueError(f"{value!r} is not a duration (write 90s, 15m, 2h or 3d)")
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return timedelta(seconds=seconds)


Duration = Annotated[timedelta, BeforeValidator(_duration)]


def _hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PriorityTargets(_Strict):
    respond: Duration | None = None
    onsite: Duration | None = None
    plan: Duration | None = None
    resolve: Duration | None = None
    progress_every: Duration | None = None


class RuleTargets(_Strict):
    respond: Duration | None = None
    onsite: Duration | None = None
    plan: Duration | None = None
    resolve: Duration | None = None


class SlaConfig(_Strict):
    """Per-site SLA targets over the standard's defaults (contract §4 table)."""

    emergency: PriorityTargets = PriorityTargets()
    important: PriorityTargets = PriorityTargets()
    general: PriorityTargets = PriorityTargets()
    rules: dict[RuleName, RuleTargets] = Field(default_factory=dict)
    """Per-rule changes, e.g. ``elevator.entrapment: {onsite: 30m}`` (the default)."""
    follow_up: Duration | None = None
    """Follow-up call due this long after resolution (default 48h)."""
    outage_rules: list[RuleName] | None = None
    """Emergencies of these rules get hourly progress reminders until restored."""
    daily_report_at: HHMM = "16:00"
    """Local time of the daily reminder for multi-day work..."""
    daily_report_by: HHMM = "17:00"
    """...whose progress report is due by this local time."""

    @model_validator(mode="after")
    def _valid(self) -> SlaConfig:
        self.policy()
        self.reminders()
        return self

    def policy(self) -> SlaPolicy:
        targets = {}
        for priority in Priority:
            given: PriorityTargets = getattr(self, priority.value)
            base = DEFAULT_TARGETS[priority]
            targets[priority] = Targets(
                respond=given.respond or base.respond,
                onsite=given.onsite or base.onsite,
                plan=given.plan or base.plan,
                resolve=given.resolve or base.resolve,
                progress_every=given.progress_every or base.progress_every,
            )
        overrides = dict(DEFAULT_OVERRIDES)
        for rule, change in self.rules.items():
            overrides[rule] = RuleOverride(**change.model_dump())
        return SlaPolicy(
            targets=targets,
            rule_overrides=overrides,
            follow_up=self.follow_up or SlaPolicy().follow_up,
        )

    def reminders(self) -> ReminderPolicy:
        defaults = ReminderPolicy()
        return ReminderPolicy(
            outage_rules=(
                defaults.outage_rules if self.outage_rules is None else frozenset(self.outage_rules)
            ),
            daily_at=_hhmm(self.daily_report_at),
            daily_by=_hhmm(self.daily_report_by),
        )


class ContactConfig(_Strict):
    name: str = Field(min_length=1, max_length=100)
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=200)


class NightConfig(_Strict):
    start: HHMM = "22:00"
    end: HHMM = "08:00"


class EscalationConfig(_Strict):
    """Who escalations reach, and when level 2 follows level 1."""

    duty_manager: list[ContactConfig] = Field(default_factory=list)
    """Level 1: the first missed deadline, and every emergency opened at night."""
    maintenance_company: list[ContactConfig] = Field(default_factory=list)
    """Level 2 for elevator tickets (with management)."""
    management: list[ContactConfig] = Field(default_factory=list)
    """Level 2."""
    level2_after: dict[Priority, Duration] = Field(default_factory=dict)
    """How long a missed step may stay undone before level 2 (default: the priority's
    respond target: 15m, 2h, 4h)."""
    night: NightConfig | None = NightConfig()
    """``null``: no night rule."""

    def policy(self) -> EscalationPolicy:
        contacts = [
            Contact(role=role, name=c.name, phone=c.phone, email=c.email)
            for role, group in (
                (Role.DUTY_MANAGER, self.duty_manager),
                (Role.MAINTENANCE_COMPANY, self.maintenance_company),
                (Role.MANAGEMENT, self.management),
            )
            for c in group
        ]
        return EscalationPolicy(
            level2_after={**DEFAULT_LEVEL2_AFTER, **self.level2_after},
            night_start=None if self.night is None else _hhmm(self.night.start),
            night_end=None if self.night is None else _hhmm(self.night.end),
            contacts=tuple(contacts),
        )


class InhibitConfig(_Strict):
    """Which tickets explain which alarms (defaults: a power cut explains elevator
    power-loss and domestic pump-pressure alarms). Life-safety rules cannot be targets."""

    sources: list[RuleName] | None = None
    targets: list[RuleName] | None = None
    release_after: Duration | None = None

    @model_validator(mode="after")
    def _valid(self) -> InhibitConfig:
        self.policy()
        return self

    def policy(self) -> InhibitPolicy:
        defaults = InhibitPolicy()
        return InhibitPolicy(
            sources=defaults.sources if self.sources is None else frozenset(self.sources),
            targets=defaults.targets if self.targets is None else frozenset(self.targets),
            release_after=self.release_after or defaults.release_after,
        )


class TicketSite(Protocol):
    """What ``site_policies`` reads from a site of the site file."""

    @property
    def id(self) -> str: ...
    @property
    def timezone(self) -> str: ...
    @property
    def sla(self) -> SlaConfig: ...
    @property
    def escalation(self) -> EscalationConfig: ...
    @property
    def inhibit(self) -> InhibitConfig: ...


def site_policy(site: TicketSite) -> SitePolicy:
    return SitePolicy(
        sla=site.sla.policy(),
        timezone=ZoneInfo(site.timezone),
        escalation=site.escalation.policy(),
        reminders=site.sla.reminders(),
        inhibit=site.inhibit.policy(),
    )


def site_policies(sites: Iterable[TicketSite]) -> Policies:
    """Every site's policy from the site file; other sites get the standard's defaults."""
    found: Mapping[str, SitePolicy] = {site.id: site_policy(site) for site in sites}
    return Policies(SitePolicy(), found)
