"""Elevator rules (domain-rules-research.md §6: ELV-01..11, 13).

Each rule is a pure function of ``ElevatorView`` (the latest reading plus what the engine
remembers across readings) and the clock, returning its dwell, or None when its condition does
not hold. Entrapment-like rules share the ``entrapment`` group so one trapped passenger is one
ticket, however many signals (dwell outside the door zone, alarm button, controller code 11)
report it. Maintenance and inspection calendars live in rules/calendar.py; repeated failure,
which needs the ticket history, in rules/derived.py.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from gateway.payloads import Door, Mode
from rules.condition import Rule, make_rule
from rules.decision import Category, Priority
from rules.latest import ElevatorRecord
from rules.thresholds import ElevatorThresholds
from steward.site import ElevatorParams

HANDLED_CODES = frozenset({"01", "02", "03", "04", "05", "09", "10", "11"})
"""GB/T 24476 fault codes with a rule of their own; any other code is a controller fault."""


@dataclass(slots=True)
class ElevatorView:
    t: ElevatorRecord
    """The latest reading (``rules.latest``)."""
    th: ElevatorThresholds
    params: ElevatorParams
    occupied_seen: bool = False
    """A passenger was detected at some point since the car last stopped."""
    door_open_moving_samples: int = 0
    """Consecutive readings with the car moving and the door not closed."""
    door_cycles: int = 0
    """Door open→closed cycles at a landing since the car last travelled."""
    codes: frozenset[str] = frozenset()
    """The controller's fault codes in the latest reading."""
    stopped_closed: bool = False
    """The latest reading: in normal service, stopped, door closed (three rules ask)."""

    @classmethod
    def first(
        cls, t: ElevatorRecord, th: ElevatorThresholds, params: ElevatorParams
    ) -> ElevatorView:
        return cls(
            t,
            th,
            params,
            occupied_seen=t.occupied is True,
            door_open_moving_samples=int(t.moving and t.door is not Door.CLOSED),
            codes=_codes(t),
            stopped_closed=_stopped_closed_in_service(t),
        )

    def update(self, t: ElevatorRecord) -> None:
        previous = self.t
        stopped_same_place = (
            not t.moving
            and not previous.moving
            and t.floor == previous.floor
            and t.door_zone == previous.door_zone
            and previous.door is Door.CLOSED
        )
        if t.occupied is True:
            self.occupied_seen = True
        elif not stopped_same_place or t.door is not Door.CLOSED:
            self.occupied_seen = False
        moving_open = t.moving and t.door is not Door.CLOSED
        self.door_open_moving_samples = self.door_open_moving_samples + 1 if moving_open else 0
        if t.moving:
            self.door_cycles = 0
        elif previous.door is not Door.CLOSED and t.door is Door.CLOSED:
            self.door_cycles += 1
        self.t = t
        self.codes = _codes(t)
        self.stopped_closed = _stopped_closed_in_service(t)


_NO_CODES: frozenset[str] = frozenset()


def _codes(t: ElevatorRecord) -> frozenset[str]:
    return frozenset(t.fault_codes) if t.fault_codes else _NO_CODES


def _stopped_closed_in_service(t: ElevatorRecord) -> bool:
    return t.mode is Mode.NORMAL and not t.moving and t.door is Door.CLOSED


def entrapment_outside_zone(v: ElevatorView, _now: float) -> float | None:
    if "11" in v.codes:  # the controller itself reports a trapped passenger
        return 0.0
    if not v.stopped_closed or v.t.door_zone:
        return None
    if v.t.occupied is True or v.occupied_seen:
        return v.th.entrapment_s
    if v.t.occupied is None:  # occupancy unknown: assume a passenger, after the ELV-04 dwell
        return v.th.stopped_outside_zone_s
    return None


def entrapment_at_landing(v: ElevatorView, _now: float) -> float | None:
    if not v.stopped_closed or not v.t.door_zone:
        return None
    return v.th.entrapment_at_landing_s if (v.t.occupied is True or v.occupied_seen) else None


def alarm_unfiltered(v: ElevatorView, _now: float) -> float | None:
    """EN 81-28 filtering: pressed with the door open at a landing, the passenger can walk out."""
    t = v.t
    return 0.0 if t.alarm and not (t.door_zone and t.door is Door.OPEN) else None


def alarm_filtered(v: ElevatorView, _now: float) -> float | None:
    t = v.t
    return 0.0 if t.alarm and t.door_zone and t.door is Door.OPEN else None


def stopped_outside_zone_empty(v: ElevatorView, _now: float) -> float | None:
    if not v.stopped_closed or v.t.door_zone:
        return None
    return v.th.stopped_outside_zone_s if v.t.occupied is False and not v.occupied_seen else None


def door_open_while_moving(v: ElevatorView, _now: float) -> float | None:
    if "05" in v.codes:  # unintended car movement reported by the controller
        return 0.0
    return 0.0 if v.door_open_moving_samples >= v.th.door_open_moving_samples else None


def power_lost(v: ElevatorView, _now: float) -> float | None:
    return v.th.power_loss_s if not v.t.mains_power else None


def overrun(v: ElevatorView, _now: float) -> float | None:
    """One floor beyond a terminal floor (the car left it), or controller codes 09/10.
    Further out is an implausible reading, not an overrun (sensor.implausible)."""
    if v.codes & {"09", "10"}:
        return 0.0
    floor, p = v.t.floor, v.params
    return 0.0 if floor in (p.max_floor + 1, p.min_floor - 1) else None


def _speed_ratio(v: ElevatorView) -> float:
    return (v.t.speed_mps or 0.0) / v.params.rated_speed_mps


def overspeed(v: ElevatorView, _now: float) -> float | None:
    return 0.0 if _speed_ratio(v) >= v.th.overspeed_ratio else None


def speed_abnormal(v: ElevatorView, _now: float) -> float | None:
    ratio = _speed_ratio(v)
    return (
        v.th.speed_warning_s if v.th.speed_warning_ratio <= ratio < v.th.overspeed_ratio else None
    )


def circuit_open(v: ElevatorView, _now: float) -> float | None:
    t = v.t
    broken = t.safety_circuit_ok is False or t.door_lock_ok is False or "01" in v.codes
    if not broken:
        return None
    if t.moving:
        return 0.0
    return v.th.circuit_open_idle_s if t.mode is Mode.NORMAL else None


def door_fault(v: ElevatorView, _now: float) -> float | None:
    t = v.t
    if v.codes & {"02", "03"} or v.door_cycles >= v.th.door_cycles_without_trip:
        return 0.0
    at_landing_open = t.door_zone and not t.moving and t.door is not Door.CLOSED
    return v.th.door_open_at_landing_s if at_landing_open and t.mode is Mode.NORMAL else None


def long_inspection(v: ElevatorView, _now: float) -> float | None:
    return v.th.inspection_mode_s if v.t.mode is Mode.INSPECTION else None


def fire_mode(v: ElevatorView, _now: float) -> float | None:
    return v.th.fire_mode_verify_s if v.t.mode in (Mode.FIRE, Mode.EARTHQUAKE) else None


def controller_fault(v: ElevatorView, _now: float) -> float | None:
    return 0.0 if v.codes - HANDLED_CODES else None


_rule = functools.partial(make_rule, "elevator")

E, IMP, G = Priority.EMERGENCY, Priority.IMPORTANT, Priority.GENERAL
PERSON = "a person confirms on site (condition end is recorded)"

ELEVATOR_RULES: tuple[Rule[ElevatorView], ...] = (
    _rule(
        "entrapment",
        "entrapment",
        E,
        "Passenger trapped between floors",
        "normal mode, stopped, door closed, outside the door zone, passenger detected (or "
        "occupancy unknown, after the stopped-outside-zone dwell), held ≥ entrapment_s; or "
        "controller code 11",
        entrapment_outside_zone,
        clear=PERSON,
        inputs=("mode", "moving", "door", "door_zone", "occupied", "floor", "fault_codes"),
        thresholds=("entrapment_s", "stopped_outside_zone_s"),
        source="ELV-01; GB/T 24476 codes 04/11",
    ),
    _rule(
        "entrapment_at_landing",
        "entrapment",
        E,
        "Passenger shut in at a landing",
        "normal mode, stopped in the door zone, door closed and not reopening, passenger "
        "detected, held ≥ entrapment_at_landing_s",
        entrapment_at_landing,
        clear=PERSON,
        inputs=("mode", "moving", "door", "door_zone", "occupied", "floor"),
        thresholds=("entrapment_at_landing_s",),
        source="ELV-02",
    ),
    _rule(
        "alarm_button",
        "entrapment",
        E,
        "Alarm button pressed: possible entrapment",
        "alarm pressed and not (in the door zone with the door open)",
        alarm_unfiltered,
        clear=PERSON,
        inputs=("alarm", "door_zone", "door"),
        thresholds=(),
        source="ELV-03; EN 81-28 4.12-4.13",
    ),
    _rule(
        "alarm_follow_up",
        "alarm_follow_up",
        G,
        "Alarm pressed with the door open at a landing: follow-up call",
        "alarm pressed while in the door zone with the door open (filtered alarm)",
        alarm_filtered,
        category=Category.SERVICE,
        clear=PERSON,
        inputs=("alarm", "door_zone", "door"),
        thresholds=(),
        source="ELV-03; EN 81-28 alarm filtering",
    ),
    _rule(
        "stopped_outside_door_zone",
        "stopped_outside_door_zone",
        G,
        "Car stopped outside the door zone (empty)",
        "normal mode, stopped, door closed, outside the door zone, no passenger detected, "
        "held ≥ stopped_outside_zone_s",
        stopped_outside_zone_empty,
        auto_resolve=True,
        clear="the car moves, reaches the door zone or opens its door, leaves normal mode, or a "
        "passenger is detected (then an entrapment)",
        inputs=("mode", "moving", "door", "door_zone", "occupied", "floor"),
        thresholds=("stopped_outside_zone_s",),
        source="ELV-04; GB/T 24476 code 04",
    ),
    _rule(
        "door_open_while_moving",
        "door_open_while_moving",
        E,
        "Door open while the car is moving",
        "car moving with the door not closed on ≥ door_open_moving_samples consecutive "
        "readings, or controller code 05 (unintended car movement)",
        door_open_while_moving,
        clear=PERSON,
        inputs=("moving", "door", "fault_codes"),
        thresholds=("door_open_moving_samples",),
        source="ELV-05; GB/T 24476 code 05 (UCM)",
    ),
    _rule(
        "power_loss",
        "power_loss",
        E,
        "Elevator mains power lost",
        "mains_power false held ≥ power_loss_s",
        power_lost,
        clear_after_s=lambda v: v.th.power_restored_s,
        auto_resolve=True,
        clear="on mains for power_restored_s",
        inputs=("mains_power",),
        thresholds=("power_loss_s", "power_restored_s"),
        source="ELV-10; event 41",
    ),
    _rule(
        "overrun",
        "overrun",
        E,
        "Car overran a terminal floor",
        "car one floor beyond the top or bottom floor, or controller code 09/10",
        overrun,
        clear=PERSON,
        inputs=("floor", "fault_codes", "params.min_floor", "params.max_floor"),
        thresholds=(),
        source="ELV-06; GB/T 24476 codes 09/10",
    ),
    _rule(
        "overspeed",
        "overspeed",
        E,
        "Car overspeed",
        "speed ≥ overspeed_ratio × rated speed (GB 7588: 115 %)",
        overspeed,
        clear=PERSON,
        inputs=("speed_mps", "params.rated_speed_mps"),
        thresholds=("overspeed_ratio",),
        source="ELV-07; GB 7588 9.10",
    ),
    _rule(
        "speed_abnormal",
        "overspeed",
        G,
        "Car speed abnormal",
        "speed_warning_ratio ≤ speed/rated < overspeed_ratio held ≥ speed_warning_s",
        speed_abnormal,
        clear="speed below speed_warning_ratio × rated (recorded; at overspeed_ratio and "
        "above it is overspeed, same group)",
        inputs=("speed_mps", "params.rated_speed_mps"),
        thresholds=("speed_warning_ratio", "overspeed_ratio", "speed_warning_s"),
        source="ELV-07 [E] band",
    ),
    _rule(
        "circuit_open",
        "circuit_open",
        G,
        "Safety or door-lock circuit open",
        "safety_circuit_ok or door_lock_ok false (or code 01) while moving, or held ≥ "
        "circuit_open_idle_s while idle in normal mode",
        circuit_open,
        clear="no circuit reported open and no code 01, or the car idle outside normal mode, "
        "e.g. in inspection (recorded)",
        inputs=("safety_circuit_ok", "door_lock_ok", "fault_codes", "moving", "mode"),
        thresholds=("circuit_open_idle_s",),
        source="ELV-08; GB/T 24476 code 01",
    ),
    _rule(
        "door_fault",
        "door_fault",
        G,
        "Door open/close fault",
        "door not closed at a landing ≥ door_open_at_landing_s without departing, or ≥ "
        "door_cycles_without_trip door cycles without a trip, or codes 02/03",
        door_fault,
        auto_resolve=True,
        clear="the door closes (or the car travels or leaves normal mode), codes 02/03 are gone "
        "and fewer than door_cycles_without_trip door cycles since the last trip",
        inputs=("door", "door_zone", "moving", "mode", "fault_codes"),
        thresholds=("door_open_at_landing_s", "door_cycles_without_trip"),
        source="ELV-09; GB/T 24476 codes 02/03",
    ),
    _rule(
        "long_inspection",
        "long_inspection",
        G,
        "Elevator left in inspection mode",
        "mode inspection held ≥ inspection_mode_s",
        long_inspection,
        auto_resolve=True,
        category=Category.SERVICE,
        clear="mode other than inspection",
        inputs=("mode",),
        thresholds=("inspection_mode_s",),
        source="ELV-11 [E]",
    ),
    _rule(
        "fire_mode",
        "fire_mode",
        IMP,
        "Elevator in fire or earthquake mode: verify",
        "mode fire or earthquake held ≥ fire_mode_verify_s",
        fire_mode,
        auto_resolve=True,
        category=Category.SERVICE,
        clear="mode other than fire or earthquake",
        inputs=("mode",),
        thresholds=("fire_mode_verify_s",),
        source="ELV-11 [E]",
    ),
    _rule(
        "controller_fault",
        "controller_fault",
        G,
        "Controller fault code",
        "a fault code without a rule of its own (e.g. 06 run-time limiter, 07 position "
        "lost, 08 restart blocked)",
        controller_fault,
        auto_resolve=True,
        clear="no code without a rule of its own in the latest reading",
        inputs=("fault_codes",),
        thresholds=(),
        source="ELV-13; GB/T 24476 codes 06-08",
    ),
)
