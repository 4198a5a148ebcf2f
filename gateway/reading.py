"""The frozen, transport-free record the gateway hands to the rules and the telemetry sink."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.payloads import (
    ElevatorTelemetry,
    ExtinguisherTelemetry,
    PatrolTelemetry,
    Telemetry,
    WaterPressureTelemetry,
)
from gateway.topics import DeviceRef


@dataclass(frozen=True, slots=True)
class Reading:
    ref: DeviceRef
    telemetry: Telemetry
    received_at: float
    """When Steward received it (injected clock), epoch seconds."""
    observed_at: float
    """Event time used by the rules: device time when plausible, else ``received_at``."""
    flags: frozenset[str] = frozenset()
    """Policy notes, e.g. ``clock_skew`` when device time was not trusted."""
    registered: bool = True


@dataclass(frozen=True, slots=True)
class StatusChange:
    """``online``/``offline`` from the retained status topic (offline is the Last Will)."""

    ref: DeviceRef
    online: bool
    received_at: float


__all__ = [
    "ElevatorTelemetry",
    "ExtinguisherTelemetry",
    "PatrolTelemetry",
    "Reading",
    "StatusChange",
    "WaterPressureTelemetry",
]
