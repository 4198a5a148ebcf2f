"""Scenario timelines on the example site, without a broker: who is hit, when, and the signal
pattern the target device reports afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
import typer

from gateway.payloads import Door, ElevatorTelemetry
from simulators.cli import simulate
from simulators.scenarios import (
    INCIDENT_AT_S,
    ScenarioError,
    get_scenario,
    scenario_fleet,
    scenario_names,
)
from simulators.schedule import Fleet
from tests.simulators.helpers import START

REQUIRED = [
    "entrapment",
    "entrapment_at_landing",
    "alarm_at_landing",
    "stopped_empty",
    "power_cut",
    "door_open_while_moving",
    "demo",
]


def car_readings(
    name: str, seconds: float, device: str = "b1-elv-a"
) -> Iterator[tuple[float, ElevatorTelemetry]]:
    """(seconds since start, reading) of one car while the scenario runs."""
    fleet = scenario_fleet(name, start=START)
    fleet.start(START)
    for i in range(1, int(seconds) + 1):
        for message in fleet.advance(START + i):
            if f"/{device}/telemetry" in message.topic:
                reading = ElevatorTelemetry.model_validate(orjson.loads(message.payload))
                yield message.at - START, reading


def after_incident(name: str, seconds: float, device: str = "b1-elv-a") -> list[ElevatorTelemetry]:
    return [r for t, r in car_readings(name, seconds, device) if t >= INCIDENT_AT_S]


def test_the_cli_can_list_every_required_scenario() -> None:
    assert set(REQUIRED) <= set(scenario_names())
    assert all(get_scenario(name).description for name in scenario_names())
    with pytest.raises(ScenarioError, match="entrapment"):
        get_scenario("no-such-scenario")


@pytest.mark.parametrize("name", scenario_names())
def test_every_scenario_finds_its_devices_on_the_example_site(name: str) -> None:
    scenario = get_scenario(name)
    fleet = scenario_fleet(name, start=START)
    assert all(0 <= i.at_s < scenario.duration_s for i in fleet.injections)
    devices = {d.ref.device for d in fleet.devices}
    assert {t.device for t in scenario.expected(fleet.devices)} <= devices


def test_entrapment_traps_the_first_car_at_15_s_and_the_alarm_follows_20_s_later() -> None:
    fleet: Fleet = scenario_fleet("entrapment", start=START)
    assert [(i.at_s, i.device) for i in fleet.injections] == [
        (15.0, "maple-court/b1-elv-a"),
        (1200.0, "maple-court/b1-elv-a"),  # rescued at 20 min
    ]
    seen = list(car_readings("entrapment", 120))
    trapped = [(t, r) for t, r in seen if t >= INCIDENT_AT_S]
    assert trapped[0][0] == INCIDENT_AT_S  # reported the moment it happens
    for t, r in trapped:
        assert (r.moving, r.door, r.door_zone, r.occupied) == (False, Door.CLOSED, False, True)
        assert r.alarm is (t >= INCIDENT_AT_S + 20)
    assert trapped[-1][1].alarm


def test_entrapment_at_landing_keeps_the_door_shut_in_the_door_zone() -> None:
    for r in after_incident("entrapment_at_landing", 120):
        assert (r.moving, r.door, r.door_zone, r.occupied) == (False, Door.CLOSED, True, True)


def test_alarm_at_landing_is_pressed_only_with_the_door_open_at_a_landing() -> None:
    readings = after_incident("alarm_at_landing", 600)
    assert readings[0].alarm and readings[0].door is Door.OPEN
    for r in readings:
        if r.alarm:
            assert r.door is Door.OPEN and r.door_zone and not r.moving
        assert not (not r.moving and r.door is Door.CLOSED and not r.door_zone)


def test_stopped_empty_is_outside_the_zone_with_nobody_inside() -> None:
    for r in after_incident("stopped_empty", 120):
        assert (r.moving, r.door, r.door_zone, r.occupied) == (False, Door.CLOSED, False, False)


def test_power_cut_takes_every_car_of_the_first_building_off_mains_for_5_minutes() -> None:
    fleet = scenario_fleet("power_cut", start=START)
    assert {i.device for i in fleet.injections} == {"maple-court/b1-elv-a", "maple-court/b1-elv-b"}
    for car in ("b1-elv-a", "b1-elv-b"):
        seen = list(car_readings("power_cut", 420, car))
        cut = [r for t, r in seen if INCIDENT_AT_S <= t < INCIDENT_AT_S + 300]
        assert cut and all(not r.mains_power and not r.moving for r in cut)
        assert all(r.mains_power for t, r in seen if t >= INCIDENT_AT_S + 300 or t < 15)
    assert all(r.mains_power for _, r in car_readings("power_cut", 120, "b2-elv-a"))


def test_door_open_while_moving_is_seen_on_consecutive_samples() -> None:
    readings = after_incident("door_open_while_moving", 60)
    moving_open = [r.moving and r.door is not Door.CLOSED for r in readings]
    assert moving_open[:10] == [True] * 10
    assert not readings[-1].moving and "05" in readings[-1].fault_codes


def test_demo_traps_a_passenger_in_the_first_minute_and_rescues_at_20_minutes() -> None:
    seen = list(car_readings("demo", 21 * 60))
    trapped = [t for t, r in seen if r.occupied and not r.door_zone and not r.moving]
    assert trapped and min(trapped) < 60
    alarms = [t for t, r in seen if r.alarm]
    assert alarms and min(alarms) < 60 and max(alarms) < 20 * 60
    assert seen[-1][1].door_zone and not seen[-1][1].fault_codes


def _simulate(scenario: str) -> None:
    simulate(
        broker_url="mqtt://127.0.0.1:1",  # never reached: both return before connecting
        scenario=scenario,
        devices=None,
        site_config=None,
        time_factor=1.0,
        duration_s=1.0,
        qos=0,
    )


def test_simulate_list_prints_the_library(capsys: pytest.CaptureFixture[str]) -> None:
    _simulate("list")
    out = capsys.readouterr().out
    for name in scenario_names():
        assert f"  {name} " in out
    assert "[raises elevator.overspeed] " in out
    assert "[near miss of elevator.entrapment] " in out


def test_simulate_an_unknown_scenario_lists_the_library_and_exits_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(typer.Exit) as exit_:
        _simulate("entrapmnet")
    assert exit_.value.exit_code == 2
    err = capsys.readouterr().err
    assert "unknown scenario 'entrapmnet'" in err
    assert all(f"  {name} " in err for name in scenario_names())
