"""A realistic event to render templates against when the configuration is loaded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from gateway.topics import Kind
from rules.decision import Category, Priority
from tickets.lifecycle import Status
from tickets.outbox import EventType, cloud_event
from tickets.schemas import HistoryEntry, Source, TicketView

_OPENED = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)


def sample_ticket(status: Status = Status.OPEN) -> TicketView:
    return TicketView(
        id="ST-000042",
        site="maple",
        building="b1",
        device="lift-1",
        kind=Kind.ELEVATOR,
        location="Building 1, lift 1",
        rule="elevator.entrapment",
        category=Category.FACILITY,
        priority=Priority.EMERGENCY,
        status=status,
        title="Passenger trapped in lift-1",
        description="Car stopped between floors 6 and 7 with a passenger inside.",
        source=Source.RULE,
        opened_at=_OPENED,
        acknowledged_at=None,
        resolved_at=None,
        closed_at=None,
        condition_cleared_at=None,
        respond_by=_OPENED + timedelta(minutes=15),
        onsite_by=_OPENED + timedelta(minutes=30),
        plan_by=None,
        resolve_by=None,
        follow_up_by=None,
        escalation_level=0,
        occurrences=1,
        last_occurrence_at=_OPENED,
        dedup_key="maple/elevator/lift-1/entrapment",
        owner=None,
        evidence={"floor": 7, "door": "closed", "stopped_s": 62},
        history=[HistoryEntry(at=_OPENED, actor="rules", action="opened", to_status=status)],
    )


@cache
def _sample(event_type: EventType, status: Status) -> dict[str, Any]:
    return cloud_event(
        sample_ticket(status),
        event_type=event_type,
        event_id="00000000-0000-4000-8000-000000000042",
        source="/steward/sites/maple",
        at=_OPENED,
    )


def sample_event(
    event_type: EventType = EventType.OPENED, status: Status = Status.OPEN
) -> dict[str, Any]:
    return _sample(event_type, status)
