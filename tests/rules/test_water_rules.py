"""Each water-pressure rule on a fake clock: fires, near misses, clears; zone confirmation of
outages and sensor faults freezing the pressure rules."""

from __future__ import annotations

from typing import Any

from gateway.topics import DeviceRef, Kind
from rules.decision import Action, Category, Priority
from tests.rules.helpers import (
    SITE,
    WATER,
    Timeline,
    cleared,
    device,
    fired,
    only,
    site_config,
)

A = DeviceRef(SITE, Kind.WATER_PRESSURE, "wp-a")
B = DeviceRef(SITE, Kind.WATER_PRESSURE, "wp-b")
FIRE_MAIN = DeviceRef(SITE, Kind.WATER_PRESSURE, "wp-fire")
LIFT = DeviceRef(SITE, Kind.ELEVATOR, "elv-1")
ZONE_KEY = "test-site/water_pressure/zone-north/outage"


def one_sensor_zone() -> Timeline:
    return Timeline(site_config(device(A, zone="north")), ref=A)


def two_sensor_zone(*extra: dict[str, Any]) -> Timeline:
    return Timeline(site_config(device(A, zone="north"), device(B, zone="north"), *extra), ref=A)


def fire_network(**params: Any) -> Timeline:
    return Timeline(site_config(device(FIRE_MAIN, network="fire", **params)), ref=FIRE_MAIN)


# -- water.outage ------------------------------------------------------------------------------
def test_outage_in_a_one_sensor_zone_fires_after_120s_without_confirmation() -> None:
    tl = one_sensor_zone()
    tl.water(0, 0.30, A)
    tl.water(10, 0.0, A)
    assert tl.tick(129.9) == []
    out = tl.tick(130)
    assert fired(out) == ["water.outage"]
    d = out[0]
    assert d.priority is Priority.EMERGENCY
    assert d.category is Category.FACILITY
    assert d.dedup_key == ZONE_KEY
    assert d.evidence["held_s"] == 120
    assert tl.tick(600) == []  # fires once


def test_outage_of_an_unzoned_sensor_is_keyed_by_the_device() -> None:
    tl = Timeline(ref=WATER)  # unregistered: no zone, nothing to confirm with
    tl.water(0, 0.02)  # at the threshold (≤ outage_mpa)
    d = only(tl.tick(120), "water.outage")
    assert d.dedup_key == "test-site/water_pressure/wp-1/outage"


def test_outage_near_miss_just_above_the_outage_threshold_is_only_low_pressure() -> None:
    tl = one_sensor_zone()
    tl.water_every(0, 3600, 60, 0.021, ref=A)  # 0.021 / 0.023 MPa: low, not out
    assert "water.outage" not in fired(tl.decisions)
    assert fired(tl.decisions) == ["water.low_pressure"]


def test_outage_dwell_restarts_when_pressure_comes_back_in_between() -> None:
    tl = one_sensor_zone()
    tl.water(0, 0.0, A)
    tl.water(100, 0.30, A)
    tl.water(110, 0.004, A)
    assert tl.tick(229) == []
    assert fired(tl.tick(230)) == ["water.outage"]


def test_outage_on_the_fire_network_is_not_a_domestic_outage() -> None:
    tl = fire_network()
    tl.water_every(0, 600, 60, 0.0, wobble=0.004, ref=FIRE_MAIN)
    assert "water.outage" not in fired(tl.decisions)


def test_outage_clears_after_300s_at_or_above_0_1_mpa_and_waits_for_a_person() -> None:
    tl = one_sensor_zone()
    tl.water(0, 0.0, A)
    assert fired(tl.tick(120)) == ["water.outage"]
    assert tl.water(200, 0.09, A) == []  # partly back: still an outage (hysteresis)
    assert tl.tick(900) == []
    tl.water(1000, 0.10, A)
    assert tl.tick(1299) == []
    out = tl.tick(1300)
    assert cleared(out) == ["water.outage"]
    assert out[0].auto_resolve is False
    assert out[0].dedup_key == ZONE_KEY


def test_outage_clear_hysteresis_restarts_if_pressure_falls_again() -> None:
    tl = one_sensor_zone()
    tl.water(0, 0.0, A)
    tl.tick(120)
    tl.water(200, 0.15, A)
    tl.water(400, 0.01, A)  # out again before 300 s
    tl.water(450, 0.16, A)
    assert tl.tick(749) == []
    assert cleared(tl.tick(750)) == ["water.outage"]


def test_outage_of_one_sensor_in_a_two_sensor_zone_is_not_confirmed() -> None:
    tl = two_sensor_zone()
    for i in range(31):
        tl.water(60 * i, 0.004 * (i % 2), A)
        tl.water(60 * i + 30, 0.31 + 0.002 * (i % 2), B)
    # unconfirmed, it is no outage; but a sensor at ≈ 0 is at least low pressure
    assert fired(tl.decisions) == ["water.low_pressure"]
    assert tl.decisions[0].ref == A


def test_outage_confirmed_by_the_second_sensor_of_the_zone_is_one_ticket() -> None:
    tl = two_sensor_zone()
    tl.water(0, 0.30, B)
    tl.water(0, 0.0, A)
    assert tl.tick(300) == []
    tl.water(600, 0.0, B)  # B confirms A, and A confirms B
    tl.water(610, 0.004, A)
    assert tl.tick(719) == []
    first = tl.tick(720)
    second = tl.tick(730)
    assert fired(first) == fired(second) == ["water.outage"]
    assert first[0].ref == B and second[0].ref == A
    assert first[0].dedup_key == second[0].dedup_key == ZONE_KEY  # one ticket for the zone
    # the zone's ticket is cleared once, when the last sensor of the zone is back
    tl.water(800, 0.30, B)
    tl.water(820, 0.31, A)
    assert tl.tick(1100) == []  # B is back, A still counts as out
    out = tl.tick(1120)
    assert cleared(out) == ["water.outage"]
    assert out[0].dedup_key == ZONE_KEY
    assert cleared(tl.decisions) == ["water.outage"]


def test_outage_confirmed_by_a_power_cut_of_an_elevator_in_the_same_building() -> None:
    tl = two_sensor_zone(device(LIFT, building="b1"))
    tl.water(0, 0.30, B)
    tl.water(0, 0.0, A)
    tl.send(0, LIFT)
    tl.send(5, LIFT, mains_power=False)
    assert fired(tl.tick(15)) == ["elevator.power_loss"]
    tl.water(20, 0.004, A)
    assert tl.tick(139) == []
    out = tl.tick(140)
    assert fired(out) == ["water.outage"]
    assert out[0].dedup_key == ZONE_KEY


def test_outage_near_miss_a_power_cut_in_another_building_confirms_nothing() -> None:
    tl = two_sensor_zone(device(LIFT, building="b2"))
    tl.water(0, 0.30, B)
    tl.water(0, 0.0, A)
    tl.send(0, LIFT)
    tl.send(5, LIFT, mains_power=False)
    tl.tick(15)
    tl.water(20, 0.004, A)
    tl.tick(600)
    assert fired(tl.decisions) == ["elevator.power_loss", "water.low_pressure"]  # no outage


def test_outage_near_miss_a_faulty_second_sensor_does_not_confirm() -> None:
    tl = two_sensor_zone()
    tl.water(0, 0.0, B, current_ma=2.0)  # broken loop: its ≈ 0 means nothing
    tl.water(0, 0.0, A, current_ma=4.0)
    tl.water(60, 0.004, A, current_ma=4.03)
    tl.tick(600)
    assert "water.outage" not in fired(tl.decisions)
    assert "water.sensor_fault" in fired(tl.decisions)


def test_outage_of_a_clean_zero_reading_fast_reporter_still_fires() -> None:
    tl = Timeline(ref=WATER)
    tl.water(0, 0.30, current_ma=8.0)
    for i in range(1, 60):  # an empty pipe; the loop current (4 mA) says the sensor is fine
        tl.water(10 * i, 0.0, current_ma=4.0)
    # a flat zero is the outage itself, not a stuck sensor
    assert fired(tl.decisions) == ["water.outage"]


def test_a_flat_line_above_the_floor_is_still_stuck() -> None:
    tl = Timeline(ref=WATER)
    for i in range(8):
        tl.water(10 * i, 0.300, current_ma=8.8)
    assert fired(tl.decisions) == ["sensor.stuck"]


# -- water.low_pressure ------------------------------------------------------------------------
def test_low_pressure_fires_after_600s_below_0_1_mpa() -> None:
    tl = Timeline(ref=WATER)
    tl.water(0, 0.30)
    tl.water_every(60, 600, 60, 0.09, wobble=-0.002)
    assert tl.tick(659) == []
    out = tl.tick(660)
    assert fired(out) == ["water.low_pressure"]
    d = out[0]
    assert d.priority is Priority.GENERAL
    assert d.category is Category.FACILITY
    assert d.dedup_key == "test-site/water_pressure/wp-1/low_pressure"


def test_low_pressure_near_miss_at_0_1_mpa_or_interrupted() -> None:
    tl = Timeline(ref=WATER)
    tl.water_every(0, 3600, 60, 0.10)  # not below 0.10
    tl.water_every(3660, 4200, 60, 0.09, wobble=-0.002)  # 540 s low
    tl.water_every(4260, 6000, 60, 0.13)
    assert fired(tl.decisions) == []


def test_low_pressure_near_miss_on_the_fire_network() -> None:
    tl = fire_network()
    tl.water_every(0, 3600, 60, 0.09, wobble=-0.002, ref=FIRE_MAIN)
    assert fired(tl.decisions) == []


def test_low_pressure_clears_after_600s_at_or_above_0_12_mpa_by_itself() -> None:
    tl = Timeline(ref=WATER)
    tl.water(0, 0.09)
    assert fired(tl.tick(600)) == ["water.low_pressure"]
    tl.water_every(700, 1400, 100, 0.11)  # above low_mpa, below low_clear_mpa: still low
    tl.water(1500, 0.12)
    assert cleared(tl.decisions) == []
    assert tl.tick(2099) == []
    out = tl.tick(2100)
    assert cleared(out) == ["water.low_pressure"]
    assert out[0].auto_resolve is True


# -- water.high_pressure / water.over_pressure ----------------------------------------------------
def test_high_pressure_fires_after_600s_above_0_45_mpa() -> None:
    tl = Timeline(ref=WATER)
    tl.water(0, 0.46)
    assert tl.tick(599) == []
    out = tl.tick(600)
    assert fired(out) == ["water.high_pressure"]
    assert out[0].priority is Priority.GENERAL
    assert out[0].dedup_key == "test-site/water_pressure/wp-1/high_pressure"


def test_high_pressure_near_miss_at_0_45_mpa_and_interrupted() -> None:
    tl = Timeline(ref=WATER)
    tl.water_every(0, 3600, 60, 0.45, wobble=-0.002)
    tl.water(3700, 0.50)
    tl.water(4290, 0.44)  # 590 s high
    tl.tick(6000)
    assert fired(tl.decisions) == []


def test_high_pressure_uses_the_sensors_own_max_mpa() -> None:
    tl = Timeline(site_config(device(A, max_mpa=0.35)), ref=A)
    tl.water(0, 0.40, A)
    assert fired(tl.tick(600)) == ["water.high_pressure"]
    plain = Timeline(ref=WATER)  # default limit 0.45: 0.40 is fine
    plain.water_every(0, 3600, 60, 0.40)
    assert plain.decisions == []


def test_high_pressure_clears_after_600s_below_the_limit_by_itself() -> None:
    tl = Timeline(ref=WATER)
    tl.water(0, 0.50)
    tl.tick(600)
    tl.water(700, 0.44)
    assert tl.tick(1299) == []
    out = tl.tick(1300)
    assert cleared(out) == ["water.high_pressure"]
    assert out[0].auto_resolve is True


def test_over_pressure_fires_above_0_6_mpa_as_important_in_the_high_group() -> None:
    tl = Timeline(ref=WATER)
    tl.water(0, 0.61)
    assert tl.tick(599) == []
    out = tl.tick(600)
    assert fired(out) == ["water.over_pressure"]
    assert out[0].priority is Priority.IMPORTANT
    assert out[0].dedup_key == "test-site/water_pressure/wp-1/high_pressure"


def test_over_pressure_near_miss_at_exactly_0_6_mpa_is_only_high() -> None:
    tl = Timeline(ref=WATER)
    tl.water_every(0, 3600, 60, 0.60, wobble=-0.002)
    assert fired(tl.decisions) == ["water.high_pressure"]


def test_over_pressure_raises_the_open_high_pressure_incident() -> None:
    tl = Timeline(ref=WATER)
    tl.water(0, 0.50)
    high = only(tl.tick(600), "water.high_pressure")
    tl.water(700, 0.65)
    out = tl.tick(1300)
    # the high rule stops holding as the over rule fires: no CLEAR of the shared ticket
    assert [(d.action, d.rule) for d in out] == [(Action.FIRE, "water.over_pressure")]
    assert out[0].dedup_key == high.dedup_key
    assert out[0].priority is Priority.IMPORTANT


def test_over_pressure_clears_after_600s_below_the_limit_by_itself() -> None:
    tl = Timeline(ref=WATER)
    tl.water(0, 0.65)
    tl.tick(600)
    tl.water(700, 0.40)
    assert tl.tick(1299) == []
    out = tl.tick(1300)
    assert cleared(out) == ["water.over_pressure"]
    assert out[0].auto_resolve is True


# -- water.burst -------------------------------------------------------------------------------
def steady(tl: Timeline, p: float = 0.35, until: float = 600) -> None:
    tl.water_every(0, until, 30, p, wobble=-0.002)


def test_burst_fires_when_a_sudden_drop_lasts_300s() -> None:
    tl = Timeline(ref=WATER)
    steady(tl)
    assert tl.water(630, 0.20) == []
    assert tl.tick(929) == []
    out = tl.tick(930)
    assert fired(out) == ["water.burst"]
    d = out[0]
    assert d.priority is Priority.IMPORTANT
    assert d.dedup_key == "test-site/water_pressure/wp-1/burst"
    assert 0.348 <= d.evidence["burst_baseline"] <= 0.35


def test_burst_near_miss_a_drop_just_under_the_threshold() -> None:
    tl = Timeline(ref=WATER)
    steady(tl)
    tl.water(630, 0.25)  # 0.099 below the baseline (needs ≥ 0.105, 30 %)
    tl.tick(2000)
    assert fired(tl.decisions) == []


def test_burst_near_miss_a_slow_decline_is_not_a_burst() -> None:
    tl = Timeline(ref=WATER)
    steady(tl)
    t, p = 660.0, 0.34
    while p >= 0.20:  # 0.01 MPa a minute
        tl.water(t, round(p, 3))
        t, p = t + 60, p - 0.01
    tl.tick(t + 600)
    assert fired(tl.decisions) == []


def test_burst_near_miss_a_drop_that_recovers_within_300s() -> None:
    tl = Timeline(ref=WATER)
    steady(tl)
    tl.water(630, 0.20)
    tl.water(900, 0.33)  # ≥ 90 % of the baseline
    tl.tick(2000)
    assert fired(tl.decisions) == []


def test_burst_clears_after_900s_back_near_the_baseline_and_waits_for_a_person() -> None:
    tl = Timeline(ref=WATER)
    steady(tl)
    tl.water(630, 0.20)
    tl.tick(930)
    tl.water(1000, 0.30)  # not yet 90 % of the baseline
    tl.water(1100, 0.33)
    assert tl.tick(1999) == []
    out = tl.tick(2000)
    assert cleared(out) == ["water.burst"]
    assert out[0].auto_resolve is False


# -- water.fire_low_pressure / water.fire_pressure_lost --------------------------------------------
def test_fire_low_pressure_fires_after_300s_below_0_07_mpa() -> None:
    tl = fire_network()
    tl.water(0, 0.06, FIRE_MAIN)
    assert tl.tick(299) == []
    out = tl.tick(300)
    assert fired(out) == ["water.fire_low_pressure"]
    assert out[0].priority is Priority.IMPORTANT
    assert out[0].dedup_key == "test-site/water_pressure/wp-fire/fire_pressure"


def test_fire_low_pressure_near_miss_at_the_minimum_and_on_the_domestic_network() -> None:
    tl = fire_network()
    tl.water_every(0, 3600, 60, 0.07, ref=FIRE_MAIN)
    assert fired(tl.decisions) == []
    domestic = Timeline(ref=WATER)
    domestic.water_every(0, 3600, 60, 0.06, wobble=-0.002)
    assert "water.fire_low_pressure" not in fired(domestic.decisions)


def test_fire_low_pressure_uses_the_sensors_own_minimum() -> None:
    tl = fire_network(min_mpa=0.10)
    tl.water(0, 0.09, FIRE_MAIN)
    assert fired(tl.tick(300)) == ["water.fire_low_pressure"]


def test_fire_low_pressure_clears_after_1800s_at_minimum_plus_margin() -> None:
    tl = fire_network()
    tl.water(0, 0.06, FIRE_MAIN)
    tl.tick(300)
    # above the minimum, below minimum + margin: still low
    tl.water_every(400, 2500, 300, 0.08, ref=FIRE_MAIN)
    assert cleared(tl.decisions) == []
    tl.water(2600, 0.09, FIRE_MAIN)  # exactly minimum + margin (≥: back)
    tl.water(3500, 0.095, FIRE_MAIN)
    assert tl.tick(4399) == []
    out = tl.tick(4400)
    assert cleared(out) == ["water.fire_low_pressure"]
    assert out[0].auto_resolve is False


def test_fire_pressure_lost_is_an_emergency_after_120s_and_joins_fire_low() -> None:
    tl = fire_network()
    tl.water(0, 0.0, FIRE_MAIN)
    assert tl.tick(119) == []
    lost = tl.tick(120)
    assert fired(lost) == ["water.fire_pressure_lost"]
    assert lost[0].priority is Priority.EMERGENCY
    low = tl.tick(300)
    assert fired(low) == ["water.fire_low_pressure"]
    assert low[0].dedup_key == lost[0].dedup_key  # one fire-pressure incident


def test_fire_pressure_lost_near_miss_just_above_0_02_mpa() -> None:
    tl = fire_network()
    tl.water_every(0, 3600, 60, 0.021, ref=FIRE_MAIN)
    assert fired(tl.decisions) == ["water.fire_low_pressure"]


def test_fire_pressure_lost_clears_only_when_the_whole_incident_ends() -> None:
    tl = fire_network()
    tl.water(0, 0.0, FIRE_MAIN)
    tl.tick(300)
    # pressure back above "lost", still below the minimum
    tl.water_every(400, 2200, 300, 0.05, ref=FIRE_MAIN)
    assert tl.tick(2300) == []  # the lost rule stopped, but fire_low holds the incident open
    tl.water_every(2400, 3600, 600, 0.30, ref=FIRE_MAIN)
    assert tl.tick(4199) == []
    out = tl.tick(4200)
    assert cleared(out) == ["water.fire_low_pressure"]
    assert all(d.auto_resolve is False for d in out)


# -- water.sensor_fault ------------------------------------------------------------------------
def test_sensor_fault_fires_after_4s_of_loop_current_below_3_6_ma() -> None:
    tl = Timeline(ref=WATER)
    tl.water(0, 0.30, current_ma=10.0)
    tl.water(10, 0.0, current_ma=3.5)
    assert tl.tick(13.9) == []
    out = tl.tick(14)
    assert fired(out) == ["water.sensor_fault"]
    assert out[0].priority is Priority.GENERAL
    assert out[0].dedup_key == "test-site/water_pressure/wp-1/sensor_fault"


def test_sensor_fault_fires_above_21_ma() -> None:
    tl = Timeline(ref=WATER)
    tl.water(0, 1.5, current_ma=21.1)
    assert fired(tl.tick(4)) == ["water.sensor_fault"]


def test_sensor_fault_near_miss_at_the_band_edges_or_shorter_than_4s() -> None:
    tl = Timeline(ref=WATER)
    tl.water(0, 0.0, current_ma=3.6)
    tl.water(10, 1.36, current_ma=21.0)
    tl.water(20, 0.0, current_ma=3.5)
    tl.water(23, 0.30, current_ma=7.0)
    tl.tick(100)
    assert fired(tl.decisions) == []


def test_sensor_fault_clears_by_itself_once_back_in_3_8_to_20_5_ma() -> None:
    tl = Timeline(ref=WATER)
    tl.water(0, 0.0, current_ma=3.5)
    tl.tick(4)
    assert tl.water(10, 0.0, current_ma=3.7) == []  # out of the fault band, not yet OK
    out = tl.water(20, 0.0, current_ma=3.8)
    assert cleared(out) == ["water.sensor_fault"]
    assert out[0].auto_resolve is True


def test_a_loop_fault_during_low_pressure_raises_no_outage_and_one_ticket() -> None:
    tl = one_sensor_zone()
    tl.water_every(0, 540, 60, 0.05, wobble=-0.002, ref=A, current_ma=4.5)
    # the transmitter breaks: 2 mA (NAMUR NE 43 fail-low), which reads as -0.1 MPa
    tl.water_every(560, 3600, 60, -0.1, wobble=0.0, ref=A, current_ma=2.0)
    assert fired(tl.decisions) == ["water.sensor_fault"]


def test_a_sensor_fault_freezes_a_firing_pressure_rule() -> None:
    tl = Timeline(ref=WATER)
    tl.water(0, 0.09, current_ma=4.9)
    assert fired(tl.tick(600)) == ["water.low_pressure"]
    # the loop breaks high: the value reads fine, but it cannot be trusted
    tl.water(700, 0.30, current_ma=22.0)
    assert fired(tl.tick(704)) == ["water.sensor_fault"]
    tl.water_every(710, 2400, 60, 0.30, ref=WATER, current_ma=22.0)
    assert cleared(tl.decisions) == []  # neither cleared nor re-fired while frozen
    assert tl.engine.devices[WATER.key].rules.is_firing("water.low_pressure")
    out = tl.water(2500, 0.09, current_ma=4.9)  # healthy again, and still low
    assert cleared(out) == ["water.sensor_fault"]
    assert tl.tick(4000) == []  # the low-pressure incident simply continues


def test_an_implausible_reading_freezes_the_pressure_rules_too() -> None:
    tl = Timeline(ref=WATER)
    tl.water(0, 0.30)
    tl.water(10, 1.9)  # beyond the transmitter's 1.6 MPa full scale
    tl.tick(1500)
    assert fired(tl.decisions) == ["sensor.implausible"]
