"""Scripted incidents: normal traffic on a site, then injections on named devices at simulated
offsets. A scenario picks its devices from whatever fleet it is given (the example site by
default), so the same script runs on the demo site, a customer's site file or a synthetic
fleet.

Each elevator scenario targets the first car of the first building with an elevator and
strikes at ``INCIDENT_AT_S`` simulated seconds (``demo``: within the first minute).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from simulators.base import SimDevice
from simulators.elevator import ElevatorModel
from simulators.extinguisher import ExtinguisherMonitor
from simulators.fleet import (
    FleetPublisher,
    ProgressCallback,
    PublishStats,
    StatusOnStop,
    devices_from_config,
)
from simulators.patrol import PatrolCheckpoint
from simulators.schedule import Fleet, Injection
from simulators.water import WaterPressureSensor
from steward.clock import Clock
from steward.site import StewardConfig, example_site_path, load_site_config

INCIDENT_AT_S = 15.0
DEMO_ENTRAPMENT_AT_S = 30.0
DEMO_RESCUE_AT_S = 20 * 60.0
POWER_RESTORED_AFTER_S = 300.0
D = TypeVar("D", bound=SimDevice)
Script = Callable[[Sequence[SimDevice]], list[Injection]]


class ScenarioError(LookupError):
    """Unknown scenario, or a fleet without the devices a scenario needs."""


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    script: Script


def first_of(devices: Sequence[SimDevice], kind: type[D]) -> D:
    """The first device of a kind, in fleet (site file) order."""
    for device in devices:
        if isinstance(device, kind):
            return device
    raise ScenarioError(f"the fleet has no {kind.__name__}")


def same_building(devices: Sequence[SimDevice], anchor: SimDevice, kind: type[D]) -> list[D]:
    """``anchor`` and every other device of ``kind`` in its building."""
    found = [
        d
        for d in devices
        if isinstance(d, kind) and d.ref.site == anchor.ref.site and d.building == anchor.building
    ]
    return found if anchor.building is not None else [d for d in found if d is anchor]


def _at(at_s: float, device: SimDevice, label: str, action: Callable[[], None]) -> Injection:
    return Injection(at_s=at_s, device=device.ref.key, label=label, apply=action)


def _one_elevator(
    label: str, action: Callable[[ElevatorModel], None], at_s: float = INCIDENT_AT_S
) -> Script:
    def script(devices: Sequence[SimDevice]) -> list[Injection]:
        car = first_of(devices, ElevatorModel)
        return [_at(at_s, car, label, functools.partial(action, car))]

    return script


def _one_device(kind: type[D], label: str, action: Callable[[D], None]) -> Script:
    def script(devices: Sequence[SimDevice]) -> list[Injection]:
        device = first_of(devices, kind)
        return [_at(INCIDENT_AT_S, device, label, functools.partial(action, device))]

    return script


def _power_cut(devices: Sequence[SimDevice]) -> list[Injection]:
    cars = same_building(devices, first_of(devices, ElevatorModel), ElevatorModel)
    cut = [_at(INCIDENT_AT_S, car, "mains power cut", car.power_cut) for car in cars]
    back = INCIDENT_AT_S + POWER_RESTORED_AFTER_S
    return cut + [_at(back, car, "mains power restored", car.power_restored) for car in cars]


def _water_outage(devices: Sequence[SimDevice]) -> list[Injection]:
    first = first_of(devices, WaterPressureSensor)
    sensors = [
        s for s in same_building(devices, first, WaterPressureSensor) if s.network == first.network
    ]
    return [_at(INCIDENT_AT_S, s, "supply lost", s.outage) for s in sensors]


def _demo(devices: Sequence[SimDevice]) -> list[Injection]:
    car = first_of(devices, ElevatorModel)
    trap = functools.partial(car.trap_between_floors, alarm_after_s=20.0)
    return [
        _at(DEMO_ENTRAPMENT_AT_S, car, "passenger trapped between floors", trap),
        _at(DEMO_RESCUE_AT_S, car, "rescue done, alarm reset", car.release),
    ]


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("normal", "normal traffic only, no incident", lambda devices: []),
        Scenario(
            "entrapment",
            "a car of the first building stops between floors with a passenger at 15 s; "
            "the alarm is pressed 20 s later",
            _one_elevator(
                "passenger trapped between floors",
                lambda car: car.trap_between_floors(alarm_after_s=20.0),
            ),
        ),
        Scenario(
            "entrapment_at_landing",
            "a car stops level at a landing with a passenger and the door does not open",
            _one_elevator("passenger shut in at a landing", ElevatorModel.trap_at_landing),
        ),
        Scenario(
            "alarm_at_landing",
            "near miss (EN 81-28 filtering): alarm pressed with the door open at a landing; "
            "the passenger walks out. Not an entrapment",
            _one_elevator("alarm pressed, door open", ElevatorModel.alarm_at_landing_door_open),
        ),
        Scenario(
            "stopped_empty",
            "an empty car stops outside the door zone",
            _one_elevator(
                "empty car stopped outside door zone", ElevatorModel.stop_outside_zone_empty
            ),
        ),
        Scenario(
            "power_cut",
            "mains lost for every car of the first building at 15 s, back 5 min later",
            _power_cut,
        ),
        Scenario(
            "door_open_while_moving",
            "unintended car movement: the car creeps away with its door open",
            _one_elevator("door open while moving", ElevatorModel.door_open_while_moving),
        ),
        Scenario(
            "water_burst",
            "a pipe bursts: the first water sensor drops 0.15 MPa within 30 s",
            _one_device(WaterPressureSensor, "pipe burst", WaterPressureSensor.burst),
        ),
        Scenario(
            "water_outage",
            "supply lost on the first water network of the first building",
            _water_outage,
        ),
        Scenario(
            "water_sensor_fault",
            "the first water transmitter fails low (2 mA): a sensor fault, not an outage",
            _one_device(WaterPressureSensor, "transmitter fault", WaterPressureSensor.sensor_fault),
        ),
        Scenario(
            "extinguisher_leak",
            "the first extinguisher leaks 0.2 MPa/h and leaves the green band within the hour",
            _one_device(ExtinguisherMonitor, "slow leak", lambda fex: fex.leak(rate_mpa_per_h=0.2)),
        ),
        Scenario(
            "extinguisher_removed",
            "the first extinguisher is taken off its bracket",
            _one_device(
                ExtinguisherMonitor, "removed from bracket", ExtinguisherMonitor.remove_from_bracket
            ),
        ),
        Scenario(
            "missed_patrol",
            "the guard skips the first checkpoint on the next two rounds",
            _one_device(PatrolCheckpoint, "rounds missed", lambda cp: cp.miss_rounds(rounds=2)),
        ),
        Scenario(
            "sensor_dropout",
            "the first water sensor drops off the network (Last Will: offline)",
            _one_device(
                WaterPressureSensor, "connection lost", WaterPressureSensor.drop_connection
            ),
        ),
        Scenario(
            "demo",
            "the example site; a passenger is trapped between floors at 30 s (alarm 20 s "
            "later) and rescued at 20 min",
            _demo,
        ),
    )
}


def scenario_names() -> list[str]:
    return list(SCENARIOS)


def get_scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        known = ", ".join(SCENARIOS)
        raise ScenarioError(f"unknown scenario {name!r}; choose one of: {known}") from None


def load_config(site_config: StewardConfig | Path | None) -> StewardConfig:
    """A site file (path or parsed); the bundled example site when None."""
    if isinstance(site_config, StewardConfig):
        return site_config
    return load_site_config(site_config or example_site_path())


def scenario_fleet(
    name: str,
    *,
    start: float,
    site_config: StewardConfig | Path | None = None,
    devices: Sequence[SimDevice] | None = None,
    seed: int = 0,
) -> Fleet:
    """The fleet (``devices``, else the site file's) with the scenario's injections."""
    scenario = get_scenario(name)
    if devices is None:
        devices = devices_from_config(load_config(site_config), start=start, seed=seed)
    return Fleet(devices, scenario.script(devices))


def scenario_publisher(
    name: str,
    broker_url: str,
    *,
    clock: Clock,
    site_config: StewardConfig | Path | None = None,
    devices: Sequence[SimDevice] | None = None,
    seed: int = 0,
    qos: int = 0,
    connections: int = 4,
    status_on_stop: StatusOnStop = "offline",
    progress: ProgressCallback | None = None,
) -> FleetPublisher:
    """A publisher for the scenario, not yet running: ``.run(duration_s)`` or ``.start()``."""
    fleet = scenario_fleet(
        name, start=clock.now(), site_config=site_config, devices=devices, seed=seed
    )
    return FleetPublisher(
        fleet,
        broker_url,
        clock=clock,
        qos=qos,
        connections=connections,
        status_on_stop=status_on_stop,
        progress=progress,
    )


def run_scenario(
    name: str,
    broker_url: str,
    site_config: StewardConfig | Path | None,
    clock: Clock,
    duration_s: float | None,
    *,
    seed: int = 0,
    qos: int = 0,
    stop: threading.Event | None = None,
    status_on_stop: StatusOnStop = "offline",
) -> PublishStats:
    """Publish the scenario on the broker for ``duration_s`` simulated seconds (None: until
    ``stop`` is set); blocks."""
    publisher = scenario_publisher(
        name,
        broker_url,
        clock=clock,
        site_config=site_config,
        seed=seed,
        qos=qos,
        status_on_stop=status_on_stop,
    )
    return publisher.run(duration_s, stop=stop)
