"""One contract suite over every sensor kind: whatever a simulated device is doing (normal or
in any injected incident), its payload passes the gateway's schema (gateway/payloads.py)
exactly as the gateway decodes it, from JSON bytes."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.payloads import SCHEMAS
from gateway.topics import DeviceRef, Kind
from simulators.base import SimDevice
from simulators.elevator import ElevatorModel
from simulators.extinguisher import ExtinguisherMonitor
from simulators.fleet import build_device
from simulators.patrol import PatrolCheckpoint
from simulators.water import WaterPressureSensor
from steward.site import PARAMS
from tests.simulators.helpers import HOUR, START, reports

Incident = Callable[[Any], None]
INCIDENTS: dict[Kind, list[Incident]] = {
    Kind.ELEVATOR: [
        lambda e: e.trap_between_floors(alarm_after_s=20),
        ElevatorModel.trap_at_landing,
        ElevatorModel.alarm_at_landing_door_open,
        ElevatorModel.stop_outside_zone_empty,
        ElevatorModel.power_cut,
        ElevatorModel.power_restored,
        ElevatorModel.door_open_while_moving,
        ElevatorModel.occupancy_sensor_fault,
        ElevatorModel.release,
        ElevatorModel.alarm_in_car,
        ElevatorModel.relevel_with_door_open,
        lambda e: e.speed_run(1.25, 2.5, governor_trip=True),
        lambda e: e.speed_run(1.1, 8.0),
        ElevatorModel.overrun,
        ElevatorModel.overshoot_and_relevel,
        lambda e: e.circuit_fault("safety", 30.0),
        lambda e: e.hold_door_open(45.0),
        ElevatorModel.door_cycling,
        ElevatorModel.door_fault_code,
        lambda e: e.controller_fault("07", 120.0),
        lambda e: e.inspection(600.0),
        lambda e: e.fire_recall(120.0),
        lambda e: e.flood(50.0, 2.0),
        lambda e: e.go_quiet(60.0),
    ],
    Kind.WATER_PRESSURE: [
        WaterPressureSensor.burst,
        WaterPressureSensor.outage,
        lambda w: w.sensor_fault(current_ma=22.5),
        WaterPressureSensor.sensor_fault,
        WaterPressureSensor.sensor_stuck,
        WaterPressureSensor.restore,
        lambda w: w.supply(0.7, 300.0),
        lambda w: w.supply(0.05, 60.0),
        lambda w: w.spike(1.55),
    ],
    Kind.EXTINGUISHER: [
        ExtinguisherMonitor.leak,
        ExtinguisherMonitor.remove_from_bracket,
        ExtinguisherMonitor.discharge,
        ExtinguisherMonitor.return_to_bracket,
        ExtinguisherMonitor.restore,
        lambda f: f.recharge(1.55),
        lambda f: f.knock(60.0),
        lambda f: f.set_battery(19.0),
    ],
    Kind.PATROL: [
        PatrolCheckpoint.miss_rounds,
        PatrolCheckpoint.rapid_rescan,
        PatrolCheckpoint.skip,
        PatrolCheckpoint.rescan_after_next,
        lambda p: p.route.sleep_through(p.now),
    ],
}


def device_of(kind: Kind, seed: int = 0) -> SimDevice:
    ref = DeviceRef("contract-site", kind, f"{kind.value.replace('_', '-')}-1")
    return build_device(ref, PARAMS[kind](), start=START, seed=seed)


def assert_valid(device: SimDevice, payload: dict[str, object]) -> None:
    body = orjson.dumps(payload)
    telemetry = SCHEMAS[device.kind].model_validate_json(body)
    assert telemetry.seq is not None and telemetry.device_time() == pytest.approx(device.now)


@pytest.mark.parametrize("kind", list(Kind))
def test_every_payload_of_every_kind_validates(kind: Kind) -> None:
    device = device_of(kind)
    count = 0
    for payload in reports(device, 6 * HOUR):
        assert_valid(device, payload)
        count += 1
    for incident in INCIDENTS[kind]:
        incident(device)
        for payload in reports(device, 3 * HOUR):
            assert_valid(device, payload)
            count += 1
    assert count > 0


@pytest.mark.parametrize("kind", list(Kind))
def test_seq_counts_up_and_ts_moves_forward(kind: Kind) -> None:
    device = device_of(kind)
    payloads = list(reports(device, 12 * HOUR))
    assert [p["seq"] for p in payloads] == list(range(len(payloads)))
    stamps = [p["ts"] for p in payloads]
    assert all(isinstance(ts, int) for ts in stamps)
    assert all(int(str(a)) < int(str(b)) for a, b in itertools.pairwise(stamps))


@settings(max_examples=40, deadline=None)
@given(
    kind=st.sampled_from(list(Kind)),
    seed=st.integers(0, 2**32),
    script=st.lists(st.tuples(st.floats(0.0, 900.0), st.integers(0, 8)), min_size=1, max_size=8),
)
def test_any_incident_sequence_keeps_payloads_valid(
    kind: Kind, seed: int, script: list[tuple[float, int]]
) -> None:
    device = device_of(kind, seed)
    incidents = INCIDENTS[kind]
    for wait_s, which in script:
        for payload in reports(device, wait_s):
            assert_valid(device, payload)
        incidents[which % len(incidents)](device)
    for payload in reports(device, 600):
        assert_valid(device, payload)
        if isinstance(device, ElevatorModel):
            assert device.min_floor <= int(str(payload["floor"])) <= device.max_floor
