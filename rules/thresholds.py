"""Rule thresholds per sensor kind, with their defaults (domain-rules-research.md §6; values
the research marks ``[E]`` are estimates, configurable here). Strict: unknown keys are errors.

Set globally in the site file under ``rules:`` (``rules.water_pressure.low_mpa: 0.12``) and per
device under the device's ``thresholds:`` (merged over the global values).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.topics import Kind
from rules.decision import Category, Priority

Seconds = Annotated[float, Field(gt=0)]
Mpa = Annotated[float, Field(ge=-0.1, le=2.5)]
HHMM = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ElevatorThresholds(_Strict):
    entrapment_s: Seconds = 30
    entrapment_at_landing_s: Seconds = 45
    stopped_outside_zone_s: Seconds = 60
    door_open_moving_samples: int = Field(default=2, ge=1)
    power_loss_s: Seconds = 10
    power_restored_s: float = Field(default=60, ge=0)
    overspeed_ratio: float = Field(default=1.15, gt=1)
    speed_warning_ratio: float = Field(default=1.05, gt=1)
    speed_warning_s: Seconds = 3
    circuit_open_idle_s: Seconds = 10
    door_open_at_landing_s: Seconds = 80
    door_cycles_without_trip: int = Field(default=5, ge=2)
    inspection_mode_s: Seconds = 4 * 3600
    fire_mode_verify_s: Seconds = 60
    maintenance_interval_days: int = Field(default=15, ge=1)
    inspection_notice_days: int = Field(default=30, ge=1)
    repeated_failure_count: int = Field(default=3, ge=2)
    repeated_failure_window_days: int = Field(default=30, ge=1)


class WaterThresholds(_Strict):
    outage_mpa: Mpa = 0.02
    outage_s: Seconds = 120
    outage_clear_mpa: Mpa = 0.10
    outage_clear_s: float = Field(default=300, ge=0)
    low_mpa: Mpa = 0.10
    low_s: Seconds = 600
    low_clear_mpa: Mpa = 0.12
    low_clear_s: float = Field(default=600, ge=0)
    high_mpa: Mpa = 0.45
    """Zone static limit (GB 50015 3.4.3); a household-inlet sensor sets its own ``max_mpa``."""
    over_mpa: Mpa = 0.60
    high_s: Seconds = 600
    high_clear_s: float = Field(default=600, ge=0)
    burst_drop_mpa: Mpa = 0.10
    burst_drop_ratio: float = Field(default=0.30, gt=0, lt=1)
    burst_window_s: Seconds = 120
    """The drop must happen within this (60 s in the research, plus one report interval)."""
    burst_confirm_s: Seconds = 300
    burst_recovered_ratio: float = Field(default=0.90, gt=0, le=1)
    burst_clear_s: float = Field(default=900, ge=0)
    baseline_window_s: Seconds = 900
    fire_min_mpa: Mpa = 0.07
    fire_low_s: Seconds = 300
    fire_clear_margin_mpa: float = Field(default=0.02, ge=0)
    fire_clear_s: float = Field(default=1800, ge=0)
    fire_lost_mpa: Mpa = 0.02
    fire_lost_s: Seconds = 120
    loop_min_ma: float = 3.6
    loop_max_ma: float = 21.0
    loop_fault_s: Seconds = 4
    loop_ok_min_ma: float = 3.8
    loop_ok_max_ma: float = 20.5
    full_scale_mpa: Mpa = 1.6


class ExtinguisherThresholds(_Strict):
    consecutive_readings: int = Field(default=2, ge=1)
    in_band_clear_s: float = Field(default=24 * 3600, ge=0)
    discharged_ratio: float = Field(default=0.10, gt=0, lt=1)
    rapid_loss_ratio: float = Field(default=0.50, gt=0, lt=1)
    rapid_loss_window_s: Seconds = 3600
    removed_s: Seconds = 60
    tilt_deg: float = Field(default=45, gt=0, le=180)
    inspection_days: int = Field(default=30, ge=1)
    basement_inspection_days: int = Field(default=15, ge=1)


class Shift(_Strict):
    name: str = Field(min_length=1, max_length=32)
    start: HHMM
    end: HHMM


class PatrolThresholds(_Strict):
    tolerance_ratio: float = Field(default=0.20, ge=0, le=1)
    """A key checkpoint is missed when not scanned within interval × (1 + tolerance)."""
    rescan_min_s: Seconds = 60
    guard_inactive_s: Seconds = 2 * 3600 * 1.2
    shift_misses: int = Field(default=3, ge=1)
    shifts: tuple[Shift, ...] = (
        Shift(name="day", start="08:00", end="20:00"),
        Shift(name="night", start="20:00", end="08:00"),
    )


class HealthThresholds(_Strict):
    """SEN-01..05. Silence longer than ``<kind>_silence_s`` means offline (None: never, as for
    patrol checkpoints, which speak only when scanned); the Last Will marks it at once."""

    elevator_silence_s: float | None = Field(default=600, gt=0)
    water_pressure_silence_s: float | None = Field(default=1800, gt=0)
    extinguisher_silence_s: float | None = Field(default=6 * 3600, gt=0)
    patrol_silence_s: float | None = None
    stuck_samples: int = Field(default=6, ge=2)
    stuck_tolerance_mpa: float = Field(default=0.001, ge=0)
    stuck_floor_mpa: float = Field(default=0.02, ge=0)
    implausible_clear_samples: int = Field(default=3, ge=1)
    battery_low_pct: float = Field(default=20, ge=0, le=100)
    battery_ok_pct: float = Field(default=30, ge=0, le=100)
    flapping_faults: int = Field(default=3, ge=2)
    """This many sensor faults within ``flapping_window_s`` (research: more than 2 in 24 h)."""
    flapping_window_s: Seconds = 24 * 3600
    misbehaving_clear_s: Seconds = 600

    def silence_s(self, kind: Kind) -> float | None:
        value: float | None = getattr(self, f"{kind.value}_silence_s")
        return value


class RuleOverride(_Strict):
    """Per-rule changes an operator may make: priority, category, or switch it off."""

    priority: Priority | None = None
    category: Category | None = None
    enabled: bool = True


class RulesConfig(_Strict):
    elevator: ElevatorThresholds = ElevatorThresholds()
    water_pressure: WaterThresholds = WaterThresholds()
    extinguisher: ExtinguisherThresholds = ExtinguisherThresholds()
    patrol: PatrolThresholds = PatrolThresholds()
    health: HealthThresholds = HealthThresholds()
    overrides: dict[str, RuleOverride] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _battery_hysteresis(self) -> RulesConfig:
        if self.health.battery_ok_pct < self.health.battery_low_pct:
            raise ValueError("health.battery_ok_pct must be at least health.battery_low_pct")
        return self

    def for_kind(self, kind: Kind) -> BaseModel:
        model: BaseModel = getattr(self, kind.value)
        return model


def device_thresholds(rules: RulesConfig, kind: Kind, overrides: Mapping[str, Any]) -> BaseModel:
    """The kind's global thresholds with a device's overrides merged in, validated."""
    base = rules.for_kind(kind)
    if not overrides:
        return base
    return type(base).model_validate({**base.model_dump(), **overrides})
