"""Driving simulated devices through simulated time in tests (no sleeps, no wall clock)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from gateway.payloads import ElevatorTelemetry
from gateway.topics import DeviceRef, Kind
from simulators.base import Payload, SimDevice
from simulators.elevator import ElevatorModel

START = 1_767_225_600.0
"""2026-01-01T00:00Z: 08:00 in Shanghai, the morning peak."""
HOUR = 3600.0


def elevator(seed: int = 1, **params: Any) -> ElevatorModel:
    ref = DeviceRef("test-site", Kind.ELEVATOR, "elv-1")
    return ElevatorModel(ref, rng=random.Random(seed), start=START, **params)


def reports(device: SimDevice, seconds: float) -> Iterator[Payload]:
    """The device's own reports for ``seconds`` from its current time, at its own pace."""
    end = device.now + seconds
    last = device.now
    while (due := device.next_report_at(last)) <= end:
        yield device.telemetry(due)
        last = due


def samples(device: SimDevice, seconds: float, every_s: float = 1.0) -> Iterator[Payload]:
    """A payload every ``every_s`` simulated seconds (a terminal polled at a fixed rate)."""
    start = device.now
    for i in range(1, int(seconds / every_s) + 1):
        yield device.telemetry(start + i * every_s)


def elevator_readings(device: ElevatorModel, seconds: float) -> list[ElevatorTelemetry]:
    return [ElevatorTelemetry.model_validate(p) for p in reports(device, seconds)]


def at_time(payload: Payload) -> float:
    ts = payload["ts"]
    assert isinstance(ts, int)
    return ts / 1000.0


def run_until(device: ElevatorModel, predicate: Any, limit_s: float = 6 * HOUR) -> Payload:
    """Sample every 0.5 s until ``predicate(payload)``; the payload that matched."""
    for payload in samples(device, limit_s, 0.5):
        if predicate(payload):
            return payload
    raise AssertionError("the state never came up")
