"""Each elevator rule on a fake clock: fires, does not fire (near misses), clears."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.payloads import ElevatorTelemetry
from gateway.reading import Reading
from rules.condition import NO_STATES
from rules.decision import Action, Priority
from steward.site import ElevatorThresholds, RulesConfig
from tests.rules.helpers import Timeline, cleared, fired

TRAPPED: dict[str, Any] = {
    "moving": False,
    "door": "closed",
    "door_zone": False,
    "occupied": True,
    "floor": 7,
}


def test_entrapment_outside_zone_fires_after_30s_of_dwell_on_a_tick() -> None:
    tl = Timeline()
    tl.at(0, moving=True, direction="up", door_zone=False, occupied=True)
    assert tl.at(1, **TRAPPED) == []
    assert tl.tick(30.5) == []  # 29.5 s held
    out = tl.tick(31.0)
    assert fired(out) == ["elevator.entrapment"]
    d = out[0]
    assert d.priority is Priority.EMERGENCY
    assert d.dedup_key == "test-site/elevator/elv-1/entrapment"
    assert d.evidence["held_s"] == 30.0
    assert d.evidence["threshold_s"] == 30
    assert d.evidence["reading"]["door_zone"] is False
    assert tl.tick(120) == []  # fires once, not on every tick


def test_entrapment_needs_a_passenger_seen_during_the_stop() -> None:
    tl = Timeline()
    tl.at(0, **{**TRAPPED, "occupied": True})
    tl.at(5, occupied=False)  # the PIR loses a still passenger: still an entrapment
    assert fired(tl.tick(31)) == ["elevator.entrapment"]


@pytest.mark.parametrize(
    "near_miss",
    [
        {"mode": "inspection"},  # a technician is working the car
        {"door": "open", "door_zone": True},  # at a landing with the door open
        {"moving": True},  # travelling
    ],
)
def test_entrapment_does_not_fire_outside_its_condition(near_miss: dict[str, Any]) -> None:
    tl = Timeline()
    tl.every(0, 120, **{**TRAPPED, **near_miss})
    assert "elevator.entrapment" not in fired(tl.decisions)


def test_entrapment_clears_when_the_car_reaches_a_landing_but_waits_for_a_person() -> None:
    tl = Timeline()
    tl.at(0, **TRAPPED)
    tl.tick(31)
    out = tl.at(200, moving=False, door="open", door_zone=True, occupied=True)
    assert cleared(out) == ["elevator.entrapment"]
    assert out[0].auto_resolve is False  # EN 81-28: end of alarm is confirmed on site


def test_entrapment_dwell_restarts_if_the_car_moves_before_30s() -> None:
    tl = Timeline()
    tl.at(0, **TRAPPED)
    tl.at(20, moving=True)
    tl.at(21, moving=False)
    assert tl.tick(50) == []  # 29 s since the second stop
    assert fired(tl.tick(51)) == ["elevator.entrapment"]


def test_unknown_occupancy_outside_zone_is_treated_as_entrapment_after_60s() -> None:
    tl = Timeline()
    tl.at(0, **{**TRAPPED, "occupied": None})
    assert tl.tick(59) == []
    assert fired(tl.tick(60)) == ["elevator.entrapment"]


def test_entrapment_at_landing_fires_after_45s_with_the_door_not_reopening() -> None:
    tl = Timeline()
    tl.at(0, moving=False, door="closed", door_zone=True, occupied=True)
    assert tl.tick(44) == []
    out = tl.tick(45)
    assert fired(out) == ["elevator.entrapment_at_landing"]
    assert out[0].priority is Priority.EMERGENCY


def test_at_landing_door_reopening_restarts_the_dwell() -> None:
    tl = Timeline()
    tl.at(0, door="closed", door_zone=True, occupied=True)
    tl.at(30, door="open")
    tl.at(35, door="closed")
    assert tl.tick(79) == []
    assert fired(tl.tick(80)) == ["elevator.entrapment_at_landing"]


def test_alarm_button_outside_landing_is_an_emergency_in_the_entrapment_group() -> None:
    tl = Timeline()
    out = tl.at(0, **{**TRAPPED, "alarm": True})
    assert fired(out) == ["elevator.alarm_button"]
    assert out[0].priority is Priority.EMERGENCY
    later = tl.tick(30)
    # the dwell rule joins the same incident: same dedup key, so one ticket
    assert fired(later) == ["elevator.entrapment"]
    assert later[0].dedup_key == out[0].dedup_key


def test_alarm_with_door_open_at_landing_is_filtered_to_a_follow_up() -> None:
    tl = Timeline()
    out = tl.at(0, door="open", door_zone=True, occupied=True, alarm=True)
    assert fired(out) == ["elevator.alarm_follow_up"]
    assert out[0].priority is Priority.GENERAL
    tl.every(1, 120, door="open")
    assert "elevator.alarm_button" not in fired(tl.decisions)
    assert "elevator.entrapment_at_landing" not in fired(tl.decisions)


def test_incident_clears_only_when_every_signal_of_the_group_ended() -> None:
    tl = Timeline()
    tl.at(0, **{**TRAPPED, "alarm": True})
    tl.tick(31)
    assert tl.at(40, alarm=False) == []  # alarm reset but the car is still stuck
    out = tl.at(300, moving=False, door="open", door_zone=True)
    assert [d.action for d in out] == [Action.CLEAR]


def test_stopped_outside_zone_empty_is_general_after_60s_and_resolves_itself() -> None:
    tl = Timeline()
    tl.at(0, moving=False, door="closed", door_zone=False, occupied=False)
    assert tl.tick(59) == []
    out = tl.tick(60)
    assert fired(out) == ["elevator.stopped_outside_door_zone"]
    assert out[0].priority is Priority.GENERAL
    done = tl.at(100, moving=True)
    assert cleared(done) == ["elevator.stopped_outside_door_zone"]
    assert done[0].auto_resolve is True


def test_door_open_while_moving_needs_two_consecutive_samples() -> None:
    tl = Timeline()
    assert tl.at(0, moving=True, door="open", door_zone=False) == []
    assert tl.at(1, moving=True, door="closed") == []  # one glitch is not enough
    assert tl.at(2, moving=True, door="open") == []
    out = tl.at(3, moving=True, door="open")
    assert fired(out) == ["elevator.door_open_while_moving"]
    assert out[0].priority is Priority.EMERGENCY


def test_power_loss_fires_after_10s_and_clears_after_60s_on_mains() -> None:
    tl = Timeline()
    tl.at(0, mains_power=False)
    assert tl.tick(9.9) == []
    assert fired(tl.tick(10)) == ["elevator.power_loss"]
    assert tl.at(20, mains_power=True) == []
    assert tl.tick(79) == []  # hysteresis: 59 s on mains
    out = tl.tick(80)
    assert cleared(out) == ["elevator.power_loss"]
    assert out[0].auto_resolve is True


def test_short_power_blip_does_not_fire() -> None:
    tl = Timeline()
    tl.at(0, mains_power=False)
    tl.at(5, mains_power=True)
    tl.tick(600)
    assert fired(tl.decisions) == []


def test_thresholds_are_configurable() -> None:
    config = RulesConfig(elevator=ElevatorThresholds(entrapment_s=10))
    tl = Timeline(config)
    tl.at(0, **TRAPPED)
    assert fired(tl.tick(10)) == ["elevator.entrapment"]


def test_device_offline_from_last_will_fires_at_once_and_resolves_on_return() -> None:
    tl = Timeline()
    tl.at(0)
    out = tl.status(10, online=False)
    assert fired(out) == ["device.offline"]
    back = tl.status(50, online=True)
    assert cleared(back) == ["device.offline"]
    assert back[0].auto_resolve is True


def test_device_offline_from_silence_on_clock_ticks_alone() -> None:
    tl = Timeline()
    tl.at(0)
    assert tl.tick(599) == []
    out = tl.tick(606)  # elevator silence limit 600 s, scanned every 5 s
    assert fired(out) == ["device.offline"]
    assert cleared(tl.at(700)) == ["device.offline"]


def test_a_quiet_normal_day_raises_nothing() -> None:
    tl = Timeline()
    t = 0.0
    for trip in range(500):  # travel, stop at a landing, door cycle, passengers in and out
        tl.at(t, moving=True, door="closed", door_zone=False, occupied=trip % 2 == 0)
        tl.at(t + 4, moving=False, door_zone=True)
        tl.at(t + 6, door="open")
        tl.at(t + 11, door="closed", occupied=False)
        tl.tick(t + 40)
        t += 60
    assert tl.decisions == []


def test_restored_firing_rule_does_not_fire_again_but_still_clears() -> None:
    tl = Timeline()
    tl.engine.restore([(tl.ref, "elevator.entrapment", tl.t0)])
    tl.at(0, **TRAPPED)
    assert tl.tick(60) == []  # already has an active ticket
    out = tl.at(90, door="open", door_zone=True)
    assert cleared(out) == ["elevator.entrapment"]


def test_out_of_order_reading_does_not_rewind_rule_state() -> None:
    tl = Timeline()
    tl.at(10, **TRAPPED)
    old = ElevatorTelemetry.model_validate({"ts": 0, **tl.fields, "moving": True})
    tl.engine.on_reading(Reading(tl.ref, old, tl.clock.now(), tl.t0 + 1))
    assert fired(tl.tick(41)) == ["elevator.entrapment"]


def test_rule_state_is_held_only_while_a_rule_holds() -> None:
    """Memory: a device with nothing holding shares one empty (never written) state map; an
    entrapment gives its tracker a map of its own, and clearing gives it back."""
    tl = Timeline()
    tl.at(0, moving=True, direction="up", door_zone=False, occupied=True)
    rules = tl.engine.devices[tl.ref.key].rules
    assert rules.states is NO_STATES
    tl.at(1, **TRAPPED)
    assert rules.states is not NO_STATES and "elevator.entrapment" in rules.states
    assert fired(tl.tick(31)) == ["elevator.entrapment"]
    tl.every(40, 200, moving=True, direction="up", door_zone=False, occupied=False)
    assert "elevator.entrapment" not in rules.firing_rules()
    assert NO_STATES == {}
