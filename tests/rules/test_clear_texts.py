"""The catalogue's "clears when" column, where it says more than "the condition ends": each
test pins one way a rule ends that the text states and the rule tests elsewhere do not show
(docs/rules.md is generated from ``Rule.clear``; an audit found texts that promised less or
other than the code does)."""

from __future__ import annotations

from gateway.topics import DeviceRef, Kind
from tests.rules.helpers import (
    ELEVATOR,
    EXTINGUISHER,
    SITE,
    WATER,
    Timeline,
    cleared,
    device,
    fired,
    site_config,
)


def test_door_fault_clears_when_the_door_closes_without_a_trip() -> None:
    tl = Timeline()
    tl.at(0, door="open")
    assert fired(tl.tick(80)) == ["elevator.door_fault"]
    out = tl.at(90, door="closed")  # one cycle, the car has not travelled
    assert cleared(out) == ["elevator.door_fault"]
    assert out[0].auto_resolve is True


def test_circuit_open_ends_when_the_car_idles_outside_normal_mode() -> None:
    tl = Timeline()
    tl.at(0, safety_circuit_ok=False)
    assert fired(tl.tick(10)) == ["elevator.circuit_open"]
    out = tl.at(20, mode="inspection")  # the circuit is still reported open
    assert cleared(out) == ["elevator.circuit_open"]
    assert out[0].auto_resolve is False  # recorded: a person closes it


def test_long_inspection_and_fire_mode_end_in_any_other_mode() -> None:
    tl = Timeline()
    tl.at(0, mode="inspection")
    tl.at(4 * 3600, mode="inspection")
    assert "elevator.long_inspection" in fired(tl.decisions)
    assert cleared(tl.at(4 * 3600 + 10, mode="out_of_service")) == ["elevator.long_inspection"]
    tl.at(4 * 3600 + 20, mode="fire")
    assert fired(tl.tick(4 * 3600 + 80)) == ["elevator.fire_mode"]
    assert cleared(tl.at(4 * 3600 + 90, mode="out_of_service")) == ["elevator.fire_mode"]


def test_stopped_outside_door_zone_clears_when_the_door_opens() -> None:
    tl = Timeline()
    tl.at(0, door_zone=False)
    assert fired(tl.tick(60)) == ["elevator.stopped_outside_door_zone"]
    assert cleared(tl.at(70, door="opening")) == ["elevator.stopped_outside_door_zone"]


def test_speed_abnormal_holds_at_exactly_the_warning_ratio() -> None:
    tl = Timeline(site_config(device(ELEVATOR, rated_speed_mps=2.0)))
    tl.at(0, moving=True, direction="up", door_zone=False, speed_mps=2.2)
    assert fired(tl.at(3, speed_mps=2.2)) == ["elevator.speed_abnormal"]
    assert tl.at(4, speed_mps=2.1) == []  # 1.05 × rated: still in the band
    assert cleared(tl.at(5, speed_mps=2.09)) == ["elevator.speed_abnormal"]


def test_low_pressure_resolves_itself_once_a_confirmed_outage_takes_over() -> None:
    second = DeviceRef(SITE, Kind.WATER_PRESSURE, "wp-2")
    config = site_config(device(WATER, zone="z1"), device(second, zone="z1"))
    tl = Timeline(config, ref=WATER)
    tl.water_every(0, 600, 60, 0.0, wobble=0.0)  # alone at zero: low pressure, not an outage
    assert fired(tl.decisions) == ["water.low_pressure"]
    for t in range(630, 1500, 60):  # the second sensor of the zone confirms it
        tl.water(t, 0.0)
        tl.water(t + 1, 0.0, second)
    assert "water.outage" in fired(tl.decisions)
    low = [d for d in tl.decisions if d.rule == "water.low_pressure"]
    assert cleared(low) == ["water.low_pressure"] and low[-1].auto_resolve is True


def test_extinguisher_over_pressure_clears_on_one_reading_at_the_band_top() -> None:
    tl = Timeline(ref=EXTINGUISHER)
    tl.extinguisher(0, 1.5)
    assert fired(tl.extinguisher(60, 1.5)) == ["extinguisher.over_pressure"]
    assert cleared(tl.extinguisher(120, 1.4)) == ["extinguisher.over_pressure"]


def test_sensor_stuck_clears_on_a_reading_at_the_floor() -> None:
    tl = Timeline(ref=WATER)
    tl.water_every(0, 250, 50, 0.30, wobble=0.0)  # six equal readings
    assert "sensor.stuck" in fired(tl.decisions)
    assert "sensor.stuck" in cleared(tl.water(300, 0.02))  # a drained pipe is not stuck
