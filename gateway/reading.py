"""The frozen, transport-free record the gateway hands to the rules and the telemetry sink."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from gateway.payloads import (
    SCHEMAS,
    ElevatorTelemetry,
    ExtinguisherTelemetry,
    PatrolTelemetry,
    Telemetry,
    WaterPressureTelemetry,
)
from gateway.topics import DeviceRef

KEEP_PAYLOAD_BYTES = 1024
"""A kept reading holds its payload rather than the parsed model up to this size."""


@dataclass(frozen=True, slots=True)
class Reading:
    ref: DeviceRef
    parsed: Telemetry | None
    """The validated payload (read it as ``telemetry``); ``None`` in a reading ``kept`` as a
    device's latest, which holds the payload instead."""
    received_at: float
    """When Steward received it (injected clock), epoch seconds."""
    observed_at: float
    """Event time used by the rules: device time when plausible, else ``received_at``."""
    flags: frozenset[str] = frozenset()
    """Policy notes, e.g. ``clock_skew`` when device time was not trusted."""
    registered: bool = True
    payload: bytes | None = None
    """The JSON it was decoded from; ``None`` for a reading made in code."""

    @property
    def telemetry(self) -> Telemetry:
        if self.parsed is not None:
            return self.parsed
        assert self.payload is not None, "a reading holds its telemetry or its payload"
        return cast(Telemetry, SCHEMAS[self.ref.kind].model_validate_json(self.payload))

    def kept(self) -> Reading:
        """This reading as a device's latest, kept until the next one: its payload (~0.2 KiB
        for an elevator) instead of the parsed model (~1.2 KiB), parsed again when asked for
        (evidence, the devices API, a saved dwell). The rules read views, not the model."""
        if self.parsed is None or self.payload is None or len(self.payload) > KEEP_PAYLOAD_BYTES:
            return self
        return Reading(
            self.ref,
            None,
            self.received_at,
            self.observed_at,
            self.flags,
            self.registered,
            self.payload,
        )


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
