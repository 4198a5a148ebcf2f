"""The scenarios fire the rules they are written for, through the real decoder and rules
engine on a fake clock (no broker): the simulator's signals and the rules agree."""

from __future__ import annotations

import pytest

from gateway.decode import Decoder
from gateway.reading import Reading, StatusChange
from rules.decision import Action, Decision
from rules.engine import RulesEngine
from simulators.scenarios import INCIDENT_AT_S, load_config, scenario_fleet
from steward.clock import FakeClock
from steward.site import DeviceRegistry
from tests.simulators.helpers import START

ENTRAPMENT_GROUP = {
    "elevator.entrapment",
    "elevator.entrapment_at_landing",
    "elevator.alarm_button",
}


def decisions_of(name: str, seconds: float) -> list[Decision]:
    """Run a scenario on the example site through decoder and rules, a tick every second."""
    config = load_config(None)
    registry = DeviceRegistry(config)
    clock = FakeClock(START)
    decoder = Decoder(registry)
    engine = RulesEngine(registry, config.rules, clock)
    fleet = scenario_fleet(name, start=START)
    decisions: list[Decision] = []
    messages = fleet.start(START)
    for second in range(1, int(seconds) + 1):
        for message in messages:
            clock.set(max(message.at, clock.now()))
            decoded = decoder.decode(message.topic, message.payload, clock.now())
            if isinstance(decoded, Reading):
                decisions += engine.on_reading(decoded)
            elif isinstance(decoded, StatusChange):
                decisions += engine.on_status(decoded)
            else:
                pytest.fail(f"rejected: {decoded}")
        clock.set(START + second)
        decisions += engine.tick()
        messages = fleet.advance(START + second)
    return decisions


def fired(decisions: list[Decision], device: str = "b1-elv-a") -> dict[str, float]:
    """Rule -> seconds after start it first fired on ``device``."""
    out: dict[str, float] = {}
    for d in decisions:
        if d.action is Action.FIRE and d.ref.device == device:
            out.setdefault(d.rule, d.at - START)
    return out


def test_normal_traffic_raises_nothing_for_two_hours() -> None:
    assert [(d.rule, d.ref.device) for d in decisions_of("normal", 2 * 3600)] == []


def test_entrapment_fires_after_the_30_s_dwell() -> None:
    rules = fired(decisions_of("entrapment", 120))
    assert set(rules) <= ENTRAPMENT_GROUP
    assert rules["elevator.entrapment"] == pytest.approx(INCIDENT_AT_S + 30, abs=2)


def test_entrapment_at_landing_fires_after_the_45_s_dwell() -> None:
    rules = fired(decisions_of("entrapment_at_landing", 120))
    assert rules == {"elevator.entrapment_at_landing": pytest.approx(INCIDENT_AT_S + 45, abs=2)}


def test_alarm_at_landing_is_a_follow_up_call_not_an_entrapment() -> None:
    rules = fired(decisions_of("alarm_at_landing", 600))
    assert rules == {"elevator.alarm_follow_up": pytest.approx(INCIDENT_AT_S, abs=1)}


def test_stopped_empty_is_a_general_fault_not_an_entrapment() -> None:
    rules = fired(decisions_of("stopped_empty", 180))
    assert rules == {"elevator.stopped_outside_door_zone": pytest.approx(INCIDENT_AT_S + 60, abs=2)}


def test_power_cut_fires_power_loss_on_both_cars_of_the_building() -> None:
    decisions = decisions_of("power_cut", 120)
    for car in ("b1-elv-a", "b1-elv-b"):
        assert fired(decisions, car)["elevator.power_loss"] == pytest.approx(
            INCIDENT_AT_S + 10, abs=2
        )
    assert fired(decisions, "b2-elv-a") == {}


def test_door_open_while_moving_fires_within_two_samples() -> None:
    rules = fired(decisions_of("door_open_while_moving", 60))
    assert rules["elevator.door_open_while_moving"] == pytest.approx(INCIDENT_AT_S + 1, abs=1)


def test_demo_raises_an_entrapment_in_the_first_minute_and_a_half() -> None:
    rules = fired(decisions_of("demo", 120))
    assert rules["elevator.entrapment"] < 90
