"""Water pressure, extinguisher and patrol models: normal behaviour and their incidents."""

from __future__ import annotations

import itertools
import random
import statistics
from datetime import datetime

import pytest

from gateway.payloads import ExtinguisherTelemetry, PatrolTelemetry, WaterPressureTelemetry
from gateway.topics import DeviceRef, Kind
from simulators.base import SHANGHAI
from simulators.extinguisher import ExtinguisherMonitor
from simulators.patrol import PatrolCheckpoint
from simulators.water import Network, WaterPressureSensor, loop_current_ma, pressure_from_current
from tests.simulators.helpers import HOUR, START, at_time, reports, samples

DAY = 24 * HOUR


def water(network: Network = "domestic", seed: int = 1) -> WaterPressureSensor:
    ref = DeviceRef("test-site", Kind.WATER_PRESSURE, "wp-1")
    return WaterPressureSensor(ref, rng=random.Random(seed), start=START, network=network)


def extinguisher(seed: int = 1) -> ExtinguisherMonitor:
    ref = DeviceRef("test-site", Kind.EXTINGUISHER, "fex-1")
    return ExtinguisherMonitor(ref, rng=random.Random(seed), start=START)


def checkpoint(seed: int = 1, interval_min: float = 120) -> PatrolCheckpoint:
    ref = DeviceRef("test-site", Kind.PATROL, "cp-1")
    return PatrolCheckpoint(ref, rng=random.Random(seed), start=START, interval_min=interval_min)


def _local_hour(payload: dict[str, object]) -> int:
    return datetime.fromtimestamp(at_time(payload), tz=SHANGHAI).hour


# --- water ----------------------------------------------------------------------------------


def test_loop_current_spans_4_to_20_ma_over_0_to_1_6_mpa() -> None:
    assert loop_current_ma(0.0) == 4.0
    assert loop_current_ma(0.8) == 12.0
    assert loop_current_ma(1.6) == 20.0
    assert pressure_from_current(12.0) == pytest.approx(0.8)


@pytest.mark.parametrize("network", ["domestic", "fire"])
def test_pressure_and_current_agree_for_a_week(network: Network) -> None:
    sensor = water(network)
    readings = [WaterPressureTelemetry.model_validate(p) for p in reports(sensor, 7 * DAY)]
    assert len(readings) == pytest.approx(7 * 24 * 60, abs=2)  # one a minute
    for r in readings:
        assert r.current_ma is not None and 4.0 <= r.current_ma <= 20.0
        assert r.pressure_mpa == pytest.approx(pressure_from_current(r.current_ma), abs=2e-4)
        assert 0.15 <= r.pressure_mpa <= 0.45  # set point, demand, draw and noise


def test_domestic_pressure_dips_with_morning_and_evening_demand() -> None:
    payloads = list(reports(water("domestic"), 3 * DAY))
    by_hour: dict[int, list[float]] = {}
    for p in payloads:
        by_hour.setdefault(_local_hour(p), []).append(float(str(p["pressure_mpa"])))
    peak = statistics.mean(by_hour[7] + by_hour[8] + by_hour[18])
    night = statistics.mean(by_hour[2] + by_hour[3] + by_hour[4])
    assert night - peak > 0.035


def test_burst_drops_the_pressure_and_stays_low() -> None:
    sensor = water()
    before = statistics.mean(float(str(p["pressure_mpa"])) for p in samples(sensor, 600, 60))
    sensor.burst(drop_mpa=0.15, ramp_s=30)
    after = [float(str(p["pressure_mpa"])) for p in samples(sensor, 1800, 60)]
    assert max(after) < before - 0.09
    assert statistics.mean(after) == pytest.approx(before - 0.15, abs=0.03)


def test_outage_reads_about_zero_on_a_healthy_loop() -> None:
    sensor = water()
    sensor.outage(ramp_s=60)
    readings = [WaterPressureTelemetry.model_validate(p) for p in samples(sensor, 1800, 60)][2:]
    for r in readings:
        assert r.pressure_mpa <= 0.02
        assert r.current_ma is not None and 3.8 <= r.current_ma <= 4.3  # NE 43: valid signal
    assert len({r.pressure_mpa for r in readings}) > 1  # not a flat line


def test_sensor_fault_is_outside_the_ne43_band() -> None:
    sensor = water()
    sensor.sensor_fault()
    for payload in samples(sensor, 600, 60):
        r = WaterPressureTelemetry.model_validate(payload)
        assert r.current_ma is not None and r.current_ma < 3.6
        assert r.pressure_mpa == 0.0  # the transmitter clips its value to its range
    sensor.restore()
    healthy = WaterPressureTelemetry.model_validate(sensor.telemetry(sensor.now + 60))
    assert healthy.current_ma is not None and healthy.current_ma > 4.0


def test_stuck_sensor_repeats_its_last_value() -> None:
    sensor = water()
    sensor.sensor_stuck()
    values = {(p["pressure_mpa"], p["current_ma"]) for p in samples(sensor, 600, 60)}
    assert len(values) == 1


# --- extinguisher ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_extinguisher_stays_in_the_green_band_for_a_month(seed: int) -> None:
    monitor = extinguisher(seed)
    readings = [ExtinguisherTelemetry.model_validate(p) for p in reports(monitor, 30 * DAY)]
    assert len(readings) == pytest.approx(30 * 24 * 12, abs=2)  # every 5 minutes
    pressures = [r.pressure_mpa for r in readings]
    assert min(pressures) >= 1.0 and max(pressures) <= 1.4
    assert max(pressures) - min(pressures) > 0.01  # it drifts
    assert all(r.on_bracket and r.tilt_deg is not None and r.tilt_deg < 5 for r in readings)
    battery = [r.battery_pct or 0.0 for r in readings]
    assert battery == sorted(battery, reverse=True) and battery[-1] > 0


def test_leak_takes_the_extinguisher_below_the_green_band() -> None:
    monitor = extinguisher()
    monitor.leak(rate_mpa_per_h=0.05)
    pressures = [float(str(p["pressure_mpa"])) for p in samples(monitor, 12 * HOUR, 300)]
    below = next(i for i, p in enumerate(pressures) if p < 1.0)
    assert 2 * 12 <= below <= 8 * 12  # between 2 and 8 hours
    assert pressures[-1] < pressures[0] - 0.5


def test_discharge_empties_it_within_a_minute() -> None:
    monitor = extinguisher()
    monitor.discharge()
    assert float(str(monitor.telemetry(monitor.now + 60)["pressure_mpa"])) < 0.12


def test_knocked_askew_it_stays_on_its_bracket_tilted() -> None:
    monitor = extinguisher()
    monitor.knock(60.0)
    askew = ExtinguisherTelemetry.model_validate(monitor.telemetry(monitor.now))
    assert askew.on_bracket is True and askew.tilt_deg == 60.0


def test_removed_from_bracket_and_put_back() -> None:
    monitor = extinguisher()
    monitor.remove_from_bracket()
    off = ExtinguisherTelemetry.model_validate(monitor.telemetry(monitor.now))
    assert off.on_bracket is False and off.tilt_deg is not None and off.tilt_deg > 45
    monitor.return_to_bracket()
    back = ExtinguisherTelemetry.model_validate(monitor.telemetry(monitor.now + 300))
    assert back.on_bracket is True and back.tilt_deg is not None and back.tilt_deg < 5


# --- patrol ---------------------------------------------------------------------------------


def test_checkpoint_is_scanned_every_two_hours_within_tolerance() -> None:
    cp = checkpoint()
    payloads = list(reports(cp, 3 * DAY))
    readings = [PatrolTelemetry.model_validate(p) for p in payloads]
    times = [r.device_time() for r in readings]
    assert len(readings) == pytest.approx(36, abs=3)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(0.85 * 2 * HOUR <= g <= 1.15 * 2 * HOUR for g in gaps)
    assert {r.tag_id for r in readings} == {"tag-cp-1"}
    day = {r.guard_id for r, p in zip(readings, payloads, strict=True) if 9 <= _local_hour(p) < 19}
    night = {r.guard_id for r, p in zip(readings, payloads, strict=True) if _local_hour(p) < 7}
    assert day == {"guard-01"} and night == {"guard-02"}


def test_missed_rounds_leave_a_gap() -> None:
    cp = checkpoint()
    first = list(reports(cp, 3 * HOUR))
    cp.miss_rounds(2)
    later = list(reports(cp, 12 * HOUR))
    gap = at_time(later[0]) - at_time(first[-1])
    assert 3 * 0.85 * 2 * HOUR <= gap <= 3 * 1.15 * 2 * HOUR


def test_rapid_rescan_is_a_second_scan_within_a_minute() -> None:
    cp = checkpoint()
    first = list(reports(cp, 3 * HOUR))
    cp.step(at_time(first[-1]) + 10)
    cp.rapid_rescan(after_s=30)
    again = next(iter(reports(cp, HOUR)))
    assert at_time(again) - at_time(first[-1]) == pytest.approx(40)
