"""Calendar rules: maintenance and inspection deadlines from the site file's dates
(ELV-15, ELV-16, FEX-05). They need no telemetry; the engine checks them on an hourly scan,
and they clear when the site file records a newer date (reload, no restart)."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from rules.condition import Rule
from rules.decision import Category, Priority
from rules.thresholds import RulesConfig
from steward.site import ElevatorParams, ExtinguisherParams

DAY = 86400.0


@dataclass(frozen=True, slots=True, weakref_slot=True)
class CalendarView:
    """What a device's calendar rules read. Read-only, so devices with the same params model,
    rules and time zone share one (``calendar_view``)."""

    params: BaseModel
    rules: RulesConfig
    tz: str

    def midnight(self, day: date) -> float:
        return datetime.combine(day, time.min, ZoneInfo(self.tz)).timestamp()


_VIEWS: weakref.WeakValueDictionary[tuple[int, int, str], CalendarView] = (
    weakref.WeakValueDictionary()
)
"""The views in use, by the identity of their params and rules (a view keeps both alive, so
an id is not reused while its view is here)."""


def calendar_view(params: BaseModel, rules: RulesConfig, tz: str) -> CalendarView:
    """The view of these params, rules and time zone: shared (the registry shares equal
    params models, and devices without thresholds of their own share the rules; a view a
    device was 56 bytes)."""
    key = (id(params), id(rules), tz)
    view = _VIEWS.get(key)
    if view is None or view.params is not params or view.rules is not rules:
        view = _VIEWS[key] = CalendarView(params, rules, tz)
    return view


def maintenance_overdue(v: CalendarView, now: float) -> float | None:
    p = v.params
    if not isinstance(p, ElevatorParams) or p.last_maintenance is None:
        return None
    due = v.midnight(p.last_maintenance) + v.rules.elevator.maintenance_interval_days * DAY
    return 0.0 if now > due + DAY else None  # due within the day, overdue the day after


def inspection_due(v: CalendarView, now: float) -> float | None:
    p = v.params
    if not isinstance(p, ElevatorParams) or p.inspection_expires is None:
        return None
    notice = v.rules.elevator.inspection_notice_days * DAY
    return 0.0 if now >= v.midnight(p.inspection_expires) - notice else None


def extinguisher_inspection_overdue(v: CalendarView, now: float) -> float | None:
    p = v.params
    if not isinstance(p, ExtinguisherParams) or p.last_inspection is None:
        return None
    th = v.rules.extinguisher
    days = th.basement_inspection_days if p.basement else th.inspection_days
    return 0.0 if now > v.midnight(p.last_inspection) + (days + 1) * DAY else None


CALENDAR_RULES: tuple[Rule[CalendarView], ...] = (
    Rule(
        id="elevator.maintenance_overdue",
        group="maintenance_overdue",
        priority=Priority.GENERAL,
        category=Category.SERVICE,
        title="Elevator maintenance overdue",
        condition="more than maintenance_interval_days since params.last_maintenance",
        holds=maintenance_overdue,
        timed=True,
        auto_resolve=True,
        clear="a newer last_maintenance date in the site file",
        inputs=("params.last_maintenance", "clock"),
        thresholds=("elevator.maintenance_interval_days",),
        source="ELV-15; TSG T5002 (every 15 days)",
    ),
    Rule(
        id="elevator.inspection_due",
        group="inspection_due",
        priority=Priority.GENERAL,
        category=Category.SERVICE,
        title="Elevator periodic inspection due",
        condition="≤ inspection_notice_days before params.inspection_expires",
        holds=inspection_due,
        timed=True,
        auto_resolve=True,
        clear="a later inspection_expires date in the site file",
        inputs=("params.inspection_expires", "clock"),
        thresholds=("elevator.inspection_notice_days",),
        source="ELV-16; local ordinances (apply within 30 days of expiry)",
    ),
    Rule(
        id="extinguisher.inspection_overdue",
        group="inspection_overdue",
        priority=Priority.GENERAL,
        category=Category.SERVICE,
        title="Extinguisher monthly inspection overdue",
        condition="more than inspection_days (basement_inspection_days in basements and "
        "garages) since params.last_inspection",
        holds=extinguisher_inspection_overdue,
        timed=True,
        auto_resolve=True,
        clear="a newer last_inspection date in the site file",
        inputs=("params.last_inspection", "params.basement", "clock"),
        thresholds=("extinguisher.inspection_days", "extinguisher.basement_inspection_days"),
        source="FEX-05; GB 50444 5.2.1/5.2.2",
    ),
)
