"""Sensor-health rules of every kind on a fake clock: offline, stuck, implausible, battery low,
and flapping with the suppression of further fault tickets."""

from __future__ import annotations

from gateway.topics import DeviceRef, Kind
from rules.decision import Action, Category, Priority
from tests.rules.helpers import (
    CHECKPOINT,
    ELEVATOR,
    EXTINGUISHER,
    SITE,
    WATER,
    Timeline,
    cleared,
    device,
    fired,
    only,
    site_config,
)

HOUR = 3600.0
DAY = 86400.0


# -- device.offline ----------------------------------------------------------------------------
def test_offline_water_sensor_silent_for_more_than_30_minutes() -> None:
    tl = Timeline(ref=WATER)
    tl.water(0, 0.30)
    assert tl.tick(1800) == []
    out = tl.tick(1805)
    assert fired(out) == ["device.offline"]
    d = out[0]
    assert (d.priority, d.category) == (Priority.GENERAL, Category.FACILITY)
    assert d.dedup_key == "test-site/water_pressure/wp-1/offline"
    assert d.evidence["last_seen"] == "2026-01-01T00:00:00Z"


def test_offline_extinguisher_silent_for_more_than_6_hours() -> None:
    tl = Timeline(ref=EXTINGUISHER)
    tl.extinguisher(0)
    assert tl.tick(6 * HOUR) == []
    assert fired(tl.tick(6 * HOUR + 5)) == ["device.offline"]


def test_offline_from_the_last_will_of_any_kind() -> None:
    for ref in (WATER, EXTINGUISHER, CHECKPOINT):
        tl = Timeline(ref=ref)
        out = tl.status(0, online=False)
        assert fired(out) == ["device.offline"]
        assert out[0].evidence["status"] == "offline"


def test_offline_near_miss_patrol_checkpoints_speak_only_when_scanned() -> None:
    tl = Timeline(ref=CHECKPOINT)
    tl.scan(0)
    tl.tick(3 * DAY)
    assert "device.offline" not in fired(tl.decisions)


def test_offline_near_miss_an_elevator_silent_for_just_under_10_minutes() -> None:
    tl = Timeline()
    tl.at(0)
    tl.ticks(5, 595, 5)
    tl.at(599)
    tl.ticks(600, 1195, 5)
    assert fired(tl.decisions) == []


def test_offline_clears_by_itself_on_a_message_or_an_online_status() -> None:
    tl = Timeline(ref=WATER)
    tl.water(0, 0.30)
    tl.tick(1805)
    out = tl.water(2000, 0.31)
    assert cleared(out) == ["device.offline"]
    assert out[0].auto_resolve is True
    tl.status(2100, online=False)
    assert cleared(tl.status(2200, online=True)) == ["device.offline"]


# -- sensor.stuck ------------------------------------------------------------------------------
def test_stuck_on_the_sixth_equal_pressure_reading() -> None:
    tl = Timeline(ref=WATER)
    for i in range(5):
        assert tl.water(60 * i, 0.3005 if i % 2 else 0.300) == []  # within 0.001 MPa
    out = tl.water(300, 0.300)
    assert fired(out) == ["sensor.stuck"]
    d = out[0]
    assert (d.priority, d.category) == (Priority.GENERAL, Category.FACILITY)
    assert d.dedup_key == "test-site/water_pressure/wp-1/stuck"


def test_stuck_near_miss_five_equal_readings_then_a_change() -> None:
    tl = Timeline(ref=WATER)
    for i in range(5):
        tl.water(60 * i, 0.30)
    tl.water(300, 0.305)
    for i in range(4):
        tl.water(360 + 60 * i, 0.305)  # five again
    assert fired(tl.decisions) == []


def test_stuck_near_miss_extinguisher_gauges_are_steady_by_nature() -> None:
    tl = Timeline(ref=EXTINGUISHER)
    for i in range(48):
        tl.extinguisher(i * HOUR, 1.2)
    assert fired(tl.decisions) == []


def test_stuck_clears_by_itself_when_the_value_varies() -> None:
    tl = Timeline(ref=WATER)
    for i in range(6):
        tl.water(60 * i, 0.30)
    out = tl.water(360, 0.31)
    assert cleared(out) == ["sensor.stuck"]
    assert out[0].auto_resolve is True


def test_a_stuck_sensor_freezes_the_pressure_rules() -> None:
    tl = Timeline(ref=WATER)
    for i in range(30):  # a flat 0.5 MPa: high pressure, if it were a measurement
        tl.water(60 * i, 0.50)
    assert fired(tl.decisions) == ["sensor.stuck"]


# -- sensor.implausible ------------------------------------------------------------------------
def test_implausible_pressure_above_full_scale_or_below_zero() -> None:
    for p in (1.61, -0.02):
        tl = Timeline(ref=WATER)
        out = tl.water(0, p)
        assert fired(out) == ["sensor.implausible"]
        d = out[0]
        assert (d.priority, d.category) == (Priority.GENERAL, Category.FACILITY)
        assert d.dedup_key == "test-site/water_pressure/wp-1/implausible"


def test_implausible_elevator_floor_two_below_the_bottom() -> None:
    tl = Timeline(site_config(device(ELEVATOR, min_floor=-1, max_floor=10)))
    assert fired(tl.at(0, floor=-3)) == ["sensor.implausible"]


def test_implausible_near_miss_at_the_edges_of_the_range() -> None:
    tl = Timeline(ref=WATER)
    tl.water(0, 1.6)
    tl.water(1, -0.01)
    lift = Timeline(site_config(device(ELEVATOR, min_floor=-1, max_floor=10)))
    lift.at(0, floor=-2, moving=True, door_zone=False)  # an overrun, but a real reading
    assert fired(tl.decisions) == []
    assert fired(lift.decisions) == ["elevator.overrun"]


def test_implausible_clears_by_itself_after_three_plausible_readings() -> None:
    tl = Timeline(ref=WATER)
    tl.water(0, 1.9)
    assert tl.water(60, 0.30) == []
    assert tl.water(120, 1.8) == []  # implausible again: the count starts over
    assert tl.water(180, 0.31) == []
    assert tl.water(240, 0.30) == []
    out = tl.water(300, 0.31)
    assert cleared(out) == ["sensor.implausible"]
    assert out[0].auto_resolve is True


# -- device.battery_low ------------------------------------------------------------------------
def test_battery_low_at_20_percent() -> None:
    tl = Timeline(ref=EXTINGUISHER)
    assert tl.extinguisher(0, battery_pct=21.0) == []
    out = tl.extinguisher(HOUR, battery_pct=20.0)
    assert fired(out) == ["device.battery_low"]
    d = out[0]
    assert (d.priority, d.category) == (Priority.GENERAL, Category.FACILITY)
    assert d.dedup_key == "test-site/extinguisher/ext-1/battery_low"


def test_battery_low_near_miss_21_percent_for_days() -> None:
    tl = Timeline(ref=WATER)
    tl.water_every(0, 2 * DAY, HOUR, 0.30, battery_pct=21.0)
    assert fired(tl.decisions) == []


def test_battery_low_clears_by_itself_at_30_percent() -> None:
    tl = Timeline(ref=EXTINGUISHER)
    tl.extinguisher(0, battery_pct=15.0)
    assert tl.extinguisher(HOUR, battery_pct=29.0) == []  # hysteresis
    out = tl.extinguisher(2 * HOUR, battery_pct=30.0)
    assert cleared(out) == ["device.battery_low"]
    assert out[0].auto_resolve is True


def test_battery_low_is_not_a_sensor_fault() -> None:
    tl = Timeline(ref=WATER)
    tl.water(0, 0.09, battery_pct=10.0)
    assert fired(tl.tick(600)) == ["water.low_pressure"]  # the rules are not frozen


# -- device.misbehaving ------------------------------------------------------------------------
def test_misbehaving_fires_at_the_first_dropped_message_once() -> None:
    tl = Timeline(ref=WATER)
    tl.water(0, 0.30)
    out = tl.rate_limited(1)
    assert fired(out) == ["device.misbehaving"]
    d = out[0]
    assert (d.priority, d.category) == (Priority.GENERAL, Category.FACILITY)
    assert d.dedup_key == "test-site/water_pressure/wp-1/misbehaving"
    for i in range(100):  # the flood goes on: one ticket
        assert tl.rate_limited(1 + i * 0.01) == []


def test_misbehaving_near_miss_a_busy_device_within_its_rate_is_fine() -> None:
    tl = Timeline()
    tl.every(0, 300, 0.5)  # two readings a second, all accepted
    assert fired(tl.decisions) == []


def test_misbehaving_is_not_a_sensor_fault() -> None:
    tl = Timeline(ref=WATER)
    tl.water(0, 0.09)
    for t in (1, 200, 400):
        tl.rate_limited(t)
    tl.water(500, 0.088)
    assert fired(tl.tick(600)) == ["water.low_pressure"]  # not frozen
    assert "device.flapping" not in fired(tl.decisions)


def test_misbehaving_clears_by_itself_600s_after_the_last_dropped_message() -> None:
    tl = Timeline(ref=WATER)
    tl.water(0, 0.30)
    tl.rate_limited(10)
    tl.rate_limited(100)
    assert tl.ticks(105, 695, 5) == []  # (on the 5 s scans)
    out = tl.tick(700)
    assert cleared(out) == ["device.misbehaving"]
    assert out[0].auto_resolve is True


def test_misbehaving_clears_for_a_device_whose_messages_were_all_dropped() -> None:
    # the token bucket runs before decoding: a device flooding with bad payloads has no
    # accepted reading at all
    tl = Timeline(ref=WATER)
    assert fired(tl.rate_limited(10)) == ["device.misbehaving"]
    assert cleared(tl.ticks(600, 700, 5)) == ["device.misbehaving"]


# -- device.flapping ---------------------------------------------------------------------------
def quiet_checkpoint() -> Timeline:
    """A checkpoint outside key areas: never missed, never silent; only its Last Will."""
    return Timeline(site_config(device(CHECKPOINT, key_area=False)), ref=CHECKPOINT)


def drop_outs(tl: Timeline, times: list[float], ref: DeviceRef = CHECKPOINT) -> None:
    for t in times:
        tl.status(t, online=False, ref=ref)
        tl.status(t + 10, online=True, ref=ref)


def test_flapping_the_third_fault_in_24h_fires_flapping() -> None:
    tl = quiet_checkpoint()
    drop_outs(tl, [0, 100])
    assert fired(tl.decisions) == ["device.offline", "device.offline"]
    out = tl.status(200, online=False)
    assert fired(out) == ["device.offline", "device.flapping"]
    d = only(out, "device.flapping")
    assert (d.priority, d.category) == (Priority.GENERAL, Category.FACILITY)
    assert d.dedup_key == "test-site/patrol/cp-1/flapping"


def test_flapping_near_miss_three_faults_in_more_than_24h() -> None:
    tl = quiet_checkpoint()
    drop_outs(tl, [0, 12 * HOUR, DAY + 1])
    tl.tick(DAY + 100)
    assert "device.flapping" not in fired(tl.decisions)


def test_flapping_suppresses_further_fault_tickets_while_it_lasts() -> None:
    tl = quiet_checkpoint()
    drop_outs(tl, [0, 100, 200])
    before = len(tl.decisions)
    drop_outs(tl, [300, 400, 500])
    later = tl.decisions[before:]
    assert [d for d in later if d.action is Action.FIRE] == []


def test_flapping_clears_when_fewer_faults_are_in_the_window_and_waits_for_a_person() -> None:
    tl = quiet_checkpoint()
    drop_outs(tl, [0, 100, 200])
    assert tl.tick(DAY) == []  # the first fault is exactly 24 h old: still in the window
    out = tl.tick(DAY + 5)
    assert cleared(out) == ["device.flapping"]
    assert out[0].auto_resolve is False
    # once the earlier faults are out of the window too, a fault opens its own ticket again
    assert fired(tl.status(DAY + 300, online=False)) == ["device.offline"]


def test_flapping_counts_loop_current_faults_and_then_suppresses_them() -> None:
    tl = Timeline(ref=WATER)
    t = 0.0
    for _ in range(3):
        tl.water(t, 0.30, current_ma=8.8)
        tl.water(t + 10, 0.30, current_ma=25.0)  # fail-high
        tl.tick(t + 15)
        tl.water(t + 60, 0.31, current_ma=8.96)
        t += 600
    faults = fired(tl.decisions)
    assert faults.count("water.sensor_fault") == 3
    assert faults.count("device.flapping") == 1
    before = len(tl.decisions)
    tl.water(t, 0.30, current_ma=8.8)
    tl.water(t + 10, 0.30, current_ma=25.0)
    tl.tick(t + 15)
    assert fired(tl.decisions[before:]) == []


def test_flapping_near_miss_two_loop_faults_are_two_faults_not_more() -> None:
    # a transmitter failing low reads a flat, impossible -0.1 MPa: that is the loop fault
    # itself, not also a stuck and an implausible sensor (which would make it flap at once)
    tl = Timeline(ref=WATER)
    for start in (0.0, 3 * HOUR):
        tl.water(start, 0.30, current_ma=7.0)
        tl.water_every(start + 60, start + HOUR, 60, -0.1, wobble=0.0, current_ma=2.0)
        tl.water(start + HOUR + 60, 0.31, current_ma=7.1)
    assert fired(tl.decisions) == ["water.sensor_fault", "water.sensor_fault"]


def test_flapping_is_per_device() -> None:
    other = DeviceRef(SITE, Kind.PATROL, "cp-2")
    tl = Timeline(ref=CHECKPOINT)
    drop_outs(tl, [0, 100], CHECKPOINT)
    drop_outs(tl, [200], other)
    assert "device.flapping" not in fired(tl.decisions)
