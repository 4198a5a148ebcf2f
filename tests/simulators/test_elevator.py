"""The elevator model: normal-service invariants over long runs, and each injected incident
producing the signal pattern its rule needs (domain-rules-research.md §6, ELV-01..05, 10)."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from datetime import datetime, timedelta

import pytest

from gateway.payloads import Door, ElevatorTelemetry, Mode
from simulators.base import SHANGHAI
from simulators.elevator import DOOR_CLOSING_S, DOOR_OPEN_S, DOOR_OPENING_S
from tests.simulators.helpers import (
    HOUR,
    START,
    at_time,
    elevator,
    elevator_readings,
    run_until,
    samples,
)

SHAPES = [(-2, 18, 1.75), (-1, 11, 1.5), (1, 6, 1.0), (-3, 33, 2.5)]


@pytest.mark.parametrize(("low", "top", "speed"), SHAPES)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_normal_service_keeps_its_invariants_for_ten_hours(
    seed: int, low: int, top: int, speed: float
) -> None:
    car = elevator(seed, min_floor=low, max_floor=top, rated_speed_mps=speed)
    started = time.perf_counter()
    readings = elevator_readings(car, 10 * HOUR)
    assert time.perf_counter() - started < 1.0  # hundreds of simulated minutes, no sleeping
    assert len(readings) > 5000
    for r in readings:
        assert low <= r.floor <= top and r.floor != 0
        if r.moving:
            assert r.door is Door.CLOSED, "door open while moving"
            assert r.direction != "none"
        else:
            assert r.direction == "none"
            assert r.door_zone, "stopped outside the door zone in normal service"
        if r.door is not Door.CLOSED:
            assert r.door_zone, "door open outside the door zone"
        assert r.speed_mps is not None and 0 <= r.speed_mps <= speed + 1e-9
        # what the rules would read as an entrapment never happens in normal service
        assert not (not r.moving and r.door is Door.CLOSED and r.occupied)
        assert r.mode is Mode.NORMAL and r.mains_power and not r.alarm and not r.fault_codes
    assert {r.door for r in readings} == set(Door)
    assert any(r.occupied for r in readings) and any(r.moving for r in readings)


def test_reports_every_second_while_active_and_every_five_when_idle() -> None:
    car = elevator(4)
    readings = elevator_readings(car, 2 * HOUR)
    times = [r.device_time() for r in readings]
    seqs = [r.seq for r in readings]
    assert seqs == list(range(len(readings)))
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) > 0
    for gap, r in zip(gaps, readings, strict=False):
        active = r.moving or r.door is not Door.CLOSED
        assert gap <= (1.0 if active else 5.0) + 1e-3


def test_floor_moves_at_most_one_landing_per_second() -> None:
    car = elevator(5, min_floor=-2, max_floor=33, rated_speed_mps=2.5)
    floors = [int(str(r["floor"])) for r in samples(car, 3 * HOUR, 1.0)]
    index = {f: i for i, f in enumerate(car.landings)}
    steps = [abs(index[b] - index[a]) for a, b in itertools.pairwise(floors)]
    assert max(steps) == 1


def test_door_cycle_takes_two_five_and_three_seconds() -> None:
    car = elevator(6)
    runs: dict[str, list[float]] = {d.value: [] for d in Door}
    current, since = "closed", START
    for payload in samples(car, HOUR, 0.05):
        door = str(payload["door"])
        if door != current:
            runs[current].append(at_time(payload) - since)
            current, since = door, at_time(payload)
    assert Counter(round(s) for s in runs["opening"]).most_common(1)[0][0] == DOOR_OPENING_S
    assert Counter(round(s) for s in runs["open"]).most_common(1)[0][0] == DOOR_OPEN_S
    assert Counter(round(s) for s in runs["closing"]).most_common(1)[0][0] == DOOR_CLOSING_S


def test_travels_at_rated_speed() -> None:
    car = elevator(7, rated_speed_mps=1.75)
    speeds = [float(str(p["speed_mps"])) for p in samples(car, 2 * HOUR, 0.5)]
    assert max(speeds) == pytest.approx(1.75)
    assert 0 < min(s for s in speeds if s > 0) < 1.75  # accelerating and decelerating


def test_traffic_follows_the_residential_day() -> None:
    """More trips at 07–09 and 17–20 than late morning, fewest at night (Shanghai time)."""
    midnight = datetime(2026, 1, 1, tzinfo=SHANGHAI)
    car = elevator(8, calls_per_hour=20)
    car.step(midnight.timestamp())
    openings: Counter[int] = Counter()
    previous = "closed"
    for payload in samples(car, 24 * HOUR, 1.0):
        if payload["door"] == "opening" and previous != "opening":
            hour = (midnight + timedelta(seconds=at_time(payload) - midnight.timestamp())).hour
            openings[hour] += 1
        previous = str(payload["door"])
    peak = sum(openings[h] for h in (7, 8, 17, 18, 19)) / 5
    daytime = sum(openings[h] for h in (10, 11, 13, 14, 15)) / 5
    night = sum(openings[h] for h in (1, 2, 3, 4)) / 4
    assert peak > 1.8 * daytime > 1.8 * night


def test_same_seed_same_run_and_other_seed_other_run() -> None:
    def run(seed: int) -> list[object]:
        return list(samples(elevator(seed), HOUR, 2.0))

    assert run(11) == run(11)
    assert run(11) != run(12)


def _busy_with_passenger(payload: dict[str, object]) -> bool:
    return bool(payload["moving"]) and payload["occupied"] is True and not payload["door_zone"]


# --- incidents ------------------------------------------------------------------------------


def test_trap_between_floors_while_travelling() -> None:
    car = elevator(21)
    before = run_until(car, _busy_with_passenger)
    car.trap_between_floors(alarm_after_s=20)
    trapped = car.telemetry(car.now)
    assert trapped["floor"] == before["floor"]
    assert trapped["fault_codes"] == ["04"]
    readings = [ElevatorTelemetry.model_validate(p) for p in samples(car, 30 * 60, 1.0)]
    for second, r in enumerate(readings, start=1):
        assert (r.moving, r.door, r.door_zone, r.occupied) == (False, Door.CLOSED, False, True)
        assert r.speed_mps == 0 and r.direction == "none" and r.mode is Mode.NORMAL
        assert r.floor == before["floor"]
        assert r.alarm is (second >= 20), f"alarm at {second} s"


def test_trap_between_floors_from_idle_puts_a_passenger_between_floors() -> None:
    car = elevator(22, calls_per_hour=0)
    car.trap_between_floors(alarm_after_s=None)
    for payload in samples(car, 600, 5.0):
        r = ElevatorTelemetry.model_validate(payload)
        assert (r.moving, r.door, r.door_zone, r.occupied, r.alarm) == (
            False,
            Door.CLOSED,
            False,
            True,
            False,
        )


def test_trap_at_landing() -> None:
    car = elevator(23)
    run_until(car, _busy_with_passenger)
    car.trap_at_landing()
    for payload in samples(car, 600, 1.0):
        r = ElevatorTelemetry.model_validate(payload)
        assert (r.moving, r.door, r.door_zone, r.occupied, r.alarm) == (
            False,
            Door.CLOSED,
            True,
            True,
            False,
        )


def test_alarm_at_landing_with_door_open_is_the_filtered_near_miss() -> None:
    car = elevator(24)
    run_until(car, lambda p: p["door"] == "open")
    car.alarm_at_landing_door_open()
    first = ElevatorTelemetry.model_validate(car.telemetry(car.now))
    assert (first.alarm, first.door, first.door_zone, first.moving) == (
        True,
        Door.OPEN,
        True,
        False,
    )
    readings = [ElevatorTelemetry.model_validate(p) for p in samples(car, HOUR, 0.5)]
    pressed = [r for r in readings if r.alarm]
    assert 4 <= len(pressed) <= 8  # held ~3 s, sampled every 0.5 s
    for r in pressed:
        assert r.door is Door.OPEN and r.door_zone and not r.moving
    assert any(r.moving for r in readings)  # service goes on
    assert not any(not r.moving and r.door is Door.CLOSED and r.occupied for r in readings)


def test_stop_outside_zone_empty() -> None:
    car = elevator(25)
    run_until(car, lambda p: p["moving"] is True)
    car.stop_outside_zone_empty()
    for payload in samples(car, 600, 1.0):
        r = ElevatorTelemetry.model_validate(payload)
        assert (r.moving, r.door, r.door_zone, r.occupied, r.alarm) == (
            False,
            Door.CLOSED,
            False,
            False,
            False,
        )
        assert r.fault_codes == ["04"]


def test_power_cut_rescue_device_levels_the_car_and_lets_passengers_out() -> None:
    car = elevator(26)
    run_until(car, lambda p: p["moving"] is True and float(str(p["speed_mps"])) > 1.0)
    car.power_cut()
    during = [ElevatorTelemetry.model_validate(p) for p in samples(car, 300, 1.0)]
    assert all(not r.mains_power for r in during)
    assert all((r.speed_mps or 0.0) <= 0.3 for r in during)  # on its battery: relevel speed
    assert any(r.door is Door.OPEN and r.door_zone for r in during)  # passengers let out
    for r in during[60:]:
        assert (r.moving, r.door, r.door_zone, r.occupied) == (False, Door.CLOSED, True, False)
    car.power_restored()
    after = [ElevatorTelemetry.model_validate(p) for p in samples(car, HOUR, 1.0)]
    assert all(r.mains_power for r in after) and any(r.moving for r in after)


def test_power_cut_without_rescue_device_stops_the_car_where_it_is() -> None:
    car = elevator(26)
    before = run_until(car, lambda p: p["moving"] is True)
    car.power_cut(rescue=False)
    during = [ElevatorTelemetry.model_validate(p) for p in samples(car, 300, 1.0)]
    assert all(not r.mains_power and not r.moving and r.speed_mps == 0 for r in during)
    assert {r.floor for r in during} <= {before["floor"], during[0].floor}
    car.power_restored()
    after = [ElevatorTelemetry.model_validate(p) for p in samples(car, HOUR, 1.0)]
    assert all(r.mains_power for r in after)
    settled = after[60:]  # relevelled and let any passenger out within a minute
    assert any(r.moving for r in settled)
    assert all(r.door_zone for r in settled if not r.moving)


def test_door_open_while_moving_then_the_safety_gear_stops_the_car() -> None:
    car = elevator(27, calls_per_hour=0)
    car.door_open_while_moving(duration_s=12)
    readings = [ElevatorTelemetry.model_validate(p) for p in samples(car, 120, 1.0)]
    creeping = [r for r in readings if r.moving]
    assert len(creeping) >= 10
    assert all(r.door is not Door.CLOSED and r.speed_mps for r in creeping)
    stopped = readings[-1]
    assert not stopped.moving and stopped.door is Door.OPEN and not stopped.door_zone
    assert "05" in stopped.fault_codes
    assert stopped.safety_circuit_ok is False and stopped.door_lock_ok is False


def test_release_after_rescue_returns_to_normal_service() -> None:
    car = elevator(28)
    run_until(car, _busy_with_passenger)
    car.trap_between_floors(alarm_after_s=20)
    list(samples(car, 120, 5.0))
    car.release()
    readings = [ElevatorTelemetry.model_validate(p) for p in samples(car, 2 * HOUR, 1.0)]
    assert not any(r.alarm or r.fault_codes for r in readings)
    let_out = next(i for i, r in enumerate(readings) if r.door is Door.OPEN)
    assert let_out < 30 and readings[let_out].door_zone and not readings[let_out].occupied
    for r in readings[let_out:]:
        assert r.door is Door.CLOSED or r.door_zone
        assert not (r.moving and r.door is not Door.CLOSED)
        assert r.moving or r.door_zone


def test_occupancy_sensor_fault_reports_null() -> None:
    car = elevator(29)
    car.occupancy_sensor_fault()
    payloads = list(samples(car, 300, 5.0))
    assert all(p["occupied"] is None for p in payloads)
    assert all(ElevatorTelemetry.model_validate(p).occupied is None for p in payloads)


def test_inspection_mode_takes_no_calls() -> None:
    car = elevator(30)
    run_until(car, lambda p: p["door"] == "closed" and not p["moving"])
    car.set_mode(Mode.INSPECTION)
    readings = [ElevatorTelemetry.model_validate(p) for p in samples(car, HOUR, 5.0)]
    assert all(r.mode is Mode.INSPECTION for r in readings)
    assert not any(r.moving for r in readings[10:])
    car.set_mode(Mode.NORMAL)
    assert any(p["moving"] for p in samples(car, HOUR, 1.0))


def test_a_building_needs_two_landings() -> None:
    with pytest.raises(ValueError, match="two landings"):
        elevator(min_floor=1, max_floor=1)
