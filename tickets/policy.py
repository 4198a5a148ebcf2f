"""How one site runs its tickets: SLA targets, time zone, escalation roster, reminders and
inhibition. Immutable data; ``tickets.config`` builds it from the site file.

Defaults encode the seed standard (docs/service-standard.md); values the standard does not
give (when level 2 fires, when the daily reminder goes out) are marked as estimates there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from enum import StrEnum
from types import MappingProxyType
from zoneinfo import ZoneInfo

from rules.decision import Priority
from tickets.sla import ENTRAPMENT_RULES, SlaPolicy

LIFE_SAFETY_RULES = ENTRAPMENT_RULES | {"elevator.door_open_while_moving"}
"""Never silenced, never inhibited: a person may be in danger right now."""

POWER_CUT_RULE = "power.cut"
"""A power cut declared by a person (a manual ticket): site-wide without a building."""

DEFAULT_TIMEZONE = "Asia/Shanghai"


class Role(StrEnum):
    """Who an escalation reaches."""

    DUTY_MANAGER = "duty_manager"
    MAINTENANCE_COMPANY = "maintenance_company"
    MANAGEMENT = "management"


@dataclass(frozen=True, slots=True)
class Contact:
    role: Role
    name: str
    phone: str | None = None
    email: str | None = None


DEFAULT_LEVEL2_AFTER: Mapping[Priority, timedelta] = MappingProxyType(
    {
        Priority.EMERGENCY: timedelta(minutes=15),
        Priority.IMPORTANT: timedelta(hours=2),
        Priority.GENERAL: timedelta(hours=4),
    }
)


@dataclass(frozen=True, slots=True)
class EscalationPolicy:
    """Level 1 (the duty manager) at the first missed deadline; level 2 (the maintenance
    company for elevators, and management) when a missed step is still not done
    ``level2_after`` later. Emergencies opened at night go to the duty manager at once."""

    level2_after: Mapping[Priority, timedelta] = field(default_factory=lambda: DEFAULT_LEVEL2_AFTER)
    night_start: time | None = time(22, 0)
    night_end: time | None = time(8, 0)
    contacts: tuple[Contact, ...] = ()

    def __post_init__(self) -> None:
        missing = [p.value for p in Priority if p not in self.level2_after]
        if missing:
            raise ValueError(f"escalation policy has no level2_after for {', '.join(missing)}")

    def is_night(self, local: time) -> bool:
        if self.night_start is None or self.night_end is None:
            return False
        if self.night_start <= self.night_end:
            return self.night_start <= local < self.night_end
        return local >= self.night_start or local < self.night_end

    def roles(self, level: int, kind: str | None) -> tuple[Role, ...]:
        if level <= 0:
            return ()
        if level == 1:
            return (Role.DUTY_MANAGER,)
        if kind == "elevator":
            return (Role.MAINTENANCE_COMPANY, Role.MANAGEMENT)
        return (Role.MANAGEMENT,)

    def contacts_for(self, roles: tuple[Role, ...]) -> tuple[Contact, ...]:
        return tuple(c for c in self.contacts if c.role in roles)


DEFAULT_OUTAGE_RULES = frozenset({"water.outage", "elevator.power_loss", POWER_CUT_RULE})


@dataclass(frozen=True, slots=True)
class ReminderPolicy:
    """Hourly "progress update due" for emergency outages until restored (the interval is
    the emergency SLA's ``progress_every``); a daily reminder at ``daily_at`` local time for
    work running over several days, whose report is due by ``daily_by``."""

    outage_rules: frozenset[str] = DEFAULT_OUTAGE_RULES
    daily_at: time = time(16, 0)
    daily_by: time = time(17, 0)

    def __post_init__(self) -> None:
        if self.daily_at >= self.daily_by:
            raise ValueError("the daily reminder must go out before the report is due")


DEFAULT_INHIBIT_SOURCES = frozenset({"elevator.power_loss", POWER_CUT_RULE})
DEFAULT_INHIBIT_TARGETS = frozenset(
    {"elevator.power_loss", "water.outage", "water.low_pressure", "water.burst"}
)


@dataclass(frozen=True, slots=True)
class InhibitPolicy:
    """An active ticket of a ``sources`` rule (a power cut) explains ``targets`` conditions
    in its building (all buildings of the site for a building-less ``power.cut``): they are
    linked to it instead of opening tickets. When the root ticket has been inactive for
    ``release_after`` and a linked condition still holds, that condition opens its ticket."""

    sources: frozenset[str] = DEFAULT_INHIBIT_SOURCES
    targets: frozenset[str] = DEFAULT_INHIBIT_TARGETS
    release_after: timedelta = timedelta(minutes=5)

    def __post_init__(self) -> None:
        unsafe = sorted(self.targets & LIFE_SAFETY_RULES)
        if unsafe:
            raise ValueError(f"life-safety rules are never inhibited: {', '.join(unsafe)}")


@dataclass(frozen=True, slots=True)
class SitePolicy:
    sla: SlaPolicy = field(default_factory=SlaPolicy)
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TIMEZONE))
    escalation: EscalationPolicy = field(default_factory=EscalationPolicy)
    reminders: ReminderPolicy = field(default_factory=ReminderPolicy)
    inhibit: InhibitPolicy = field(default_factory=InhibitPolicy)


class Policies:
    """Each site's policy; sites the file does not name get ``default``."""

    def __init__(
        self, default: SitePolicy | None = None, sites: Mapping[str, SitePolicy] | None = None
    ) -> None:
        self.default = default or SitePolicy()
        self._sites = dict(sites or {})

    @property
    def sites(self) -> Mapping[str, SitePolicy]:
        return MappingProxyType(self._sites)

    def for_site(self, site: str) -> SitePolicy:
        return self._sites.get(site, self.default)

    @property
    def source_rules(self) -> frozenset[str]:
        """Every site's inhibition sources: decisions of these are applied first."""
        found = set(self.default.inhibit.sources)
        for policy in self._sites.values():
            found |= policy.inhibit.sources
        return frozenset(found)
