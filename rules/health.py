"""Sensor health for every kind (domain-rules-research.md §6: SEN-01..05).

Offline (Last Will or silence), stuck value, implausible value and battery low. Stuck and
implausible values, a broken loop current and going offline are *sensor faults*: while one is
active the device's rules that need a healthy sensor are frozen, and more than two faults in
24 h make the device *flapping*: one maintenance ticket instead of a ticket per fault.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from gateway.payloads import ElevatorTelemetry, Telemetry, WaterPressureTelemetry
from rules.condition import Rule
from rules.decision import Category, Priority
from rules.thresholds import HealthThresholds, WaterThresholds
from steward.site import ElevatorParams


@dataclass(slots=True)
class HealthView:
    th: HealthThresholds
    silence_limit_s: float | None = None
    will_offline: bool = False
    """The device's status topic says ``offline`` (its Last Will, or a clean goodbye)."""
    last_seen: float | None = None
    battery_low: bool = False
    same_value_samples: int = 0
    last_value: float | None = None
    implausible: bool = False
    plausible_streak: int = 0
    faults: deque[float] | None = None
    """When each sensor fault started, within the flapping window (made at the first fault:
    most devices never have one, and an empty deque is 600 bytes)."""
    rate_limited_at: float | None = None
    """When the gateway last dropped a message of this device for flooding."""

    def update(self, t: Telemetry, plausible: bool, at: float, measured: bool = True) -> None:
        """``measured`` False: the transmitter signals its own failure (``loop_failed``), so
        its value is judged neither stuck nor implausible: that fault has a rule of its own
        (water.sensor_fault), and one broken transmitter is one fault, not three."""
        th = self.th
        self.last_seen = at
        if t.battery_pct is not None:
            low, ok = th.battery_low_pct, th.battery_ok_pct
            self.battery_low = t.battery_pct <= low or (self.battery_low and t.battery_pct < ok)
        if not measured:
            return
        if isinstance(t, WaterPressureTelemetry):  # flat line: SEN-02 (not for gauges)
            # A drained pipe reads a flat zero: at the bottom of the range a flat line is the
            # outage itself, not a stuck sensor (the loop current tells a broken transmitter).
            same = (
                self.last_value is not None
                and t.pressure_mpa > th.stuck_floor_mpa
                and abs(t.pressure_mpa - self.last_value) <= th.stuck_tolerance_mpa
            )
            self.same_value_samples = self.same_value_samples + 1 if same else 1
            self.last_value = t.pressure_mpa
        if not plausible:
            self.implausible, self.plausible_streak = True, 0
        else:
            self.plausible_streak += 1
            if self.plausible_streak >= th.implausible_clear_samples:
                self.implausible = False

    def record_fault(self, at: float) -> None:
        if self.faults is None:
            self.faults = deque()
        self.faults.append(at)

    def recent_faults(self, now: float) -> int:
        faults = self.faults
        if not faults:
            return 0
        while faults and faults[0] < now - self.th.flapping_window_s:
            faults.popleft()
        return len(faults)

    @property
    def fault_count(self) -> int:
        return len(self.faults) if self.faults else 0


def loop_failed(t: Telemetry, water: WaterThresholds) -> bool:
    """NAMUR NE 43: a loop current outside loop_min_ma..loop_max_ma is a failure signal; the
    pressure it implies (a flat -0.1 MPa when failing low) is no measurement."""
    ma = t.current_ma if isinstance(t, WaterPressureTelemetry) else None
    return ma is not None and not water.loop_min_ma <= ma <= water.loop_max_ma


def plausible(t: Telemetry, params: object, water: WaterThresholds) -> bool:
    """SEN-03 gross range: outside what the sensor or the building can physically report."""
    if isinstance(t, ElevatorTelemetry) and isinstance(params, ElevatorParams):
        return params.min_floor - 1 <= t.floor <= params.max_floor + 1
    if isinstance(t, WaterPressureTelemetry):
        return -0.01 <= t.pressure_mpa <= water.full_scale_mpa
    return True


def offline(v: HealthView, now: float) -> float | None:
    if v.will_offline:
        return 0.0
    limit, seen = v.silence_limit_s, v.last_seen
    return 0.0 if limit is not None and seen is not None and now - seen > limit else None


def stuck(v: HealthView, _now: float) -> float | None:
    return 0.0 if v.same_value_samples >= v.th.stuck_samples else None


def implausible(v: HealthView, _now: float) -> float | None:
    return 0.0 if v.implausible else None


def battery_low(v: HealthView, _now: float) -> float | None:
    return 0.0 if v.battery_low else None


def misbehaving(v: HealthView, now: float) -> float | None:
    limited = v.rate_limited_at
    return 0.0 if limited is not None and now - limited < v.th.misbehaving_clear_s else None


def flapping(v: HealthView, now: float) -> float | None:
    return 0.0 if v.recent_faults(now) >= v.th.flapping_faults else None


F, G = Category.FACILITY, Priority.GENERAL
HEALTH_RULES: tuple[Rule[HealthView], ...] = (
    Rule(
        id="device.offline",
        group="offline",
        priority=G,
        category=F,
        title="Device offline",
        condition="status topic says offline (Last Will), or no message for longer than "
        "the kind's <kind>_silence_s",
        holds=offline,
        auto_resolve=True,
        timed=True,
        sensor_fault=True,
        clear="a message or an online status",
        inputs=("status", "message", "clock"),
        thresholds=(
            "health.elevator_silence_s",
            "health.water_pressure_silence_s",
            "health.extinguisher_silence_s",
            "health.patrol_silence_s",
        ),
        source="SEN-01; MQTT Last Will, 1.5× keep-alive",
    ),
    Rule(
        id="sensor.stuck",
        group="stuck",
        priority=G,
        category=F,
        title="Sensor value stuck",
        condition="≥ stuck_samples consecutive pressure readings within stuck_tolerance_mpa "
        "(above stuck_floor_mpa: a drained pipe reads a flat zero)",
        holds=stuck,
        auto_resolve=True,
        sensor_fault=True,
        clear="a pressure reading more than stuck_tolerance_mpa from the one before, or at "
        "or below stuck_floor_mpa",
        inputs=("pressure_mpa",),
        thresholds=("health.stuck_samples", "health.stuck_tolerance_mpa", "health.stuck_floor_mpa"),
        source="SEN-02; IOOS QARTOD flat line",
    ),
    Rule(
        id="sensor.implausible",
        group="implausible",
        priority=G,
        category=F,
        title="Implausible sensor value",
        condition="elevator floor beyond one floor past its range, or pressure below "
        "-0.01 MPa or above full_scale_mpa",
        holds=implausible,
        auto_resolve=True,
        sensor_fault=True,
        clear="implausible_clear_samples plausible readings in a row",
        inputs=("floor", "pressure_mpa", "params.min_floor", "params.max_floor"),
        thresholds=("health.implausible_clear_samples", "water_pressure.full_scale_mpa"),
        source="SEN-03; QARTOD gross range",
    ),
    Rule(
        id="device.battery_low",
        group="battery_low",
        priority=G,
        category=F,
        title="Device battery low",
        condition="battery_pct ≤ battery_low_pct",
        holds=battery_low,
        auto_resolve=True,
        clear="battery_pct ≥ battery_ok_pct",
        inputs=("battery_pct",),
        thresholds=("health.battery_low_pct", "health.battery_ok_pct"),
        source="SEN-04",
    ),
    Rule(
        id="device.misbehaving",
        group="misbehaving",
        priority=G,
        category=F,
        title="Device flooding the broker: messages dropped",
        condition="the device exceeded its rate limit (STEWARD_DEVICE_RATE_PER_S, burst "
        "STEWARD_DEVICE_BURST); the excess is counted as rate_limited and dropped",
        holds=misbehaving,
        timed=True,
        auto_resolve=True,
        clear="no excess for misbehaving_clear_s",
        inputs=("rate_limited", "clock"),
        thresholds=("health.misbehaving_clear_s",),
        source="reliability: flood protection",
    ),
    Rule(
        id="device.flapping",
        group="flapping",
        priority=G,
        category=F,
        title="Sensor keeps failing: maintenance needed",
        condition="≥ flapping_faults sensor faults within flapping_window_s; further faults "
        "of the device open no tickets of their own while it lasts",
        holds=flapping,
        timed=True,
        clear="fewer faults in the window (recorded)",
        inputs=("sensor_faults", "clock"),
        thresholds=("health.flapping_faults", "health.flapping_window_s"),
        source="SEN-05",
    ),
)
