"""Elevator rules (domain-rules-research.md §6: ELV-01..05, ELV-10).

Each rule is a pure function of ``ElevatorView`` (the latest reading plus what the engine
remembers across readings) returning its dwell time, or None when its condition does not hold.
Entrapment-like rules share the ``entrapment`` group so one trapped passenger is one ticket,
however many of the signals (dwell outside the door zone, alarm button) report it.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.payloads import Door, ElevatorTelemetry, Mode
from rules.condition import Rule
from rules.decision import Category, Priority
from steward.site import ElevatorThresholds


@dataclass(slots=True)
class ElevatorView:
    t: ElevatorTelemetry
    th: ElevatorThresholds
    occupied_seen: bool = False
    """A passenger was detected at some point since the car last stopped."""
    door_open_moving_samples: int = 0
    """Consecutive readings with the car moving and the door not closed."""

    @classmethod
    def first(cls, t: ElevatorTelemetry, th: ElevatorThresholds) -> ElevatorView:
        return cls(
            t,
            th,
            occupied_seen=t.occupied is True,
            door_open_moving_samples=int(t.moving and t.door is not Door.CLOSED),
        )

    def update(self, t: ElevatorTelemetry) -> None:
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
        self.t = t


def _stopped_closed_in_service(v: ElevatorView) -> bool:
    t = v.t
    return t.mode is Mode.NORMAL and not t.moving and t.door is Door.CLOSED


def entrapment_outside_zone(v: ElevatorView) -> float | None:
    if not _stopped_closed_in_service(v) or v.t.door_zone:
        return None
    if v.t.occupied is True or v.occupied_seen:
        return v.th.entrapment_s
    if v.t.occupied is None:  # occupancy unknown: assume a passenger, after the ELV-04 dwell
        return v.th.stopped_outside_zone_s
    return None


def entrapment_at_landing(v: ElevatorView) -> float | None:
    if not _stopped_closed_in_service(v) or not v.t.door_zone:
        return None
    return v.th.entrapment_at_landing_s if (v.t.occupied is True or v.occupied_seen) else None


def alarm_unfiltered(v: ElevatorView) -> float | None:
    """EN 81-28 filtering: pressed with the door open at a landing, the passenger can walk out."""
    t = v.t
    return 0.0 if t.alarm and not (t.door_zone and t.door is Door.OPEN) else None


def alarm_filtered(v: ElevatorView) -> float | None:
    t = v.t
    return 0.0 if t.alarm and t.door_zone and t.door is Door.OPEN else None


def stopped_outside_zone_empty(v: ElevatorView) -> float | None:
    if not _stopped_closed_in_service(v) or v.t.door_zone:
        return None
    return v.th.stopped_outside_zone_s if v.t.occupied is False and not v.occupied_seen else None


def door_open_while_moving(v: ElevatorView) -> float | None:
    return 0.0 if v.door_open_moving_samples >= v.th.door_open_moving_samples else None


def power_lost(v: ElevatorView) -> float | None:
    return v.th.power_loss_s if not v.t.mains_power else None


ELEVATOR_RULES: tuple[Rule[ElevatorView], ...] = (
    Rule(
        id="elevator.entrapment",
        group="entrapment",
        priority=Priority.EMERGENCY,
        category=Category.FACILITY,
        title="Passenger trapped between floors",
        condition="normal mode, stopped, door closed, outside the door zone, passenger "
        "detected (or occupancy unknown, after the stopped-outside-zone dwell), "
        "held ≥ entrapment_s",
        holds=entrapment_outside_zone,
        source="ELV-01; GB/T 24476 code 04/11",
    ),
    Rule(
        id="elevator.entrapment_at_landing",
        group="entrapment",
        priority=Priority.EMERGENCY,
        category=Category.FACILITY,
        title="Passenger shut in at a landing",
        condition="normal mode, stopped in the door zone, door closed and not reopening, "
        "passenger detected, held ≥ entrapment_at_landing_s",
        holds=entrapment_at_landing,
        source="ELV-02",
    ),
    Rule(
        id="elevator.alarm_button",
        group="entrapment",
        priority=Priority.EMERGENCY,
        category=Category.FACILITY,
        title="Alarm button pressed: possible entrapment",
        condition="alarm pressed and not (in the door zone with the door open)",
        holds=alarm_unfiltered,
        source="ELV-03; EN 81-28 4.12-4.13",
    ),
    Rule(
        id="elevator.alarm_follow_up",
        group="alarm_follow_up",
        priority=Priority.GENERAL,
        category=Category.SERVICE,
        title="Alarm pressed with the door open at a landing: follow-up call",
        condition="alarm pressed while in the door zone with the door open (filtered alarm)",
        holds=alarm_filtered,
        source="ELV-03; EN 81-28 alarm filtering",
    ),
    Rule(
        id="elevator.stopped_outside_door_zone",
        group="stopped_outside_door_zone",
        priority=Priority.GENERAL,
        category=Category.FACILITY,
        title="Car stopped outside the door zone (empty)",
        condition="normal mode, stopped, door closed, outside the door zone, no passenger "
        "detected, held ≥ stopped_outside_zone_s",
        holds=stopped_outside_zone_empty,
        auto_resolve=True,
        source="ELV-04; GB/T 24476 code 04",
    ),
    Rule(
        id="elevator.door_open_while_moving",
        group="door_open_while_moving",
        priority=Priority.EMERGENCY,
        category=Category.FACILITY,
        title="Door open while the car is moving",
        condition="car moving with the door not closed on ≥ door_open_moving_samples "
        "consecutive readings",
        holds=door_open_while_moving,
        source="ELV-05; GB/T 24476 code 05 (UCM)",
    ),
    Rule(
        id="elevator.power_loss",
        group="power_loss",
        priority=Priority.EMERGENCY,
        category=Category.FACILITY,
        title="Elevator mains power lost",
        condition="mains_power false held ≥ power_loss_s; clears after power_restored_s on mains",
        holds=power_lost,
        clear_after_s=lambda v: v.th.power_restored_s,
        auto_resolve=True,
        source="ELV-10; event 41",
    ),
)
