"""The elevator rules not covered in test_elevator_rules.py, and the remaining fire / near miss /
clear cases of those that are; plus ``rules.derived.repeated_failure``."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.topics import DeviceRef, Kind
from rules.decision import Action, Category, Priority
from rules.derived import REPEATED_FAILURE, is_elevator_fault, repeated_failure
from steward.site import ElevatorThresholds
from tests.rules.helpers import (
    ELEVATOR,
    Timeline,
    cleared,
    device,
    fired,
    only,
    site_config,
)

TRAPPED: dict[str, Any] = {
    "moving": False,
    "door": "closed",
    "door_zone": False,
    "occupied": True,
    "floor": 7,
}
MOVING: dict[str, Any] = {"moving": True, "direction": "up", "door_zone": False, "door": "closed"}
KEY = "test-site/elevator/elv-1/"


def registered(**params: Any) -> Timeline:
    """elv-1 serving floors -1..10 at 1.0 m/s rated speed (unless told otherwise)."""
    params = {"min_floor": -1, "max_floor": 10, "rated_speed_mps": 1.0, **params}
    return Timeline(site_config(device(ELEVATOR, **params)))


# -- elevator.entrapment -----------------------------------------------------------------------
def test_entrapment_from_controller_code_11_fires_at_once() -> None:
    tl = Timeline()
    tl.at(0)
    out = tl.at(1, fault_codes=["11"])
    assert fired(out) == ["elevator.entrapment"]
    d = out[0]
    assert (d.priority, d.category) == (Priority.EMERGENCY, Category.FACILITY)
    assert d.dedup_key == KEY + "entrapment"
    assert d.auto_resolve is False


def test_entrapment_near_miss_held_29s() -> None:
    tl = Timeline()
    tl.at(0, **TRAPPED)
    tl.tick(29)
    tl.at(29.5, moving=True, direction="down")  # the car moves on just in time
    tl.tick(120)
    assert fired(tl.decisions) == []


# -- elevator.entrapment_at_landing ------------------------------------------------------------
def test_entrapment_at_landing_shares_the_entrapment_key() -> None:
    tl = Timeline()
    tl.at(0, door_zone=True, occupied=True)
    d = only(tl.tick(45), "elevator.entrapment_at_landing")
    assert d.dedup_key == KEY + "entrapment"
    assert d.category is Category.FACILITY


def test_entrapment_at_landing_near_miss_nobody_in_the_car() -> None:
    tl = Timeline()
    tl.at(0, door_zone=True, occupied=False)
    tl.tick(500)
    assert fired(tl.decisions) == []


def test_entrapment_at_landing_near_miss_44s_then_the_door_opens() -> None:
    tl = Timeline()
    tl.at(0, door_zone=True, occupied=True)
    tl.tick(44)
    tl.at(44.5, door="opening")
    tl.at(50, door="closed", occupied=False)  # the passenger walked out
    tl.tick(200)
    assert fired(tl.decisions) == []


def test_entrapment_at_landing_clears_when_the_door_opens_but_waits_for_a_person() -> None:
    tl = Timeline()
    tl.at(0, door_zone=True, occupied=True)
    tl.tick(45)
    out = tl.at(60, door="open")
    assert cleared(out) == ["elevator.entrapment_at_landing"]
    assert out[0].auto_resolve is False


# -- elevator.alarm_button / elevator.alarm_follow_up ------------------------------------------
def test_alarm_button_at_a_landing_with_the_door_closed_is_not_filtered() -> None:
    tl = Timeline()
    out = tl.at(0, door_zone=True, door="closed", alarm=True)
    assert fired(out) == ["elevator.alarm_button"]
    assert out[0].dedup_key == KEY + "entrapment"


def test_alarm_button_counts_in_full_while_the_door_is_still_opening() -> None:
    # filtering needs the door open: while it is still opening the passenger is shut in
    tl = Timeline()
    out = tl.at(0, door_zone=True, door="opening", alarm=True)
    assert fired(out) == ["elevator.alarm_button"]


def test_alarm_button_clears_on_release_and_waits_for_a_person() -> None:
    tl = Timeline()
    tl.at(0, door_zone=True, door="closed", alarm=True)
    out = tl.at(5, alarm=False)
    assert cleared(out) == ["elevator.alarm_button"]
    assert out[0].auto_resolve is False


def test_alarm_follow_up_is_a_general_service_ticket_of_its_own() -> None:
    tl = Timeline()
    d = only(tl.at(0, door_zone=True, door="open", alarm=True), "elevator.alarm_follow_up")
    assert (d.priority, d.category) == (Priority.GENERAL, Category.SERVICE)
    assert d.dedup_key == KEY + "alarm_follow_up"


def test_alarm_follow_up_near_miss_outside_the_door_zone_is_an_alarm() -> None:
    tl = Timeline()
    out = tl.at(0, door_zone=False, door="open", alarm=True)
    assert fired(out) == ["elevator.alarm_button"]


def test_alarm_follow_up_clears_on_release_and_waits_for_a_person() -> None:
    tl = Timeline()
    tl.at(0, door_zone=True, door="open", alarm=True)
    out = tl.at(10, alarm=False)
    assert cleared(out) == ["elevator.alarm_follow_up"]
    assert out[0].auto_resolve is False


# -- elevator.stopped_outside_door_zone --------------------------------------------------------
def test_stopped_outside_zone_has_its_own_key_and_category() -> None:
    tl = Timeline()
    tl.at(0, moving=False, door_zone=False, occupied=False)
    d = only(tl.tick(60), "elevator.stopped_outside_door_zone")
    assert d.dedup_key == KEY + "stopped_outside_door_zone"
    assert d.category is Category.FACILITY


@pytest.mark.parametrize(
    "near_miss",
    [
        {"mode": "inspection"},  # a technician moves it by hand
        {"door": "open"},  # not closed
        {"door_zone": True},  # at a landing
    ],
)
def test_stopped_outside_zone_near_misses(near_miss: dict[str, Any]) -> None:
    tl = Timeline()
    tl.every(0, 200, 10, **{"moving": False, "door_zone": False, **near_miss})
    assert "elevator.stopped_outside_door_zone" not in fired(tl.decisions)


def test_stopped_outside_zone_near_miss_59s_then_the_car_moves() -> None:
    tl = Timeline()
    tl.at(0, moving=False, door_zone=False, occupied=False)
    tl.tick(59)
    tl.at(59.5, moving=True)
    tl.tick(300)
    assert fired(tl.decisions) == []


def test_stopped_outside_zone_clears_by_itself_when_the_car_reaches_a_landing() -> None:
    tl = Timeline()
    tl.at(0, moving=False, door_zone=False, occupied=False)
    tl.tick(60)
    out = tl.at(90, door_zone=True)
    assert cleared(out) == ["elevator.stopped_outside_door_zone"]
    assert out[0].auto_resolve is True


# -- elevator.door_open_while_moving -----------------------------------------------------------
def test_door_open_while_moving_from_code_05_fires_at_once() -> None:
    tl = Timeline()
    out = tl.at(0, fault_codes=["05"])
    assert fired(out) == ["elevator.door_open_while_moving"]
    assert out[0].dedup_key == KEY + "door_open_while_moving"
    assert "elevator.controller_fault" not in fired(out)  # 05 has a rule of its own


def test_door_open_while_moving_near_miss_stopped_with_the_door_open() -> None:
    tl = Timeline()
    tl.every(0, 30, 1, moving=False, door="open", door_zone=True)
    assert "elevator.door_open_while_moving" not in fired(tl.decisions)


def test_door_open_while_moving_clears_when_the_door_closes_and_waits_for_a_person() -> None:
    tl = Timeline()
    tl.at(0, moving=True, door="open", door_zone=False)
    tl.at(1)
    out = tl.at(2, door="closed")
    assert cleared(out) == ["elevator.door_open_while_moving"]
    assert out[0].auto_resolve is False


# -- elevator.power_loss -----------------------------------------------------------------------
def test_power_loss_key_and_category() -> None:
    tl = Timeline()
    tl.at(0, mains_power=False)
    d = only(tl.tick(10), "elevator.power_loss")
    assert d.dedup_key == KEY + "power_loss"
    assert (d.priority, d.category) == (Priority.EMERGENCY, Category.FACILITY)


def test_power_loss_clear_hysteresis_restarts_on_a_new_cut() -> None:
    tl = Timeline()
    tl.at(0, mains_power=False)
    tl.tick(10)
    tl.at(20, mains_power=True)
    tl.at(50, mains_power=False)  # lost again before 60 s on mains
    tl.at(55, mains_power=True)
    assert tl.tick(114) == []
    assert cleared(tl.tick(115)) == ["elevator.power_loss"]


# -- elevator.overrun --------------------------------------------------------------------------
@pytest.mark.parametrize("floor", [11, -2])
def test_overrun_one_floor_beyond_a_terminal_floor_fires_at_once(floor: int) -> None:
    tl = registered()
    tl.at(0, floor=10 if floor > 0 else -1, moving=True, door_zone=False)
    out = tl.at(1, floor=floor)
    assert fired(out) == ["elevator.overrun"]
    assert out[0].priority is Priority.EMERGENCY
    assert out[0].dedup_key == KEY + "overrun"


def test_overrun_from_controller_codes_09_and_10() -> None:
    for code in ("09", "10"):
        tl = Timeline()
        assert fired(tl.at(0, fault_codes=[code])) == ["elevator.overrun"]


def test_overrun_near_miss_at_the_terminal_floors_and_beyond_plausibility() -> None:
    tl = registered()
    tl.at(0, floor=10)
    tl.at(10, floor=-1)
    assert fired(tl.decisions) == []
    out = tl.at(20, floor=12)  # two floors past the top: a broken sensor, not an overrun
    assert fired(out) == ["sensor.implausible"]


def test_overrun_clears_when_back_in_range_and_waits_for_a_person() -> None:
    tl = registered()
    tl.at(0, floor=11)
    out = tl.at(60, floor=10)
    assert cleared(out) == ["elevator.overrun"]
    assert out[0].auto_resolve is False


# -- elevator.overspeed / elevator.speed_abnormal ----------------------------------------------
def test_overspeed_at_115_percent_of_rated_speed_fires_at_once() -> None:
    tl = registered(rated_speed_mps=2.0)
    out = tl.at(0, **MOVING, speed_mps=2.3)
    assert fired(out) == ["elevator.overspeed"]
    assert out[0].priority is Priority.EMERGENCY
    assert out[0].dedup_key == KEY + "overspeed"


def test_overspeed_near_miss_at_114_percent_is_only_abnormal() -> None:
    tl = registered()
    tl.every(0, 10, 1, **MOVING, speed_mps=1.14)
    assert fired(tl.decisions) == ["elevator.speed_abnormal"]


def test_overspeed_clears_when_the_speed_drops_and_waits_for_a_person() -> None:
    tl = registered()
    tl.at(0, **MOVING, speed_mps=1.2)
    out = tl.at(1, speed_mps=0.9)
    assert cleared(out) == ["elevator.overspeed"]
    assert out[0].auto_resolve is False


def test_speed_abnormal_fires_after_3s_at_105_percent() -> None:
    tl = registered()
    tl.at(0, **MOVING, speed_mps=1.05)
    assert tl.tick(2.9) == []
    out = tl.tick(3)
    assert fired(out) == ["elevator.speed_abnormal"]
    assert out[0].priority is Priority.GENERAL
    assert out[0].dedup_key == KEY + "overspeed"


def test_speed_abnormal_near_miss_below_the_band_or_too_short() -> None:
    tl = registered()
    tl.every(0, 20, 1, **MOVING, speed_mps=1.04)
    tl.at(21, speed_mps=1.1)
    tl.tick(23.9)
    tl.at(23.95, speed_mps=1.0)
    tl.tick(60)
    assert fired(tl.decisions) == []


def test_speed_abnormal_then_overspeed_is_one_incident_raised_to_emergency() -> None:
    tl = registered()
    tl.at(0, **MOVING, speed_mps=1.1)
    warning = only(tl.tick(3), "elevator.speed_abnormal")
    out = tl.at(4, speed_mps=1.2)
    # the warning stops holding as overspeed fires: no CLEAR of the shared ticket
    assert [(d.action, d.rule) for d in out] == [(Action.FIRE, "elevator.overspeed")]
    assert out[0].dedup_key == warning.dedup_key


def test_speed_abnormal_clears_below_the_band_and_waits_for_a_person() -> None:
    tl = registered()
    tl.at(0, **MOVING, speed_mps=1.1)
    tl.tick(3)
    out = tl.at(5, speed_mps=1.0)
    assert cleared(out) == ["elevator.speed_abnormal"]
    assert out[0].auto_resolve is False


def test_speed_uses_the_registered_rated_speed() -> None:
    tl = Timeline()  # unregistered: 1.75 m/s rated, so 1.9 m/s is 109 %
    tl.every(0, 5, 1, **MOVING, speed_mps=1.9)
    assert fired(tl.decisions) == ["elevator.speed_abnormal"]


# -- elevator.circuit_open ---------------------------------------------------------------------
def test_circuit_open_while_moving_fires_at_once() -> None:
    tl = Timeline()
    out = tl.at(0, **MOVING, safety_circuit_ok=False)
    assert fired(out) == ["elevator.circuit_open"]
    assert out[0].priority is Priority.GENERAL
    assert out[0].dedup_key == KEY + "circuit_open"


def test_circuit_open_while_idle_needs_10s_in_normal_mode() -> None:
    tl = Timeline()
    tl.at(0, door_lock_ok=False)
    assert tl.tick(9.9) == []
    assert fired(tl.tick(10)) == ["elevator.circuit_open"]


def test_circuit_open_from_code_01_while_moving() -> None:
    tl = Timeline()
    assert fired(tl.at(0, **MOVING, fault_codes=["01"])) == ["elevator.circuit_open"]


def test_circuit_open_near_miss_idle_in_inspection_mode_or_closed_again() -> None:
    tl = Timeline()
    tl.every(0, 60, 5, mode="inspection", safety_circuit_ok=False)
    tl.at(61, mode="normal", safety_circuit_ok=False)
    tl.at(70, safety_circuit_ok=True)  # 9 s
    tl.tick(200)
    assert fired(tl.decisions) == []


def test_circuit_open_clears_when_closed_and_waits_for_a_person() -> None:
    tl = Timeline()
    tl.at(0, **MOVING, safety_circuit_ok=False)
    out = tl.at(1, safety_circuit_ok=True)
    assert cleared(out) == ["elevator.circuit_open"]
    assert out[0].auto_resolve is False


# -- elevator.door_fault -----------------------------------------------------------------------
def test_door_fault_door_open_at_a_landing_for_80s() -> None:
    tl = Timeline()
    tl.at(0, door="open", door_zone=True)
    assert tl.tick(79) == []
    out = tl.tick(80)
    assert fired(out) == ["elevator.door_fault"]
    assert out[0].priority is Priority.GENERAL
    assert out[0].dedup_key == KEY + "door_fault"


def test_door_fault_five_door_cycles_without_a_trip() -> None:
    tl = Timeline()
    for i in range(4):
        tl.at(10 * i, door="open")
        assert tl.at(10 * i + 5, door="closed") == []
    tl.at(40, door="open")
    out = tl.at(45, door="closed")
    assert fired(out) == ["elevator.door_fault"]
    assert out[0].evidence["door_cycles"] == 5


@pytest.mark.parametrize("code", ["02", "03"])
def test_door_fault_from_codes_02_03(code: str) -> None:
    tl = Timeline()
    assert fired(tl.at(0, fault_codes=[code])) == ["elevator.door_fault"]


def test_door_fault_near_misses() -> None:
    tl = Timeline()
    for i in range(4):  # four cycles, then a trip resets the count
        tl.at(10 * i, door="open")
        tl.at(10 * i + 5, door="closed")
    tl.at(40, moving=True, door_zone=False)
    tl.at(45, moving=False, door_zone=True)
    tl.at(46, door="open")
    assert tl.tick(125) == []  # open 79 s
    tl.at(125, door="closed")
    tl.at(130, mode="inspection", door="open")  # a technician holds it open
    tl.tick(400)
    assert fired(tl.decisions) == []


def test_door_fault_clears_by_itself_after_a_normal_trip() -> None:
    tl = Timeline()
    for i in range(5):
        tl.at(10 * i, door="open")
        tl.at(10 * i + 5, door="closed")
    assert "elevator.door_fault" in fired(tl.decisions)
    assert tl.at(60, door="open") == []  # still not travelling
    tl.at(65, door="closed")
    out = tl.at(70, moving=True, door_zone=False)
    assert cleared(out) == ["elevator.door_fault"]
    assert out[0].auto_resolve is True


# -- elevator.long_inspection ------------------------------------------------------------------
def test_long_inspection_after_4_hours() -> None:
    tl = Timeline()
    tl.every(0, 14100, 300, mode="inspection")
    assert tl.tick(14399) == []
    out = tl.tick(14400)
    assert fired(out) == ["elevator.long_inspection"]
    assert (out[0].priority, out[0].category) == (Priority.GENERAL, Category.SERVICE)
    assert out[0].dedup_key == KEY + "long_inspection"


def test_long_inspection_near_miss_back_to_normal_just_before() -> None:
    tl = Timeline()
    tl.every(0, 14100, 300, mode="inspection")
    tl.tick(14399)
    tl.at(14399.5, mode="normal")
    tl.tick(20000)
    assert "elevator.long_inspection" not in fired(tl.decisions)


def test_long_inspection_clears_by_itself_in_normal_mode() -> None:
    tl = Timeline()
    tl.every(0, 14400, 300, mode="inspection")
    assert "elevator.long_inspection" in fired(tl.decisions)
    out = tl.at(14500, mode="normal")
    assert cleared(out) == ["elevator.long_inspection"]
    assert out[0].auto_resolve is True


# -- elevator.fire_mode ------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["fire", "earthquake"])
def test_fire_mode_after_60s_is_important_service(mode: str) -> None:
    tl = Timeline()
    tl.at(0, mode=mode)
    assert tl.tick(59) == []
    out = tl.tick(60)
    assert fired(out) == ["elevator.fire_mode"]
    assert (out[0].priority, out[0].category) == (Priority.IMPORTANT, Category.SERVICE)
    assert out[0].dedup_key == KEY + "fire_mode"


def test_fire_mode_near_miss_a_59s_fire_service_test_or_another_mode() -> None:
    tl = Timeline()
    tl.at(0, mode="fire")
    tl.tick(59)
    tl.at(59.5, mode="normal")
    tl.at(100, mode="emergency_power")
    tl.tick(500)
    assert fired(tl.decisions) == []


def test_fire_mode_clears_by_itself_in_normal_mode() -> None:
    tl = Timeline()
    tl.at(0, mode="fire")
    tl.tick(60)
    out = tl.at(300, mode="normal")
    assert cleared(out) == ["elevator.fire_mode"]
    assert out[0].auto_resolve is True


# -- elevator.controller_fault -----------------------------------------------------------------
@pytest.mark.parametrize("code", ["06", "07", "08", "E42"])
def test_controller_fault_for_codes_without_a_rule_of_their_own(code: str) -> None:
    tl = Timeline()
    out = tl.at(0, fault_codes=[code])
    assert fired(out) == ["elevator.controller_fault"]
    assert out[0].priority is Priority.GENERAL
    assert out[0].dedup_key == KEY + "controller_fault"


def test_controller_fault_near_miss_codes_handled_by_their_own_rules() -> None:
    tl = Timeline()
    tl.at(0, fault_codes=["02"])
    tl.at(1, fault_codes=["09"])
    assert "elevator.controller_fault" not in fired(tl.decisions)


def test_controller_fault_clears_by_itself_when_the_code_is_gone() -> None:
    tl = Timeline()
    tl.at(0, fault_codes=["06"])
    assert tl.at(5, fault_codes=["06", "07"]) == []  # still faulted
    out = tl.at(10, fault_codes=[])
    assert cleared(out) == ["elevator.controller_fault"]
    assert out[0].auto_resolve is True


# -- elevator.repeated_failure (decided from the ticket history) ---------------------------------
def test_repeated_failure_fires_at_the_third_fault_ticket_in_the_window() -> None:
    th = ElevatorThresholds()
    assert repeated_failure(ELEVATOR, 2, th, 1000.0, "b1", "Car 1") is None
    d = repeated_failure(ELEVATOR, 3, th, 1000.0, "b1", "Car 1")
    assert d is not None
    assert d.action is Action.FIRE
    assert d.rule == REPEATED_FAILURE.id == "elevator.repeated_failure"
    assert (d.priority, d.category) == (Priority.IMPORTANT, Category.FACILITY)
    assert d.dedup_key == KEY + "repeated_failure"
    assert d.at == 1000.0
    assert d.title.endswith(": Car 1")
    assert d.evidence == {
        "rule": "elevator.repeated_failure",
        "fault_tickets": 3,
        "window_days": 30,
        "threshold": 3,
    }
    assert d.auto_resolve is False  # a person reviews it


def test_repeated_failure_threshold_is_configurable() -> None:
    th = ElevatorThresholds(repeated_failure_count=5, repeated_failure_window_days=7)
    assert repeated_failure(ELEVATOR, 4, th, 0.0, None, "") is None
    d = repeated_failure(ELEVATOR, 5, th, 0.0, None, "")
    assert d is not None
    assert d.evidence["window_days"] == 7
    assert "elevator elv-1" in d.title  # no location: named by its id


def test_repeated_failure_never_fires_from_readings() -> None:
    assert REPEATED_FAILURE.holds(object(), 0.0) is None


@pytest.mark.parametrize(
    ("kind", "rule", "counts"),
    [
        ("elevator", "elevator.entrapment", True),
        ("elevator", "elevator.door_fault", True),
        ("elevator", "elevator.power_loss", True),
        ("elevator", "elevator.alarm_follow_up", False),  # a filtered alarm is no fault
        ("elevator", "elevator.maintenance_overdue", False),  # calendar
        ("elevator", "elevator.inspection_due", False),
        ("elevator", "elevator.repeated_failure", False),  # not itself
        ("elevator", "device.offline", False),  # IoT
        ("elevator", "sensor.implausible", False),  # sensor
        ("water_pressure", "water.outage", False),  # not an elevator
        ("elevator", None, False),
        (None, "elevator.entrapment", False),
    ],
)
def test_repeated_failure_counts_elevator_fault_tickets_only(
    kind: str | None, rule: str | None, counts: bool
) -> None:
    assert is_elevator_fault(kind, rule) is counts


def test_repeated_failure_dedup_key_is_per_elevator() -> None:
    other = DeviceRef("test-site", Kind.ELEVATOR, "elv-2")
    d1 = repeated_failure(ELEVATOR, 3, ElevatorThresholds(), 0.0, None, "")
    d2 = repeated_failure(other, 3, ElevatorThresholds(), 0.0, None, "")
    assert d1 is not None and d2 is not None
    assert d1.dedup_key != d2.dedup_key
