"""Telemetry payload schemas, one model per sensor kind (contract §2).

Lenient with devices where it is safe (unknown extra fields are ignored so firmware can add
fields), strict on types and ranges of the fields we use. Every model is frozen.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator

from gateway.topics import Kind

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
_MAX_EPOCH_MS = 32_503_680_000_000  # year 3000


class _Telemetry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", strict=False)

    ts: datetime | StrictInt
    seq: Annotated[StrictInt, Field(ge=0, le=2**63 - 1)] | None = None
    battery_pct: Annotated[FiniteFloat, Field(ge=0, le=100)] | None = None

    @field_validator("ts")
    @classmethod
    def _ts_is_aware(cls, value: datetime | int) -> datetime | int:
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError("ts must carry a UTC offset (RFC 3339)")
            return value
        if not 0 <= value <= _MAX_EPOCH_MS:
            raise ValueError("ts in epoch milliseconds is out of range")
        return value

    def device_time(self) -> float:
        """Device timestamp as epoch seconds."""
        if isinstance(self.ts, datetime):
            return self.ts.timestamp()
        return self.ts / 1000.0


class Door(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    OPENING = "opening"
    CLOSING = "closing"


class Mode(StrEnum):
    NORMAL = "normal"
    INSPECTION = "inspection"
    FIRE = "fire"
    OUT_OF_SERVICE = "out_of_service"
    EMERGENCY_POWER = "emergency_power"
    EARTHQUAKE = "earthquake"
    UNKNOWN = "unknown"


class ElevatorTelemetry(_Telemetry):
    floor: Annotated[StrictInt, Field(ge=-20, le=300)]
    moving: StrictBool
    direction: Literal["up", "down", "none"]
    door: Door
    door_zone: StrictBool
    occupied: StrictBool | None
    alarm: StrictBool
    mode: Mode
    mains_power: StrictBool = True
    speed_mps: Annotated[FiniteFloat, Field(ge=0, le=30)] | None = None
    safety_circuit_ok: StrictBool | None = None
    door_lock_ok: StrictBool | None = None
    fault_codes: Annotated[list[Annotated[str, Field(max_length=16)]], Field(max_length=32)] = []


class WaterPressureTelemetry(_Telemetry):
    pressure_mpa: Annotated[FiniteFloat, Field(ge=-0.1, le=2.5)]
    current_ma: Annotated[FiniteFloat, Field(ge=0, le=30)] | None = None


class ExtinguisherTelemetry(_Telemetry):
    pressure_mpa: Annotated[FiniteFloat, Field(ge=0, le=3)]
    on_bracket: StrictBool | None = None
    tilt_deg: Annotated[FiniteFloat, Field(ge=0, le=180)] | None = None


class PatrolTelemetry(_Telemetry):
    guard_id: Annotated[str, Field(min_length=1, max_length=64)]
    tag_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None


Telemetry = ElevatorTelemetry | WaterPressureTelemetry | ExtinguisherTelemetry | PatrolTelemetry

SCHEMAS: dict[Kind, type[_Telemetry]] = {
    Kind.ELEVATOR: ElevatorTelemetry,
    Kind.WATER_PRESSURE: WaterPressureTelemetry,
    Kind.EXTINGUISHER: ExtinguisherTelemetry,
    Kind.PATROL: PatrolTelemetry,
}


def utc_from_epoch(ts: float) -> datetime:
    if not math.isfinite(ts):
        raise ValueError("non-finite time")
    return datetime.fromtimestamp(ts, tz=UTC)
