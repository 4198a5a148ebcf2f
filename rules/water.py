"""Water-pressure rules (domain-rules-research.md §6: WTR-01..05, 07).

Domestic supply: outage (confirmed by a second sensor of the zone or a power cut in the
building), low and high pressure; fire network: below its minimum static pressure; both: a
sudden drop against a rolling baseline (burst). A 4–20 mA loop current outside its band is a
sensor fault, which freezes the pressure rules of that sensor instead of raising outages.
"""

from __future__ import annotations

import functools
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from rules.condition import Rule, make_rule
from rules.decision import Priority
from rules.latest import WaterRecord
from rules.thresholds import WaterThresholds
from steward.site import WaterParams


@dataclass(slots=True)
class Zone:
    """Sensors of one supply zone, shared by their views: who reads ≈ 0 MPa right now."""

    members: set[str] = field(default_factory=set)
    low: set[str] = field(default_factory=set)


@dataclass(slots=True)
class WaterView:
    key: str
    t: WaterRecord
    """The latest reading (``rules.latest``)."""
    th: WaterThresholds
    params: WaterParams
    zone: Zone | None = None
    building_power_lost: Callable[[], bool] = lambda: False
    history: list[tuple[float, float]] = field(default_factory=list)
    """(time, pressure), oldest first, over the baseline and burst windows (a list: a deque
    costs ~0.7 KiB even when it holds three readings)."""
    loop_fault: bool = False
    outage: bool = False
    low: bool = False
    fire_low: bool = False
    burst_baseline: float | None = None
    """Set while a sudden drop has not recovered: the baseline it dropped from."""

    @property
    def p(self) -> float:
        return self.t.pressure_mpa

    @property
    def domestic(self) -> bool:
        return self.params.network == "domestic"

    def update(self, t: WaterRecord, at: float) -> None:
        self.t = t
        th, p, ma = self.th, t.pressure_mpa, t.current_ma
        if ma is not None:
            outside = not th.loop_min_ma <= ma <= th.loop_max_ma
            still = self.loop_fault and not th.loop_ok_min_ma <= ma <= th.loop_ok_max_ma
            self.loop_fault = outside or still
        self.outage = p <= th.outage_mpa or (self.outage and p < th.outage_clear_mpa)
        self.low = p < th.low_mpa or (self.low and p < th.low_clear_mpa)
        minimum = self.fire_min
        back = round(minimum + th.fire_clear_margin_mpa, 6)  # 0.07 + 0.02 is 0.09000000000000001
        self.fire_low = p < minimum or (self.fire_low and p < back)
        if self.zone is not None:
            (self.zone.low.add if self.zone_low else self.zone.low.discard)(self.key)
        if self.loop_fault:  # no measurement: the history would judge the repair a burst
            self.history.clear()
            self.burst_baseline = None
            return
        self._track_burst(p, at)

    @property
    def zone_low(self) -> bool:
        """Confirms an outage of the other sensors of its zone: healthy and reading ≈ 0."""
        return self.outage and not self.loop_fault

    @property
    def fire_min(self) -> float:
        return self.params.min_mpa if self.params.min_mpa is not None else self.th.fire_min_mpa

    def _track_burst(self, p: float, at: float) -> None:
        th = self.th
        horizon = at - th.baseline_window_s - th.burst_window_s
        history = self.history
        stale = 0
        while stale < len(history) and history[stale][0] < horizon:
            stale += 1
        if stale:
            del history[:stale]
        if self.burst_baseline is not None:
            if p >= th.burst_recovered_ratio * self.burst_baseline:
                self.burst_baseline = None
        else:
            older = [q for ts, q in self.history if ts <= at - th.burst_window_s]
            recent = [q for ts, q in self.history if ts > at - th.burst_window_s]
            if len(older) >= 3 and recent:
                baseline = statistics.median(older)
                drop = max(th.burst_drop_mpa, th.burst_drop_ratio * baseline)
                # from above the high limit back into the band is a repair (a pressure-
                # reducing valve fixed), not a burst
                repaired = baseline > _high_limit(self) and p >= th.low_mpa
                if p <= baseline - drop and max(recent) > baseline - drop / 2 and not repaired:
                    self.burst_baseline = baseline
        self.history.append((at, p))


def _zone_scope(v: WaterView) -> str:
    return f"zone-{v.params.zone}" if v.params.zone else v.key.split("/", 1)[1]


def outage(v: WaterView, _now: float) -> float | None:
    if not (v.domestic and v.outage) or v.loop_fault:
        return None
    zone = v.zone
    alone = zone is None or len(zone.members) < 2
    confirmed = alone or bool(zone and zone.low - {v.key}) or v.building_power_lost()
    return v.th.outage_s if confirmed else None


def low_pressure(v: WaterView, now: float) -> float | None:
    """Low pressure, including ≈ 0 that no second sensor confirms as a zone outage yet: a
    single sensor at zero is at least a low-pressure ticket, never silence."""
    if not (v.domestic and v.low) or v.loop_fault or outage(v, now) is not None:
        return None
    return v.th.low_s


def _high_limit(v: WaterView) -> float:
    return v.params.max_mpa if v.params.max_mpa is not None else v.th.high_mpa


def high_pressure(v: WaterView, _now: float) -> float | None:
    return v.th.high_s if v.domestic and _high_limit(v) < v.p <= v.th.over_mpa else None


def over_pressure(v: WaterView, _now: float) -> float | None:
    return v.th.high_s if v.domestic and v.p > v.th.over_mpa else None


def burst(v: WaterView, _now: float) -> float | None:
    return v.th.burst_confirm_s if v.burst_baseline is not None else None


def fire_low(v: WaterView, _now: float) -> float | None:
    return v.th.fire_low_s if not v.domestic and v.fire_low else None


def fire_lost(v: WaterView, _now: float) -> float | None:
    return v.th.fire_lost_s if not v.domestic and v.p <= v.th.fire_lost_mpa else None


def sensor_fault(v: WaterView, _now: float) -> float | None:
    return v.th.loop_fault_s if v.loop_fault else None


_rule = functools.partial(make_rule, "water", section="water_pressure")

WATER_RULES: tuple[Rule[WaterView], ...] = (
    _rule(
        "outage",
        "outage",
        Priority.EMERGENCY,
        "Water outage",
        "domestic sensor healthy and ≤ outage_mpa held ≥ outage_s, confirmed by a second "
        "sensor of the zone reading ≈ 0 or a power cut in the building (a zone with one "
        "sensor needs no confirmation); one ticket per zone",
        outage,
        clear_after_s=lambda v: v.th.outage_clear_s,
        needs_healthy_sensor=True,
        scope=_zone_scope,
        clear="≥ outage_clear_mpa, or no longer confirmed, for outage_clear_s; the zone's "
        "incident ends when no sensor of the zone fires any more (recorded)",
        inputs=("pressure_mpa", "params.network", "params.zone", "zone", "building_power"),
        thresholds=("outage_mpa", "outage_s", "outage_clear_mpa", "outage_clear_s"),
        source="WTR-01; GB 50368 7.1.2; NAMUR NE 43",
    ),
    _rule(
        "low_pressure",
        "low_pressure",
        Priority.GENERAL,
        "Low supply pressure",
        "domestic < low_mpa held ≥ low_s (including an unconfirmed ≈ 0; not a confirmed outage)",
        low_pressure,
        clear_after_s=lambda v: v.th.low_clear_s,
        needs_healthy_sensor=True,
        auto_resolve=True,
        clear="≥ low_clear_mpa for low_clear_s; also when a confirmed outage takes over (after "
        "low_clear_s)",
        inputs=("pressure_mpa", "params.network", "params.zone", "zone", "building_power"),
        thresholds=(
            "low_mpa",
            "low_s",
            "low_clear_mpa",
            "low_clear_s",
            "outage_mpa",
            "outage_clear_mpa",
        ),
        source="WTR-02; GB 50368 7.1.2",
    ),
    _rule(
        "high_pressure",
        "high_pressure",
        Priority.GENERAL,
        "High supply pressure",
        "domestic above the sensor's max_mpa (default high_mpa, GB 50015 3.4.3) held ≥ high_s",
        high_pressure,
        clear_after_s=lambda v: v.th.high_clear_s,
        needs_healthy_sensor=True,
        auto_resolve=True,
        clear="at or below the limit for high_clear_s (above over_mpa it is over_pressure, "
        "same group)",
        inputs=("pressure_mpa", "params.network", "params.max_mpa"),
        thresholds=("high_mpa", "over_mpa", "high_s", "high_clear_s"),
        source="WTR-03; GB 50015-2019 3.4.2-3.4.5",
    ),
    _rule(
        "over_pressure",
        "high_pressure",
        Priority.IMPORTANT,
        "Supply over-pressure",
        "domestic > over_mpa (0.60, GB 50015 3.4.2) held ≥ high_s",
        over_pressure,
        clear_after_s=lambda v: v.th.high_clear_s,
        needs_healthy_sensor=True,
        auto_resolve=True,
        clear="≤ over_mpa for high_clear_s (still above the limit it is high_pressure, same group)",
        inputs=("pressure_mpa", "params.network"),
        thresholds=("over_mpa", "high_s", "high_clear_s"),
        source="WTR-03; GB 50015-2019 3.4.2",
    ),
    _rule(
        "burst",
        "burst",
        Priority.IMPORTANT,
        "Sudden pressure drop: possible burst pipe",
        "a drop of ≥ burst_drop_mpa or ≥ burst_drop_ratio below the rolling median (last "
        "baseline_window_s) within burst_window_s, not recovered for burst_confirm_s; not a "
        "return from above the high limit into the band (a repair), and readings of a failed "
        "4–20 mA loop are no history",
        burst,
        clear_after_s=lambda v: v.th.burst_clear_s,
        needs_healthy_sensor=True,
        clear="≥ burst_recovered_ratio × the baseline for burst_clear_s (recorded)",
        inputs=("pressure_mpa", "params.max_mpa"),
        thresholds=(
            "burst_drop_mpa",
            "burst_drop_ratio",
            "burst_window_s",
            "burst_confirm_s",
            "burst_recovered_ratio",
            "burst_clear_s",
            "baseline_window_s",
            "high_mpa",
            "low_mpa",
        ),
        source="WTR-04 [E]",
    ),
    _rule(
        "fire_low_pressure",
        "fire_pressure",
        Priority.IMPORTANT,
        "Fire network below minimum static pressure",
        "fire network < min_mpa (default fire_min_mpa 0.07, GB 50974 5.2.2) held ≥ fire_low_s",
        fire_low,
        clear_after_s=lambda v: v.th.fire_clear_s,
        needs_healthy_sensor=True,
        clear="≥ minimum + fire_clear_margin_mpa for fire_clear_s; the incident ends when "
        "fire_pressure_lost has cleared too (recorded)",
        inputs=("pressure_mpa", "params.network", "params.min_mpa"),
        thresholds=("fire_min_mpa", "fire_low_s", "fire_clear_margin_mpa", "fire_clear_s"),
        source="WTR-05; GB 50974 5.2.2",
    ),
    _rule(
        "fire_pressure_lost",
        "fire_pressure",
        Priority.EMERGENCY,
        "Fire network pressure lost",
        "fire network ≤ fire_lost_mpa held ≥ fire_lost_s",
        fire_lost,
        clear_after_s=lambda v: v.th.fire_clear_s,
        needs_healthy_sensor=True,
        clear="> fire_lost_mpa for fire_clear_s; the incident ends when fire_low_pressure has "
        "cleared too (recorded)",
        inputs=("pressure_mpa", "params.network"),
        thresholds=("fire_lost_mpa", "fire_lost_s", "fire_clear_s"),
        source="WTR-05 [E]",
    ),
    _rule(
        "sensor_fault",
        "sensor_fault",
        Priority.GENERAL,
        "Pressure sensor fault (4-20 mA)",
        "loop current < loop_min_ma or > loop_max_ma held ≥ loop_fault_s; freezes this "
        "sensor's pressure rules",
        sensor_fault,
        sensor_fault=True,
        auto_resolve=True,
        clear="loop current back in loop_ok_min_ma..loop_ok_max_ma",
        inputs=("current_ma",),
        thresholds=(
            "loop_min_ma",
            "loop_max_ma",
            "loop_fault_s",
            "loop_ok_min_ma",
            "loop_ok_max_ma",
        ),
        source="WTR-07; NAMUR NE 43",
    ),
)
