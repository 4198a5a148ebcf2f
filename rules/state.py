"""Per-device rule state: the kind's view of its latest readings and the trackers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.reading import Reading
from rules.calendar import CalendarView
from rules.condition import Tracker
from rules.health import HealthView
from rules.patrol import GuardView, SitePatrolView
from steward.site import RegisteredDevice


@dataclass(slots=True)
class DeviceState:
    device: RegisteredDevice
    health_view: HealthView
    reading: Reading | None = None
    online: bool | None = None
    view: Any = None
    """The kind's view (ElevatorView, WaterView, ...); None until its first reading, except
    patrol checkpoints, which are watched from the start."""
    rules: Tracker = field(default_factory=Tracker)
    health: Tracker = field(default_factory=Tracker)
    calendar: Tracker = field(default_factory=Tracker)
    calendar_view: CalendarView | None = None

    @property
    def last_seen(self) -> float | None:
        return self.health_view.last_seen

    def trackers(self) -> tuple[Tracker, Tracker, Tracker]:
        return self.rules, self.health, self.calendar

    def firing(self) -> list[str]:
        return [r for t in self.trackers() for r in t.firing_rules()]


@dataclass(slots=True)
class GuardState:
    view: GuardView
    checkpoint: DeviceState
    tracker: Tracker = field(default_factory=Tracker)


@dataclass(slots=True)
class SiteState:
    view: SitePatrolView
    checkpoint: DeviceState | None = None
    """The checkpoint of the latest miss (tickets need a device and a location)."""
    tracker: Tracker = field(default_factory=Tracker)
