"""Rules decided from the ticket history rather than from readings (ELV-14)."""

from __future__ import annotations

from gateway.topics import DeviceRef, Kind
from rules.condition import Rule
from rules.decision import Action, Category, Decision, Priority, dedup_key
from rules.thresholds import ElevatorThresholds


def _never(_view: object, _now: float) -> float | None:
    return None


REPEATED_FAILURE: Rule[object] = Rule(
    id="elevator.repeated_failure",
    group="repeated_failure",
    priority=Priority.IMPORTANT,
    category=Category.FACILITY,
    title="Elevator failing repeatedly: review maintenance",
    condition="≥ repeated_failure_count fault tickets for one elevator within "
    "repeated_failure_window_days (sensor, IoT, calendar and alarm follow-up tickets "
    "excluded); checked whenever a fault ticket opens",
    holds=_never,
    clear="a person reviews it",
    inputs=("tickets",),
    thresholds=("elevator.repeated_failure_count", "elevator.repeated_failure_window_days"),
    source="ELV-14; seed 二(四) (3 times a month)",
)
NOT_FAULTS = (
    "device.",
    "sensor.",
    "elevator.maintenance_overdue",
    "elevator.inspection_due",
    "elevator.alarm_follow_up",
    "elevator.repeated_failure",
)


def is_elevator_fault(kind: str | None, rule: str | None) -> bool:
    return kind == Kind.ELEVATOR.value and rule is not None and not rule.startswith(NOT_FAULTS)


def repeated_failure(
    ref: DeviceRef,
    fault_tickets: int,
    th: ElevatorThresholds,
    now: float,
    building: str | None,
    location: str,
    rule: Rule[object] = REPEATED_FAILURE,
) -> Decision | None:
    """A FIRE decision when the elevator has had enough fault tickets in the window. ``th``
    are the device's own thresholds; ``rule`` carries the operator's priority/category
    overrides (``rules.engine.effective``)."""
    if fault_tickets < th.repeated_failure_count:
        return None
    where = location or f"elevator {ref.device}"
    return Decision(
        action=Action.FIRE,
        rule=REPEATED_FAILURE.id,
        ref=ref,
        at=now,
        priority=rule.priority,
        category=rule.category,
        title=f"{REPEATED_FAILURE.title}: {where}",
        description=f"{fault_tickets} fault tickets for {where} within "
        f"{th.repeated_failure_window_days} days. The standard asks for a review "
        "of the maintenance plan (e.g. more frequent inspections).",
        dedup_key=dedup_key(ref, REPEATED_FAILURE.group),
        evidence={
            "rule": REPEATED_FAILURE.id,
            "fault_tickets": fault_tickets,
            "window_days": th.repeated_failure_window_days,
            "threshold": th.repeated_failure_count,
        },
        building=building,
        location=location,
    )
