"""The scenario library: for every rule, a scenario that must raise it and a close near miss
that must not (``PAIRS``), each with exactly the tickets it raises (``Scenario.expect``).

Scenarios pick their devices by role from the fleet they run on (the example site by
default): "car" is the first elevator, "sensor" a water sensor suited to the incident (the
zone with two sensors for an outage, a zone of its own for supply pressure, the highest-
pressure main for a burst), "fex" the first extinguisher on a floor (basement ones for the
half-monthly inspection), "checkpoint" and "cp2".. the key-area checkpoints of the first guard
route, in walking order. Incidents strike at ``INCIDENT_AT_S``; elevator faults wait for the
car to be free (see ``ElevatorModel.when_idle``), patrol faults hit the round after the next.

Within ``duration_s`` every expected ticket is there and the incident has ended (repair,
rescue, reset) or settled into a steady fault (a failed pressure-reducing valve stays failed):
however long the scenario keeps running after that, it raises nothing more. The 24-hour
incident day relies on it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime

from rules.decision import Category, Priority
from simulators.base import SHANGHAI, SimDevice
from simulators.elevator import ElevatorModel
from simulators.extinguisher import ExtinguisherMonitor
from simulators.patrol import PatrolCheckpoint
from simulators.schedule import Injection
from simulators.script import (
    Cast,
    DateParam,
    Scenario,
    ScenarioError,
    at,
    domestic,
    fire,
    first_of,
    key_checkpoints,
    of_kind,
    pick,
    same_building,
    ticket,
    zone_of,
)
from simulators.water import WaterPressureSensor

INCIDENT_AT_S = 15.0
WATER_AT_S = 20 * 60.0
FLOOD_AT_S = 4 * 60.0
"""Floods come after the other incidents of a group have played out (a flood loads the
gateway; other scenarios' timings should not share it)."""
"""Water incidents wait until the sensors have a quarter of an hour of history: the burst
rule judges a drop against the rolling median of the last 15 minutes."""
DEMO_ENTRAPMENT_AT_S = 30.0
DEMO_RESCUE_AT_S = 20 * 60.0
POWER_RESTORED_AFTER_S = 300.0
MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
E, IMP, G = Priority.EMERGENCY, Priority.IMPORTANT, Priority.GENERAL
FAC, SVC = Category.FACILITY, Category.SERVICE
HIGH_LIMIT_MPA = 0.45
"""``rules.water_pressure.high_mpa``: a domestic sensor without ``max_mpa`` is judged by it."""
BURST_DROP_MPA = 0.2
"""Well over the burst rule's threshold (0.10 MPa or 30 % of the baseline, about 0.11 MPa on
the main) whatever the draw of the moment."""

# --- casts ------------------------------------------------------------------------------------


def car(devices: Sequence[SimDevice]) -> dict[str, SimDevice]:
    return {"car": first_of(devices, ElevatorModel)}


def building_cars(devices: Sequence[SimDevice]) -> dict[str, SimDevice]:
    """The first car and the other car of its building (a power cut takes both)."""
    first = first_of(devices, ElevatorModel)
    others = [c for c in same_building(devices, first, ElevatorModel) if c is not first]
    return {"car": first, "car_b": pick(others, "building with two elevators")}


def zone_pair(devices: Sequence[SimDevice]) -> dict[str, SimDevice]:
    """Two sensors of the first domestic zone that has two (an outage needs confirmation)."""
    for sensor in domestic(devices):
        zone = zone_of(sensor, devices)
        if len(zone) >= 2:
            return {"sensor": zone[0], "peer": zone[1]}
    raise ScenarioError("the fleet has no domestic water zone with two sensors")


def lone_sensor(devices: Sequence[SimDevice]) -> dict[str, SimDevice]:
    """A domestic sensor alone in its zone (supply pressure: one sensor, one ticket)."""
    alone = [s for s in domestic(devices) if len(zone_of(s, devices)) == 1]
    return {"sensor": pick(alone, "domestic water sensor alone in its zone")}


def main_sensor(devices: Sequence[SimDevice]) -> dict[str, SimDevice]:
    """The domestic sensor with the highest set point (the main: a burst shows best there)."""
    mains = sorted(domestic(devices), key=lambda s: -s.setpoint_mpa)
    return {"sensor": pick(mains, "domestic water sensor")}


def fire_main(devices: Sequence[SimDevice]) -> dict[str, SimDevice]:
    mains = [s for s in of_kind(devices, WaterPressureSensor) if s.network == "fire"]
    return {"sensor": pick(mains, "fire-network water sensor")}


def floor_fex(devices: Sequence[SimDevice]) -> dict[str, SimDevice]:
    """The first extinguisher above ground (monthly inspection)."""
    found = [f for f in of_kind(devices, ExtinguisherMonitor) if not f.basement]
    return {"fex": pick(found, "extinguisher above ground")}


def basement_fex(devices: Sequence[SimDevice]) -> dict[str, SimDevice]:
    """The first extinguisher in a basement or garage (half-monthly inspection)."""
    found = [f for f in of_kind(devices, ExtinguisherMonitor) if f.basement]
    return {"fex": pick(found, "extinguisher in a basement")}


def route(n: int, exactly: bool = False) -> Callable[[Sequence[SimDevice]], dict[str, SimDevice]]:
    """The first ``n`` key-area checkpoints of the first route: "checkpoint", "cp2", ...
    With ``exactly``, the route must have no more key checkpoints than that."""

    def cast(devices: Sequence[SimDevice]) -> dict[str, SimDevice]:
        keys = key_checkpoints(devices)
        if len(keys) < n or (exactly and len(keys) != n):
            want = f"exactly {n}" if exactly else f"at least {n}"
            raise ScenarioError(f"this scenario needs a guard route with {want} key checkpoints")
        return {("checkpoint" if i == 0 else f"cp{i + 1}"): c for i, c in enumerate(keys[:n])}

    return cast


# --- helpers ----------------------------------------------------------------------------------


def shift_safe_s(device: SimDevice) -> float:
    """When a patrol incident should strike so that it plays out inside one guard shift
    (08:00-20:00, 20:00-08:00): at once in the first five hours of a shift, else at the start
    of the next one."""
    tz = device.route.tz if isinstance(device, PatrolCheckpoint) else SHANGHAI
    local = datetime.fromtimestamp(device.now, tz)
    hour = local.hour + local.minute / 60
    into_shift = (hour - 8) % 12
    if into_shift < 5:
        return INCIDENT_AT_S
    return (12 - into_shift) * HOUR + INCIDENT_AT_S


def _noop() -> None:
    """An injection that changes nothing on the device (the change is in the site file)."""


def once(
    label: str,
    action: Callable[[Cast], Callable[[], None]],
    role: str = "car",
    at_s: float = INCIDENT_AT_S,
) -> Callable[[Cast], list[Injection]]:
    """One injection on ``role`` at ``at_s``."""

    def play(c: Cast) -> list[Injection]:
        return [at(at_s, c[role], label, action(c))]

    return play


def timeline(
    *steps: tuple[float, str, str, Callable[[Cast], Callable[[], None]]],
) -> Callable[[Cast], list[Injection]]:
    """Injections (offset, role, label, action) in order."""

    def play(c: Cast) -> list[Injection]:
        return [at(offset, c[role], label, action(c)) for offset, role, label, action in steps]

    return play


def site_file(label: str, role: str) -> Callable[[Cast], list[Injection]]:
    """Calendar scenarios: nothing happens on the device; the site file carries the date."""

    def play(c: Cast) -> list[Injection]:
        return [at(0.0, c[role], label, _noop)]

    return play


def _car(c: Cast) -> ElevatorModel:
    return c.car()


# --- elevators --------------------------------------------------------------------------------

ELEVATOR: tuple[Scenario, ...] = (
    Scenario(
        "entrapment",
        "a car stops between floors with a passenger at 15 s; the alarm is pressed 20 s later; "
        "rescued at 20 min",
        timeline(
            (
                INCIDENT_AT_S,
                "car",
                "passenger trapped between floors",
                lambda c: functools.partial(c.car().trap_between_floors, alarm_after_s=20.0),
            ),
            (DEMO_RESCUE_AT_S, "car", "rescue done, alarm reset", lambda c: c.car().release),
        ),
        car,
        (
            ticket(
                "elevator.alarm_button", E, FAC, "car", fire("elevator.entrapment", E, FAC, "car")
            ),
        ),
        duration_s=22 * MINUTE,
    ),
    Scenario(
        "brief_stop",
        "a car with a passenger stops between floors for 20 s (no alarm), then "
        "relevels and lets them out: shorter than the 30 s entrapment dwell",
        timeline(
            (
                INCIDENT_AT_S,
                "car",
                "stopped between floors",
                lambda c: functools.partial(c.car().trap_between_floors, alarm_after_s=None),
            ),
            (INCIDENT_AT_S + 20, "car", "moves on by itself", lambda c: c.car().release),
        ),
        car,
        duration_s=4 * MINUTE,
    ),
    Scenario(
        "entrapment_at_landing",
        "a car stops level at a landing with a passenger and the door does not open; "
        "rescued at 15 min",
        timeline(
            (
                INCIDENT_AT_S,
                "car",
                "passenger shut in at a landing",
                lambda c: c.car().trap_at_landing,
            ),
            (15 * MINUTE, "car", "door opened by the technician", lambda c: c.car().release),
        ),
        car,
        (ticket("elevator.entrapment_at_landing", E, FAC, "car"),),
        duration_s=17 * MINUTE,
    ),
    Scenario(
        "shut_in_briefly",
        "at a landing the door stays shut on a passenger for 25 s, then opens: "
        "shorter than the 45 s dwell",
        timeline(
            (INCIDENT_AT_S, "car", "door does not open", lambda c: c.car().trap_at_landing),
            (INCIDENT_AT_S + 25, "car", "door opens", lambda c: c.car().release),
        ),
        car,
        duration_s=4 * MINUTE,
    ),
    Scenario(
        "alarm_in_car",
        "a passenger on a long run presses the alarm button for 3 s (door closed, moving): "
        "an unfiltered alarm",
        once("alarm pressed in a moving car", lambda c: c.car().alarm_in_car),
        car,
        (ticket("elevator.alarm_button", E, FAC, "car"),),
        duration_s=5 * MINUTE,
    ),
    Scenario(
        "alarm_at_landing",
        "EN 81-28 filtering: alarm pressed with the door open at a landing; the "
        "passenger walks out. A follow-up call, not an entrapment",
        once("alarm pressed, door open", lambda c: c.car().alarm_at_landing_door_open),
        car,
        (ticket("elevator.alarm_follow_up", G, SVC, "car"),),
        duration_s=5 * MINUTE,
    ),
    Scenario(
        "stopped_empty",
        "an empty car stops outside the door zone; reset after 10 min",
        timeline(
            (
                INCIDENT_AT_S,
                "car",
                "empty car stopped outside the door zone",
                lambda c: c.car().stop_outside_zone_empty,
            ),
            (
                INCIDENT_AT_S + 10 * MINUTE,
                "car",
                "reset by the technician",
                lambda c: c.car().release,
            ),
        ),
        car,
        (ticket("elevator.stopped_outside_door_zone", G, FAC, "car"),),
        duration_s=12 * MINUTE,
    ),
    Scenario(
        "stopped_empty_briefly",
        "an empty car stops outside the door zone for 40 s, then relevels: "
        "shorter than the 60 s dwell",
        timeline(
            (
                INCIDENT_AT_S,
                "car",
                "empty car stopped outside the door zone",
                lambda c: c.car().stop_outside_zone_empty,
            ),
            (INCIDENT_AT_S + 40, "car", "moves on by itself", lambda c: c.car().release),
        ),
        car,
        duration_s=4 * MINUTE,
    ),
    Scenario(
        "door_open_while_moving",
        "unintended car movement: the car creeps away with its door open (door-lock circuit "
        "open) until the safety gear stops it; out of service, reset after 10 min",
        timeline(
            (
                INCIDENT_AT_S,
                "car",
                "door open while moving",
                lambda c: c.car().door_open_while_moving,
            ),
            (
                INCIDENT_AT_S + 10 * MINUTE,
                "car",
                "reset by a competent person",
                lambda c: c.car().release,
            ),
        ),
        car,
        (
            ticket("elevator.door_open_while_moving", E, FAC, "car"),
            ticket("elevator.circuit_open", G, FAC, "car"),
        ),
        duration_s=12 * MINUTE,
    ),
    Scenario(
        "relevel_door_open",
        "a heavy load sinks the car 3 cm at a landing and it relevels with the door "
        "open, inside the door zone, on one sample",
        once("relevels with the door open", lambda c: c.car().relevel_with_door_open),
        car,
        duration_s=5 * MINUTE,
    ),
    Scenario(
        "power_cut",
        "mains lost for both cars of the first building at 15 s (the rescue device levels them "
        "and lets passengers out), back 5 min later: one ticket for the building",
        lambda c: [
            *(
                at(INCIDENT_AT_S, c[r], "mains power cut", c.car(r).power_cut)
                for r in ("car", "car_b")
            ),
            *(
                at(
                    INCIDENT_AT_S + POWER_RESTORED_AFTER_S,
                    c[r],
                    "mains power restored",
                    c.car(r).power_restored,
                )
                for r in ("car", "car_b")
            ),
        ],
        building_cars,
        # One power cut, one ticket: the second car's power loss is linked to the first car's
        # ticket (tickets: inhibition in the same building), not a ticket of its own.
        (
            ticket(
                "elevator.power_loss", E, FAC, "car", fire("elevator.power_loss", E, FAC, "car_b")
            ),
        ),
        duration_s=8 * MINUTE,
    ),
    Scenario(
        "power_blip",
        "mains lost for 5 s on one car: shorter than the 10 s power-loss dwell",
        timeline(
            (INCIDENT_AT_S, "car", "mains power cut", lambda c: c.car().power_cut),
            (INCIDENT_AT_S + 5, "car", "mains power back", lambda c: c.car().power_restored),
        ),
        car,
        duration_s=4 * MINUTE,
    ),
    Scenario(
        "overrun",
        "on a run to a terminal landing the empty car overtravels 0.6 m until the final limit "
        "switch stops it (code 09/10, out of service); reset after 10 min",
        timeline(
            (INCIDENT_AT_S, "car", "overruns the terminal landing", lambda c: c.car().overrun),
            (
                INCIDENT_AT_S + 10 * MINUTE,
                "car",
                "reset by the technician",
                lambda c: c.car().release,
            ),
        ),
        car,
        (ticket("elevator.overrun", E, FAC, "car"),),
        duration_s=13 * MINUTE,
    ),
    Scenario(
        "overshoot",
        "the car stops 12 cm past a terminal landing, inside its door zone, and relevels",
        once("overshoots the terminal landing", lambda c: c.car().overshoot_and_relevel),
        car,
        duration_s=5 * MINUTE,
    ),
    Scenario(
        "overspeed",
        "the car runs at 125 % of rated speed for 2.5 s, the governor trips, the safety gear "
        "holds it (out of service); reset after 10 min",
        timeline(
            (
                INCIDENT_AT_S,
                "car",
                "overspeed, governor trips",
                lambda c: functools.partial(c.car().speed_run, 1.25, 2.5, governor_trip=True),
            ),
            (
                INCIDENT_AT_S + 10 * MINUTE,
                "car",
                "reset by the technician",
                lambda c: c.car().release,
            ),
        ),
        car,
        (ticket("elevator.overspeed", E, FAC, "car"),),
        duration_s=13 * MINUTE,
    ),
    Scenario(
        "speed_high",
        "the car runs at 110 % of rated speed for 8 s: the warning band (general), not an "
        "overspeed",
        once("runs 10 % fast", lambda c: functools.partial(c.car().speed_run, 1.10, 8.0)),
        car,
        (ticket("elevator.speed_abnormal", G, FAC, "car"),),
        duration_s=5 * MINUTE,
    ),
    Scenario(
        "speed_slightly_high",
        "the car runs at 103 % of rated speed for 10 s: under the 105 % warning band",
        once("runs 3 % fast", lambda c: functools.partial(c.car().speed_run, 1.03, 10.0)),
        car,
        duration_s=5 * MINUTE,
    ),
    Scenario(
        "door_lock_fault",
        "with the car free at a landing the door-lock circuit opens (a landing door contact) "
        "for 60 s; the car cannot run meanwhile",
        once(
            "door-lock circuit open for 60 s",
            lambda c: functools.partial(c.car().circuit_fault, "door_lock", 60.0),
        ),
        car,
        (ticket("elevator.circuit_open", G, FAC, "car"),),
        duration_s=5 * MINUTE,
    ),
    Scenario(
        "circuit_blip",
        "the safety circuit of the idle car opens for 4 s (someone leaned on a "
        "landing door): shorter than the 10 s dwell",
        once(
            "safety circuit open for 4 s",
            lambda c: functools.partial(c.car().circuit_fault, "safety", 4.0),
        ),
        car,
        duration_s=5 * MINUTE,
    ),
    Scenario(
        "door_cycling",
        "a faulty light curtain: at a landing the door opens and closes 6 times without the "
        "car leaving",
        once("door keeps reopening", lambda c: functools.partial(c.car().door_cycling, 6)),
        car,
        (ticket("elevator.door_fault", G, FAC, "car"),),
        duration_s=5 * MINUTE,
    ),
    Scenario(
        "door_held_open",
        "a neighbour holds the door open at a landing for 45 s (about 50 s not "
        "closed): under the 80 s door-fault timer",
        once("door held open 45 s", lambda c: functools.partial(c.car().hold_door_open, 45.0)),
        car,
        duration_s=5 * MINUTE,
    ),
    Scenario(
        "controller_fault",
        "the controller reports code 07 (position lost) and parks the empty car at its "
        "landing; cleared by a technician after 10 min",
        once(
            "controller code 07",
            lambda c: functools.partial(c.car().controller_fault, "07", 10 * MINUTE),
        ),
        car,
        (ticket("elevator.controller_fault", G, FAC, "car"),),
        duration_s=14 * MINUTE,
    ),
    Scenario(
        "door_close_code",
        "code 03 (door does not close) has a rule of its own: "
        "a door fault, not a generic controller fault",
        once(
            "controller code 03 for 2 min",
            lambda c: functools.partial(c.car().door_fault_code, "03", 2 * MINUTE),
        ),
        car,
        (ticket("elevator.door_fault", G, FAC, "car"),),
        duration_s=6 * MINUTE,
    ),
    Scenario(
        "inspection_left_on",
        "a technician switches the car to inspection mode and leaves it so for 5 h",
        once("inspection mode for 5 h", lambda c: functools.partial(c.car().inspection, 5 * HOUR)),
        car,
        (ticket("elevator.long_inspection", G, SVC, "car"),),
        duration_s=5 * HOUR + 10 * MINUTE,
    ),
    Scenario(
        "inspection_visit",
        "a 90-minute maintenance visit in inspection mode: under the 4 h limit",
        once(
            "inspection mode for 90 min",
            lambda c: functools.partial(c.car().inspection, 90 * MINUTE),
        ),
        car,
        duration_s=95 * MINUTE,
    ),
    Scenario(
        "fire_recall",
        "the fire alarm recalls the car to the lobby (fire mode) for 5 min",
        once("fire recall for 5 min", lambda c: functools.partial(c.car().fire_recall, 300.0)),
        car,
        (ticket("elevator.fire_mode", IMP, SVC, "car"),),
        duration_s=8 * MINUTE,
    ),
    Scenario(
        "fire_alarm_test",
        "a fire-alarm test recalls the car and is reset after 30 s: under the 60 s "
        "verification time",
        once("fire recall for 30 s", lambda c: functools.partial(c.car().fire_recall, 30.0)),
        car,
        duration_s=5 * MINUTE,
    ),
    Scenario(
        "floor_glitch",
        "the car's position counter reports floor 87 for 20 s, then recalibrates",
        once("floor reads 87", lambda c: functools.partial(c.car().floor_glitch, 87, 20.0)),
        car,
        (ticket("sensor.implausible", G, FAC, "car"),),
        duration_s=4 * MINUTE,
    ),
    Scenario(
        "terminal_quiet",
        "the idle car's terminal says nothing for 8 min (a firmware update, no Last "
        "Will): under the 10 min silence limit",
        once(
            "terminal quiet for 8 min",
            lambda c: functools.partial(
                c.car().when_idle, functools.partial(c.car().go_quiet, 480.0)
            ),
        ),
        car,
        duration_s=12 * MINUTE,
    ),
    Scenario(
        "maintenance_overdue",
        "the site file says the car was last maintained 20 days ago (every 15 days is due)",
        site_file("site file: last maintenance 20 days ago", "car"),
        car,
        (ticket("elevator.maintenance_overdue", G, SVC, "car"),),
        duration_s=2 * MINUTE,
        dates=(DateParam("car", "last_maintenance", -20),),
    ),
    Scenario(
        "maintenance_due_soon",
        "last maintained 13 days ago: due in two days, not overdue",
        site_file("site file: last maintenance 13 days ago", "car"),
        car,
        duration_s=2 * MINUTE,
        dates=(DateParam("car", "last_maintenance", -13),),
    ),
    Scenario(
        "inspection_due",
        "the car's periodic inspection certificate expires in 20 days (apply within 30)",
        site_file("site file: inspection expires in 20 days", "car"),
        car,
        (ticket("elevator.inspection_due", G, SVC, "car"),),
        duration_s=2 * MINUTE,
        dates=(DateParam("car", "inspection_expires", 20),),
    ),
    Scenario(
        "inspection_not_due",
        "the inspection certificate expires in 35 days: outside the 30-day notice",
        site_file("site file: inspection expires in 35 days", "car"),
        car,
        duration_s=2 * MINUTE,
        dates=(DateParam("car", "inspection_expires", 35),),
    ),
    Scenario(
        "repeated_failure",
        "the car parks with controller code 07 on three days running (cleared after 30 min "
        "each time): three fault tickets in 30 days make a repeated-failure ticket",
        timeline(
            *(
                (
                    HOUR + day * DAY,
                    "car",
                    f"controller code 07 (day {day + 1})",
                    lambda c: functools.partial(c.car().controller_fault, "07", 30 * MINUTE),
                )
                for day in range(3)
            )
        ),
        car,
        (
            *(ticket("elevator.controller_fault", G, FAC, "car") for _ in range(3)),
            ticket("elevator.repeated_failure", IMP, FAC, "car"),
        ),
        duration_s=2 * DAY + 2 * HOUR,
    ),
    Scenario(
        "two_failures",
        "controller code 07 on two days: two fault tickets, not yet repeated",
        timeline(
            *(
                (
                    HOUR + day * DAY,
                    "car",
                    f"controller code 07 (day {day + 1})",
                    lambda c: functools.partial(c.car().controller_fault, "07", 30 * MINUTE),
                )
                for day in range(2)
            )
        ),
        car,
        tuple(ticket("elevator.controller_fault", G, FAC, "car") for _ in range(2)),
        duration_s=DAY + 2 * HOUR,
    ),
)


# --- water --------------------------------------------------------------------------------------


def _high_target(c: Cast) -> Callable[[], None]:
    """A failed pressure-reducing valve: 0.07 MPa over the sensor's high limit (under 0.6)."""
    sensor = c.water()
    limit = sensor.high_limit_mpa if sensor.high_limit_mpa is not None else HIGH_LIMIT_MPA
    return functools.partial(sensor.supply, min(limit + 0.07, 0.55), 5 * MINUTE)


def _both(c: Cast, action: Callable[[WaterPressureSensor], None], label: str) -> list[Injection]:
    return [
        at(WATER_AT_S, c[r], label, functools.partial(action, c.water(r)))
        for r in ("sensor", "peer")
    ]


WATER: tuple[Scenario, ...] = (
    Scenario(
        "water_outage",
        "the booster pump of a two-sensor zone trips: both sensors drain to ≈ 0 within a "
        "minute (confirmed outage, one zone ticket; the sudden drop is also a burst on each "
        "sensor); supply back after 90 min",
        lambda c: [
            *_both(c, lambda s: s.outage(ramp_s=60.0), "supply lost"),
            *(
                at(
                    WATER_AT_S + 90 * MINUTE,
                    c[r],
                    "supply restored",
                    functools.partial(c.water(r).restore, 5 * MINUTE),
                )
                for r in ("sensor", "peer")
            ),
        ],
        zone_pair,
        (
            ticket("water.outage", E, FAC, "sensor", fire("water.outage", E, FAC, "peer")),
            ticket("water.burst", IMP, FAC, "sensor"),
            ticket("water.burst", IMP, FAC, "peer"),
        ),
        duration_s=WATER_AT_S + 2 * HOUR,
    ),
    Scenario(
        "pump_switchover",
        "a pump switchover empties a two-sensor zone for about a minute, then "
        "pressure is back: shorter than the 2 min outage dwell and the 5 min burst window",
        lambda c: [
            *_both(c, lambda s: s.outage(ramp_s=15.0), "supply lost (switchover)"),
            *(
                at(
                    WATER_AT_S + 75,
                    c[r],
                    "standby pump running",
                    functools.partial(c.water(r).restore, 15.0),
                )
                for r in ("sensor", "peer")
            ),
        ],
        zone_pair,
        duration_s=WATER_AT_S + 10 * MINUTE,
    ),
    Scenario(
        "low_supply",
        "a booster pump running slow: a zone's pressure sinks to 0.07 MPa over 30 min and "
        "stays there; repaired after an hour",
        timeline(
            (
                WATER_AT_S,
                "sensor",
                "supply sinking to 0.07 MPa",
                lambda c: functools.partial(c.water().supply, 0.07, 30 * MINUTE),
            ),
            (
                WATER_AT_S + HOUR,
                "sensor",
                "pump repaired",
                lambda c: functools.partial(c.water().restore, 10 * MINUTE),
            ),
        ),
        lone_sensor,
        (ticket("water.low_pressure", G, FAC, "sensor"),),
        duration_s=WATER_AT_S + HOUR + 40 * MINUTE,
    ),
    Scenario(
        "evening_dip",
        "heavy demand pulls a zone down to 0.08 MPa for a few minutes (under "
        "0.10 MPa for about 6 min): shorter than the 10 min low-pressure dwell",
        timeline(
            (
                WATER_AT_S,
                "sensor",
                "supply sagging to 0.08 MPa",
                lambda c: functools.partial(c.water().supply, 0.08, 25 * MINUTE),
            ),
            (
                WATER_AT_S + 27 * MINUTE,
                "sensor",
                "demand eases",
                lambda c: functools.partial(c.water().restore, 3 * MINUTE),
            ),
        ),
        lone_sensor,
        duration_s=WATER_AT_S + 45 * MINUTE,
    ),
    Scenario(
        "high_supply",
        "a pressure-reducing valve fails: a zone rises 0.07 MPa over its limit and stays "
        "there (the plumber comes tomorrow)",
        once("pressure-reducing valve failed", _high_target, "sensor", WATER_AT_S),
        lone_sensor,
        (ticket("water.high_pressure", G, FAC, "sensor"),),
        duration_s=WATER_AT_S + 20 * MINUTE,
    ),
    Scenario(
        "high_surge",
        "the pressure-reducing valve hunts: over the zone's limit for 6 min, then "
        "back: shorter than the 10 min dwell",
        lambda c: [
            at(
                WATER_AT_S,
                c["sensor"],
                "valve hunting",
                functools.partial(c.water().supply, 0.42, 60.0),
            ),
            at(
                WATER_AT_S + 6 * MINUTE,
                c["sensor"],
                "valve settles",
                functools.partial(c.water().restore, 60.0),
            ),
        ],
        lone_sensor,
        duration_s=WATER_AT_S + 20 * MINUTE,
    ),
    Scenario(
        "over_pressure",
        "a pressure-reducing valve fails wide open: a zone rises to 0.70 MPa (over the 0.60 "
        "MPa limit) and stays there",
        once(
            "pressure-reducing valve failed open",
            lambda c: functools.partial(c.water().supply, 0.70, 5 * MINUTE),
            "sensor",
            WATER_AT_S,
        ),
        lone_sensor,
        (ticket("water.over_pressure", IMP, FAC, "sensor"),),
        duration_s=WATER_AT_S + 20 * MINUTE,
    ),
    Scenario(
        "pressure_surge",
        "a surge to 0.70 MPa for 4 min: shorter than the 10 min over-pressure dwell",
        timeline(
            (
                WATER_AT_S,
                "sensor",
                "surge to 0.70 MPa",
                lambda c: functools.partial(c.water().supply, 0.70, 60.0),
            ),
            (
                WATER_AT_S + 4 * MINUTE,
                "sensor",
                "surge over",
                lambda c: functools.partial(c.water().restore, 60.0),
            ),
        ),
        lone_sensor,
        duration_s=WATER_AT_S + 20 * MINUTE,
    ),
    Scenario(
        "water_burst",
        "a pipe bursts downstream of the main: its pressure drops 0.2 MPa within 30 s and "
        "stays low; repaired after an hour",
        timeline(
            (
                WATER_AT_S,
                "sensor",
                "pipe burst",
                lambda c: functools.partial(c.water().burst, drop_mpa=BURST_DROP_MPA),
            ),
            (
                WATER_AT_S + HOUR,
                "sensor",
                "pipe repaired",
                lambda c: functools.partial(c.water().restore, 5 * MINUTE),
            ),
        ),
        main_sensor,
        (ticket("water.burst", IMP, FAC, "sensor"),),
        duration_s=WATER_AT_S + HOUR + 10 * MINUTE,
    ),
    Scenario(
        "big_draw",
        "hydrant flushing drops the main 0.2 MPa within 30 s for 2 min, then it "
        "recovers: inside the 5 min burst confirmation",
        timeline(
            (
                WATER_AT_S,
                "sensor",
                "hydrant flushing",
                lambda c: functools.partial(c.water().burst, drop_mpa=BURST_DROP_MPA),
            ),
            (
                WATER_AT_S + 2 * MINUTE,
                "sensor",
                "flushing done",
                lambda c: functools.partial(c.water().restore, 30.0),
            ),
        ),
        main_sensor,
        duration_s=WATER_AT_S + 15 * MINUTE,
    ),
    Scenario(
        "jockey_pump_failed",
        "the fire main's jockey pump fails: it leaks down to 0.05 MPa over an hour (under the "
        "0.07 MPa minimum, above the 0.02 MPa 'lost' line); repaired an hour later",
        timeline(
            (
                WATER_AT_S,
                "sensor",
                "jockey pump failed",
                lambda c: functools.partial(c.water().supply, 0.05, HOUR),
            ),
            (
                WATER_AT_S + 2 * HOUR,
                "sensor",
                "jockey pump repaired",
                lambda c: functools.partial(c.water().restore, 10 * MINUTE),
            ),
        ),
        fire_main,
        (ticket("water.fire_low_pressure", IMP, FAC, "sensor"),),
        duration_s=WATER_AT_S + 2 * HOUR + 15 * MINUTE,
    ),
    Scenario(
        "jockey_pump_late",
        "the fire main sags to 0.06 MPa before the jockey pump cuts in: under "
        "0.07 MPa for about 2 min, shorter than the 5 min dwell",
        timeline(
            (
                WATER_AT_S,
                "sensor",
                "fire main sagging",
                lambda c: functools.partial(c.water().supply, 0.06, 40 * MINUTE),
            ),
            (
                WATER_AT_S + 40 * MINUTE,
                "sensor",
                "jockey pump cuts in",
                lambda c: functools.partial(c.water().restore, 20.0),
            ),
        ),
        fire_main,
        duration_s=WATER_AT_S + 55 * MINUTE,
    ),
    Scenario(
        "fire_main_drained",
        "a drain valve left open after a test empties the fire main over 75 min: first below "
        "its minimum (important), then lost (emergency, same ticket); closed after 90 min",
        timeline(
            (
                WATER_AT_S,
                "sensor",
                "drain valve left open",
                lambda c: functools.partial(c.water().supply, 0.0, 75 * MINUTE),
            ),
            (
                WATER_AT_S + 90 * MINUTE,
                "sensor",
                "valve closed, main refilled",
                lambda c: functools.partial(c.water().restore, 10 * MINUTE),
            ),
        ),
        fire_main,
        (
            ticket(
                "water.fire_low_pressure",
                IMP,
                FAC,
                "sensor",
                fire("water.fire_pressure_lost", E, FAC, "sensor"),
            ),
        ),
        duration_s=WATER_AT_S + HOUR + 50 * MINUTE,
    ),
    Scenario(
        "water_sensor_fault",
        "the transmitter of a two-sensor zone fails low (2 mA): a sensor fault, not an outage; "
        "replaced after 30 min",
        timeline(
            (WATER_AT_S, "sensor", "transmitter fault (2 mA)", lambda c: c.water().sensor_fault),
            (
                WATER_AT_S + 30 * MINUTE,
                "sensor",
                "transmitter replaced",
                lambda c: c.water().restore,
            ),
        ),
        zone_pair,
        (ticket("water.sensor_fault", G, FAC, "sensor"),),
        duration_s=WATER_AT_S + 35 * MINUTE,
    ),
    Scenario(
        "loop_glitch",
        "the loop current drops to 2 mA for 1 s (a loose terminal): shorter than "
        "the 4 s sensor-fault dwell",
        timeline(
            (INCIDENT_AT_S, "sensor", "loop current 2 mA", lambda c: c.water().sensor_fault),
            (INCIDENT_AT_S + 1, "sensor", "loop current back", lambda c: c.water().restore),
        ),
        zone_pair,
        duration_s=5 * MINUTE,
    ),
)


# --- extinguishers ------------------------------------------------------------------------------

EXTINGUISHER: tuple[Scenario, ...] = (
    Scenario(
        "extinguisher_leak",
        "an extinguisher leaks 0.2 MPa/h and leaves the green band within the hour; "
        "serviced after 3 h",
        timeline(
            (
                INCIDENT_AT_S,
                "fex",
                "slow leak",
                lambda c: functools.partial(c.fex().leak, rate_mpa_per_h=0.2),
            ),
            (INCIDENT_AT_S + 3 * HOUR, "fex", "serviced", lambda c: c.fex().restore),
        ),
        floor_fex,
        (ticket("extinguisher.low_pressure", G, FAC, "fex"),),
        duration_s=3 * HOUR + 15 * MINUTE,
    ),
    Scenario(
        "extinguisher_low_in_band",
        "an extinguisher recharged to 1.06 MPa, just inside its green band (1.0-1.4)",
        once("recharged to 1.06 MPa", lambda c: functools.partial(c.fex().recharge, 1.06), "fex"),
        floor_fex,
        duration_s=30 * MINUTE,
    ),
    Scenario(
        "extinguisher_overfilled",
        "an extinguisher overfilled at recharge reads 1.55 MPa, above its green band",
        once("overfilled to 1.55 MPa", lambda c: functools.partial(c.fex().recharge, 1.55), "fex"),
        floor_fex,
        (ticket("extinguisher.over_pressure", G, FAC, "fex"),),
        duration_s=20 * MINUTE,
    ),
    Scenario(
        "extinguisher_top_of_band",
        "an extinguisher charged to 1.34 MPa, near the top of its green band",
        once("charged to 1.34 MPa", lambda c: functools.partial(c.fex().recharge, 1.34), "fex"),
        floor_fex,
        duration_s=30 * MINUTE,
    ),
    Scenario(
        "extinguisher_discharged",
        "an extinguisher on its bracket is discharged (vandalism): pressure gone in seconds; "
        "replaced after 2 h",
        timeline(
            (INCIDENT_AT_S, "fex", "discharged", lambda c: c.fex().discharge),
            (INCIDENT_AT_S + 2 * HOUR, "fex", "replaced", lambda c: c.fex().restore),
        ),
        floor_fex,
        (ticket("extinguisher.discharged", IMP, SVC, "fex"),),
        duration_s=2 * HOUR + 10 * MINUTE,
    ),
    Scenario(
        "fast_leak",
        "a fast leak loses about 37 % in an hour (the rapid-loss "
        "line is 50 %): a low-pressure ticket, not a discharge; serviced after an hour",
        timeline(
            (
                INCIDENT_AT_S,
                "fex",
                "fast leak",
                lambda c: functools.partial(c.fex().leak, rate_mpa_per_h=0.45),
            ),
            (INCIDENT_AT_S + HOUR, "fex", "serviced", lambda c: c.fex().restore),
        ),
        floor_fex,
        (ticket("extinguisher.low_pressure", G, FAC, "fex"),),
        duration_s=HOUR + 15 * MINUTE,
    ),
    Scenario(
        "extinguisher_removed",
        "an extinguisher is taken off its bracket and laid down; put back after 10 min",
        timeline(
            (INCIDENT_AT_S, "fex", "removed from bracket", lambda c: c.fex().remove_from_bracket),
            (INCIDENT_AT_S + 10 * MINUTE, "fex", "put back", lambda c: c.fex().return_to_bracket),
        ),
        floor_fex,
        (ticket("extinguisher.removed", G, SVC, "fex"),),
        duration_s=15 * MINUTE,
    ),
    Scenario(
        "inspector_lift",
        "the monthly inspector lifts an extinguisher off its bracket for 30 s and "
        "puts it back: shorter than the 60 s dwell",
        timeline(
            (INCIDENT_AT_S, "fex", "lifted off", lambda c: c.fex().remove_from_bracket),
            (INCIDENT_AT_S + 30, "fex", "put back", lambda c: c.fex().return_to_bracket),
        ),
        floor_fex,
        duration_s=5 * MINUTE,
    ),
    Scenario(
        "fex_inspection_overdue",
        "the site file says a basement extinguisher was inspected 20 days ago (half-monthly "
        "in basements and garages)",
        site_file("site file: last inspection 20 days ago", "fex"),
        basement_fex,
        (ticket("extinguisher.inspection_overdue", G, SVC, "fex"),),
        duration_s=2 * MINUTE,
        dates=(DateParam("fex", "last_inspection", -20),),
    ),
    Scenario(
        "fex_inspection_monthly",
        "an extinguisher above ground inspected 20 days ago: monthly, not yet due",
        site_file("site file: last inspection 20 days ago", "fex"),
        floor_fex,
        duration_s=2 * MINUTE,
        dates=(DateParam("fex", "last_inspection", -20),),
    ),
    Scenario(
        "battery_low",
        "an extinguisher monitor's battery is down to 19 %; replaced after 30 min",
        timeline(
            (
                INCIDENT_AT_S,
                "fex",
                "battery at 19 %",
                lambda c: functools.partial(c.fex().set_battery, 19.0),
            ),
            (INCIDENT_AT_S + 30 * MINUTE, "fex", "battery replaced", lambda c: c.fex().restore),
        ),
        floor_fex,
        (ticket("device.battery_low", G, FAC, "fex"),),
        duration_s=40 * MINUTE,
    ),
    Scenario(
        "battery_ok",
        "an extinguisher monitor's battery at 21.5 %: above the 20 % line",
        once("battery at 21.5 %", lambda c: functools.partial(c.fex().set_battery, 21.5), "fex"),
        floor_fex,
        duration_s=30 * MINUTE,
    ),
)


# --- patrol -------------------------------------------------------------------------------------


def _patrol(
    label: str, action: Callable[[Cast], Callable[[], None]], *, shift_safe: bool = False
) -> Callable[[Cast], list[Injection]]:
    """One patrol incident on the first checkpoint of the cast (planned on the round after
    the next); ``shift_safe`` delays it so that it plays out inside one guard shift."""

    def play(c: Cast) -> list[Injection]:
        first = c.checkpoint()
        when = shift_safe_s(first) if shift_safe else INCIDENT_AT_S
        return [at(when, first, label, action(c))]

    return play


def _skip(*roles: str, rounds: int = 1) -> Callable[[Cast], Callable[[], None]]:
    def action(c: Cast) -> Callable[[], None]:
        def go() -> None:
            for role in roles:
                c.checkpoint(role).skip(rounds)

        return go

    return action


PATROL_S = 6 * HOUR + 30 * MINUTE
PATROL: tuple[Scenario, ...] = (
    Scenario(
        "checkpoint_skipped",
        "on the round after the next the guard walks past the first key checkpoint without "
        "scanning it (missed after 2 h + 20 %); scanned again on the round after",
        _patrol("checkpoint skipped once", _skip("checkpoint")),
        route(1),
        (ticket("patrol.missed_checkpoint", G, SVC, "checkpoint"),),
        duration_s=PATROL_S,
    ),
    Scenario(
        "late_round",
        "the round after the next starts 18 min late (every checkpoint about 138 "
        "min after its last scan): late, but inside the 20 % tolerance",
        _patrol(
            "round 18 min late",
            lambda c: functools.partial(c.checkpoint().route.delay, c.checkpoint().now, 18),
        ),
        route(1),
        duration_s=PATROL_S,
    ),
    Scenario(
        "missed_patrol",
        "the guard skips the first key checkpoint on two rounds in a row: missed, then missed "
        "repeatedly (the ticket's priority rises to important)",
        _patrol("checkpoint skipped twice", _skip("checkpoint", rounds=2)),
        route(1),
        (
            ticket(
                "patrol.missed_checkpoint",
                G,
                SVC,
                "checkpoint",
                fire("patrol.missed_repeatedly", IMP, SVC, "checkpoint"),
            ),
        ),
        duration_s=9 * HOUR,
    ),
    Scenario(
        "rapid_rescan",
        "at its next scan the guard scans the first key checkpoint again 30 s later",
        _patrol(
            "tag scanned twice", lambda c: functools.partial(c.checkpoint().rescan_after_next, 30.0)
        ),
        route(1),
        (ticket("patrol.suspicious_rescan", G, SVC, "checkpoint"),),
        duration_s=2 * HOUR,
    ),
    Scenario(
        "rescan_after_90s",
        "the guard comes back to a checkpoint and scans it again 90 s later: over "
        "the 60 s rescan limit",
        _patrol(
            "tag scanned again after 90 s",
            lambda c: functools.partial(c.checkpoint().rescan_after_next, 90.0),
        ),
        route(1),
        duration_s=2 * HOUR,
    ),
    Scenario(
        "guard_asleep",
        "the day guard sleeps through the round after the next: no scan for over 2.4 h (guard "
        "inactive), all five key checkpoints missed, so the shift has too many misses",
        _patrol(
            "guard sleeps through a round",
            lambda c: functools.partial(c.checkpoint().route.sleep_through, c.checkpoint().now),
            shift_safe=True,
        ),
        route(5, exactly=True),
        (
            *(
                ticket("patrol.missed_checkpoint", G, SVC, role)
                for role in ("checkpoint", "cp2", "cp3", "cp4", "cp5")
            ),
            ticket("patrol.guard_inactive", IMP, SVC, "cp5"),
            ticket("patrol.shift_misses", IMP, SVC, "cp3"),
        ),
        duration_s=PATROL_S,
    ),
    Scenario(
        "three_skips",
        "on one round the guard cuts three key checkpoints: three misses in one shift",
        _patrol("three checkpoints skipped", _skip("checkpoint", "cp2", "cp3"), shift_safe=True),
        route(3),
        (
            *(
                ticket("patrol.missed_checkpoint", G, SVC, role)
                for role in ("checkpoint", "cp2", "cp3")
            ),
            ticket("patrol.shift_misses", IMP, SVC, "cp3"),
        ),
        duration_s=PATROL_S,
    ),
    Scenario(
        "two_skips",
        "on one round the guard cuts two key checkpoints: two misses, under the three per shift",
        _patrol("two checkpoints skipped", _skip("checkpoint", "cp2"), shift_safe=True),
        route(2),
        tuple(ticket("patrol.missed_checkpoint", G, SVC, role) for role in ("checkpoint", "cp2")),
        duration_s=PATROL_S,
    ),
)


# --- sensor health ------------------------------------------------------------------------------


def _dropouts(times: Sequence[float], down_s: float) -> Callable[[Cast], list[Injection]]:
    def play(c: Cast) -> list[Injection]:
        sensor = c.water()
        out = []
        for t in times:
            out.append(at(t, sensor, "connection lost", sensor.drop_connection))
            out.append(at(t + down_s, sensor, "reconnected", sensor.reconnect))
        return out

    return play


HEALTH: tuple[Scenario, ...] = (
    Scenario(
        "sensor_dropout",
        "a water sensor drops off the network (Last Will: offline); back after 30 min",
        _dropouts([INCIDENT_AT_S], 30 * MINUTE),
        zone_pair,
        (ticket("device.offline", G, FAC, "sensor"),),
        duration_s=35 * MINUTE,
    ),
    Scenario(
        "water_sensor_stuck",
        "a water sensor's reading freezes (flat line); replaced after an hour",
        timeline(
            (INCIDENT_AT_S, "sensor", "reading frozen", lambda c: c.water().sensor_stuck),
            (INCIDENT_AT_S + HOUR, "sensor", "sensor replaced", lambda c: c.water().restore),
        ),
        lone_sensor,
        (ticket("sensor.stuck", G, FAC, "sensor"),),
        duration_s=HOUR + 5 * MINUTE,
    ),
    Scenario(
        "stuck_briefly",
        "a water sensor repeats its value for 2.5 min (3 readings) while its "
        "gateway reboots: under the 6-reading flat-line test",
        timeline(
            (INCIDENT_AT_S, "sensor", "reading frozen", lambda c: c.water().sensor_stuck),
            (INCIDENT_AT_S + 150, "sensor", "readings live again", lambda c: c.water().restore),
        ),
        lone_sensor,
        duration_s=10 * MINUTE,
    ),
    Scenario(
        "water_hammer",
        "a valve slams and the main reads 1.55 MPa for 2 s, inside the transmitter's 1.6 MPa range",
        once("water hammer", lambda c: functools.partial(c.water().spike, 1.55, 2.0), "sensor"),
        main_sensor,
        duration_s=10 * MINUTE,
    ),
    Scenario(
        "terminal_flood",
        "a firmware bug at 4 min: the car's terminal publishes 25 readings a second for a "
        "minute (the limit is 20 a second after a burst of 100): the excess is dropped, one "
        "ticket",
        once(
            "terminal floods",
            lambda c: functools.partial(c.car().flood, 25.0, 60.0),
            at_s=FLOOD_AT_S,
        ),
        car,
        (ticket("device.misbehaving", G, FAC, "car"),),
        duration_s=6 * MINUTE,
    ),
    Scenario(
        "buffer_flush",
        "after a modem reconnect at 4 min the car's terminal sends 80 readings in 1.6 s, "
        "inside the burst allowance of 100",
        once(
            "terminal flushes its buffer",
            lambda c: functools.partial(c.car().flood, 50.0, 1.6),
            at_s=FLOOD_AT_S,
        ),
        car,
        duration_s=6 * MINUTE,
    ),
    Scenario(
        "flaky_sensor",
        "a loose cable: a water sensor drops off the network four times in 3 h (5 min each): "
        "three offline tickets, then one flapping ticket and no more",
        _dropouts([INCIDENT_AT_S, HOUR, 2 * HOUR, 3 * HOUR], 5 * MINUTE),
        lone_sensor,
        (
            *(ticket("device.offline", G, FAC, "sensor") for _ in range(3)),
            ticket("device.flapping", G, FAC, "sensor"),
        ),
        duration_s=3 * HOUR + 10 * MINUTE,
    ),
    Scenario(
        "two_dropouts",
        "a water sensor drops off twice in a day: two offline tickets, "
        "under the three faults that make it flapping",
        _dropouts([INCIDENT_AT_S, HOUR], 5 * MINUTE),
        lone_sensor,
        tuple(ticket("device.offline", G, FAC, "sensor") for _ in range(2)),
        duration_s=HOUR + 10 * MINUTE,
    ),
)


# --- the library ------------------------------------------------------------------------------

NORMAL = Scenario("normal", "normal traffic only, no incident", lambda c: [])


def _demo(c: Cast) -> list[Injection]:
    car_ = c.car()
    trap = functools.partial(car_.trap_between_floors, alarm_after_s=20.0)
    return [
        at(DEMO_ENTRAPMENT_AT_S, car_, "passenger trapped between floors", trap),
        at(DEMO_RESCUE_AT_S, car_, "rescue done, alarm reset", car_.release),
    ]


DEMO = Scenario(
    "demo",
    "the example site; a passenger is trapped between floors at 30 s (alarm 20 s later) and "
    "rescued at 20 min",
    _demo,
    car,
    (ticket("elevator.alarm_button", E, FAC, "car", fire("elevator.entrapment", E, FAC, "car")),),
    duration_s=22 * MINUTE,
)

LIBRARY: tuple[Scenario, ...] = (*ELEVATOR, *WATER, *EXTINGUISHER, *PATROL, *HEALTH)
"""Every scenario of the pairs (``normal`` and ``demo`` are not in it)."""

PAIRS: dict[str, tuple[str, str]] = {
    "elevator.entrapment": ("entrapment", "brief_stop"),
    "elevator.entrapment_at_landing": ("entrapment_at_landing", "shut_in_briefly"),
    "elevator.alarm_button": ("alarm_in_car", "alarm_at_landing"),
    "elevator.alarm_follow_up": ("alarm_at_landing", "alarm_in_car"),
    "elevator.stopped_outside_door_zone": ("stopped_empty", "stopped_empty_briefly"),
    "elevator.door_open_while_moving": ("door_open_while_moving", "relevel_door_open"),
    "elevator.power_loss": ("power_cut", "power_blip"),
    "elevator.overrun": ("overrun", "overshoot"),
    "elevator.overspeed": ("overspeed", "speed_high"),
    "elevator.speed_abnormal": ("speed_high", "speed_slightly_high"),
    "elevator.circuit_open": ("door_lock_fault", "circuit_blip"),
    "elevator.door_fault": ("door_cycling", "door_held_open"),
    "elevator.long_inspection": ("inspection_left_on", "inspection_visit"),
    "elevator.fire_mode": ("fire_recall", "fire_alarm_test"),
    "elevator.controller_fault": ("controller_fault", "door_close_code"),
    "elevator.repeated_failure": ("repeated_failure", "two_failures"),
    "elevator.maintenance_overdue": ("maintenance_overdue", "maintenance_due_soon"),
    "elevator.inspection_due": ("inspection_due", "inspection_not_due"),
    "water.outage": ("water_outage", "pump_switchover"),
    "water.low_pressure": ("low_supply", "evening_dip"),
    "water.high_pressure": ("high_supply", "high_surge"),
    "water.over_pressure": ("over_pressure", "pressure_surge"),
    "water.burst": ("water_burst", "big_draw"),
    "water.fire_low_pressure": ("jockey_pump_failed", "jockey_pump_late"),
    "water.fire_pressure_lost": ("fire_main_drained", "jockey_pump_failed"),
    "water.sensor_fault": ("water_sensor_fault", "loop_glitch"),
    "extinguisher.low_pressure": ("extinguisher_leak", "extinguisher_low_in_band"),
    "extinguisher.over_pressure": ("extinguisher_overfilled", "extinguisher_top_of_band"),
    "extinguisher.discharged": ("extinguisher_discharged", "fast_leak"),
    "extinguisher.removed": ("extinguisher_removed", "inspector_lift"),
    "extinguisher.inspection_overdue": ("fex_inspection_overdue", "fex_inspection_monthly"),
    "patrol.missed_checkpoint": ("checkpoint_skipped", "late_round"),
    "patrol.missed_repeatedly": ("missed_patrol", "checkpoint_skipped"),
    "patrol.suspicious_rescan": ("rapid_rescan", "rescan_after_90s"),
    "patrol.guard_inactive": ("guard_asleep", "late_round"),
    "patrol.shift_misses": ("three_skips", "two_skips"),
    "device.offline": ("sensor_dropout", "terminal_quiet"),
    "sensor.stuck": ("water_sensor_stuck", "stuck_briefly"),
    "sensor.implausible": ("floor_glitch", "water_hammer"),
    "device.battery_low": ("battery_low", "battery_ok"),
    "device.misbehaving": ("terminal_flood", "buffer_flush"),
    "device.flapping": ("flaky_sensor", "two_dropouts"),
}
"""rule id → (the scenario that must raise it, its near miss that must not)."""

DERIVED_RULES = frozenset({"elevator.repeated_failure"})
"""Decided from the ticket history, not by the rules engine: only a ticket store raises them."""
