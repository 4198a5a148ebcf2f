"""Decisions and requests as the rules and the API would make them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gateway.topics import DeviceRef, Kind
from rules.decision import Action, Category, Decision, Priority, dedup_key
from steward.clock import FakeClock
from tickets.schemas import ManualTicketIn, Reporter, ReporterChannel

LIFT = DeviceRef("tower", Kind.ELEVATOR, "lift-1")
ENTRAPMENT_KEY = dedup_key(LIFT, "entrapment")


def fire(
    clock: FakeClock,
    *,
    rule: str = "elevator.entrapment",
    ref: DeviceRef = LIFT,
    key: str | None = None,
    priority: Priority = Priority.EMERGENCY,
    evidence: dict[str, Any] | None = None,
    category: Category = Category.FACILITY,
) -> Decision:
    return Decision(
        action=Action.FIRE,
        rule=rule,
        ref=ref,
        at=clock.now(),
        priority=priority,
        category=category,
        title=f"{rule} on {ref.device}",
        description="car stopped between floors with a passenger inside",
        dedup_key=key or dedup_key(ref, "entrapment"),
        evidence=evidence if evidence is not None else {"floor": 7, "door": "closed"},
        building="b1",
        location="Tower A, lift 1",
    )


def clear(
    clock: FakeClock,
    *,
    key: str = ENTRAPMENT_KEY,
    auto_resolve: bool = False,
    rule: str = "elevator.entrapment",
) -> Decision:
    return Decision(
        action=Action.CLEAR,
        rule=rule,
        ref=LIFT,
        at=clock.now(),
        priority=Priority.EMERGENCY,
        category=Category.FACILITY,
        title="cleared",
        description="",
        dedup_key=key,
        evidence={"door": "open"},
        auto_resolve=auto_resolve,
    )


def complaint(title: str = "Water leaking from ceiling", **changes: Any) -> ManualTicketIn:
    fields: dict[str, Any] = {
        "site": "tower",
        "building": "b1",
        "location": "Unit 1203 bathroom",
        "category": Category.FACILITY,
        "priority": Priority.GENERAL,
        "title": title,
        "description": "Drips since this morning",
        "reporter": Reporter(
            room="1203", name="Li Wei", phone="+86 138 0000 0000", channel=ReporterChannel.PHONE
        ),
    }
    fields.update(changes)
    return ManualTicketIn(**fields)


def at(clock: FakeClock) -> datetime:
    return datetime.fromtimestamp(clock.now(), UTC)
