"""Fire-extinguisher rules (domain-rules-research.md §6: FEX-01..04; FEX-05 is a calendar
rule in rules/calendar.py). Pressure is judged against the gauge's green band per device."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from rules.condition import Rule, make_rule
from rules.decision import Category, Priority
from rules.latest import ExtinguisherRecord
from rules.thresholds import ExtinguisherThresholds
from steward.site import ExtinguisherParams


@dataclass(slots=True)
class ExtinguisherView:
    t: ExtinguisherRecord
    """The latest reading (``rules.latest``)."""
    th: ExtinguisherThresholds
    params: ExtinguisherParams
    below: int = 0
    """Consecutive readings below the green band."""
    above: int = 0
    recent: list[tuple[float, float]] = field(default_factory=list)
    """(time, pressure) over the last rapid_loss_window_s, only the readings that can still
    be the window's peak (each above every later one): the first is the peak. (A list: a deque
    costs ~0.7 KiB even when it holds one reading.)"""
    discharged: bool = False
    """Latched when a discharge is seen, until the gauge is back in its green band (replaced):
    a rapid loss stays a discharge after the full reading has left the rapid-loss window."""

    @property
    def p(self) -> float:
        return self.t.pressure_mpa

    @property
    def nominal(self) -> float:
        return (self.params.green_min_mpa + self.params.green_max_mpa) / 2

    def update(self, t: ExtinguisherRecord, at: float) -> None:
        self.t = t
        p = t.pressure_mpa
        self.below = self.below + 1 if p < self.params.green_min_mpa else 0
        self.above = self.above + 1 if p > self.params.green_max_mpa else 0
        recent = self.recent
        start, stale = at - self.th.rapid_loss_window_s, 0
        while stale < len(recent) and recent[stale][0] < start:
            stale += 1
        if stale:
            del recent[:stale]
        while recent and recent[-1][1] <= p:  # never the peak again while p is in the window
            recent.pop()
        recent.append((at, p))
        self.discharged = _discharged(self) or (self.discharged and p < self.params.green_min_mpa)


def low(v: ExtinguisherView, _now: float) -> float | None:
    return 0.0 if v.below >= v.th.consecutive_readings and not v.discharged else None


def high(v: ExtinguisherView, _now: float) -> float | None:
    return 0.0 if v.above >= v.th.consecutive_readings else None


def _discharged(v: ExtinguisherView) -> bool:
    if v.p < v.th.discharged_ratio * v.nominal:
        return True
    peak = v.recent[0][1]
    return peak > 0 and (peak - v.p) > v.th.rapid_loss_ratio * peak


def discharged(v: ExtinguisherView, _now: float) -> float | None:
    return 0.0 if v.discharged else None


def removed(v: ExtinguisherView, _now: float) -> float | None:
    t = v.t
    gone = t.on_bracket is False or (t.tilt_deg is not None and t.tilt_deg > v.th.tilt_deg)
    return v.th.removed_s if gone else None


_rule = functools.partial(make_rule, "extinguisher")

EXTINGUISHER_RULES: tuple[Rule[ExtinguisherView], ...] = (
    _rule(
        "low_pressure",
        "low_pressure",
        Priority.GENERAL,
        "Extinguisher pressure below the green band",
        "pressure < green_min_mpa on ≥ consecutive_readings readings (not discharged)",
        low,
        clear_after_s=lambda v: v.th.in_band_clear_s,
        auto_resolve=True,
        clear="≥ green_min_mpa, or discharged, for in_band_clear_s",
        inputs=("pressure_mpa", "params.green_min_mpa", "params.green_max_mpa"),
        thresholds=(
            "consecutive_readings",
            "in_band_clear_s",
            "discharged_ratio",
            "rapid_loss_ratio",
            "rapid_loss_window_s",
        ),
        source="FEX-01; GB 50444 5.3.1",
    ),
    _rule(
        "over_pressure",
        "over_pressure",
        Priority.GENERAL,
        "Extinguisher pressure above the green band",
        "pressure > green_max_mpa on ≥ consecutive_readings readings",
        high,
        auto_resolve=True,
        clear="a reading ≤ green_max_mpa",
        inputs=("pressure_mpa", "params.green_max_mpa"),
        thresholds=("consecutive_readings",),
        source="FEX-02",
    ),
    _rule(
        "discharged",
        "discharged_or_removed",
        Priority.IMPORTANT,
        "Extinguisher discharged or losing pressure fast: check for fire or vandalism",
        "pressure < discharged_ratio × nominal, or fell by > rapid_loss_ratio within "
        "rapid_loss_window_s",
        discharged,
        category=Category.SERVICE,
        clear="pressure back ≥ green_min_mpa, no rapid loss in the window: replaced (recorded; a "
        "person closes it)",
        inputs=("pressure_mpa", "params.green_min_mpa", "params.green_max_mpa"),
        thresholds=("discharged_ratio", "rapid_loss_ratio", "rapid_loss_window_s"),
        source="FEX-03 [E]",
    ),
    _rule(
        "removed",
        "discharged_or_removed",
        Priority.GENERAL,
        "Extinguisher removed from its bracket or tilted",
        "on_bracket false or tilt > tilt_deg held ≥ removed_s (with a discharge: the same "
        "ticket, raised to important)",
        removed,
        category=Category.SERVICE,
        auto_resolve=True,
        clear="back on its bracket, upright",
        inputs=("on_bracket", "tilt_deg"),
        thresholds=("tilt_deg", "removed_s"),
        source="FEX-04 [E]",
    ),
)
