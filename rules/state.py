"""Per-device rule state: the kind's view of its latest readings and the trackers."""

from __future__ import annotations

import dataclasses
from collections import deque
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


_NOT_MEMO = frozenset(
    {"t", "th", "params", "key", "zone", "building_power_lost", "tz", "stopped_closed"}
)
"""View fields that are not history: the reading, configuration, wiring."""


def view_memo(view: Any) -> dict[str, Any]:
    """What a view has derived from earlier readings (a passenger seen during the stop,
    latched outage flags, the pressure history), as JSON-able data: with the latest reading
    it rebuilds the view after a restart."""
    if not dataclasses.is_dataclass(view):
        return {}
    out: dict[str, Any] = {}
    for f in dataclasses.fields(view):
        if f.name in _NOT_MEMO:
            continue
        value = getattr(view, f.name)
        if isinstance(value, deque | list):  # a copy: the view goes on changing its own
            value = [list(item) if isinstance(item, tuple) else item for item in value]
        if isinstance(value, bool | int | float | str | list) or value is None:
            out[f.name] = value
    return out


def apply_memo(view: Any, memo: dict[str, Any]) -> None:
    """Put back what ``view_memo`` saved; unknown or mistyped fields are ignored."""
    if not dataclasses.is_dataclass(view):
        return
    names = {f.name for f in dataclasses.fields(view)} - _NOT_MEMO
    for name, value in memo.items():
        if name not in names:
            continue
        current = getattr(view, name)
        if isinstance(current, deque | list):
            if isinstance(value, list):
                items = (tuple(i) if isinstance(i, list) else i for i in value)
                setattr(view, name, type(current)(items))
        elif current is None or value is None or isinstance(value, type(current)):
            setattr(view, name, value)
