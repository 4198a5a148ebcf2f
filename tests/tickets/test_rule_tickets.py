"""Rule decisions → tickets: open, dedup into occurrences, priority rises, clear, resolve."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session, sessionmaker

from gateway.topics import DeviceRef, Kind
from rules.decision import Priority
from steward.clock import FakeClock
from tests.tickets.helpers import ENTRAPMENT_KEY, at, clear, fire
from tickets.lifecycle import Status, TicketAction
from tickets.models import Ticket
from tickets.schemas import Source
from tickets.service import TicketService

MIN = timedelta(minutes=1)


def test_a_firing_rule_opens_a_ticket_with_its_sla(
    service: TicketService, clock: FakeClock
) -> None:
    [view] = service.apply(decisions=[fire(clock, evidence={"floor": 7, "dwell_s": 62})])
    opened = at(clock)
    assert view.id == "ST-000001"
    assert (view.status, view.priority, view.source) == (
        Status.OPEN,
        Priority.EMERGENCY,
        Source.RULE,
    )
    assert (view.site, view.device, view.kind, view.building) == (
        "tower",
        "lift-1",
        Kind.ELEVATOR,
        "b1",
    )
    assert (view.rule, view.dedup_key) == ("elevator.entrapment", ENTRAPMENT_KEY)
    assert (view.respond_by, view.onsite_by) == (opened + 15 * MIN, opened + 30 * MIN)
    assert (view.plan_by, view.resolve_by, view.follow_up_by) == (None, None, None)
    assert (view.occurrences, view.last_occurrence_at, view.opened_at) == (1, opened, opened)
    assert view.evidence == {"floor": 7, "dwell_s": 62}
    assert [(h.action, h.actor, h.to_status) for h in view.history] == [
        ("opened", "steward", Status.OPEN)
    ]
    assert service.get(number="ST-000001") == view


def test_the_same_condition_three_times_is_one_ticket_with_three_occurrences(
    service: TicketService, clock: FakeClock, sessions: sessionmaker[Session]
) -> None:
    views = []
    for floor in (7, 8, 9):
        views += service.apply(decisions=[fire(clock, evidence={"floor": floor})])
        clock.advance(60)
    assert {v.id for v in views} == {"ST-000001"}
    ticket = service.get(number="ST-000001")
    assert ticket.occurrences == 3
    assert ticket.last_occurrence_at == at(clock) - MIN
    assert ticket.evidence == {"floor": 7}  # what first made it fire
    occurred = [h for h in ticket.history if h.action == "occurred"]
    assert [(h.data["occurrence"], h.data["evidence"]) for h in occurred] == [
        (2, {"floor": 8}),
        (3, {"floor": 9}),
    ]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 1


def test_a_related_rule_with_higher_priority_raises_the_ticket(
    service: TicketService, clock: FakeClock
) -> None:
    [opened] = service.apply(
        decisions=[fire(clock, rule="elevator.alarm_follow_up", priority=Priority.GENERAL)]
    )
    assert opened.respond_by == at(clock) + 4 * 60 * MIN
    clock.advance(600)
    [raised] = service.apply(decisions=[fire(clock, rule="elevator.entrapment")])
    assert raised.id == opened.id
    assert raised.priority is Priority.EMERGENCY
    assert (raised.respond_by, raised.onsite_by) == (at(clock) + 15 * MIN, at(clock) + 30 * MIN)
    rise = raised.history[-1]
    assert (rise.action, rise.data) == (
        "priority_raised",
        {"from": "general", "to": "emergency", "rule": "elevator.entrapment"},
    )
    # A lower priority firing later never lowers it.
    [again] = service.apply(
        decisions=[fire(clock, rule="elevator.alarm_follow_up", priority=Priority.GENERAL)]
    )
    assert again.priority is Priority.EMERGENCY
    assert again.history[-1].action == "occurred"


def test_a_cleared_condition_is_noted_and_firing_again_unnotes_it(
    service: TicketService, clock: FakeClock
) -> None:
    service.apply(decisions=[fire(clock)])
    clock.advance(300)
    [cleared] = service.apply(decisions=[clear(clock)])
    assert (cleared.status, cleared.condition_cleared_at) == (Status.OPEN, at(clock))
    assert cleared.history[-1].action == "condition_cleared"
    assert service.apply(decisions=[clear(clock)]) == []  # already recorded: no change
    clock.advance(60)
    [back] = service.apply(decisions=[fire(clock)])
    assert (back.condition_cleared_at, back.occurrences) == (None, 2)


def test_a_clear_with_auto_resolve_resolves_as_steward(
    service: TicketService, clock: FakeClock
) -> None:
    service.apply(
        decisions=[
            fire(
                clock,
                rule="device.offline",
                key="tower/elevator/lift-1/offline",
                priority=Priority.IMPORTANT,
            )
        ]
    )
    clock.advance(120)
    [resolved] = service.apply(
        decisions=[clear(clock, key="tower/elevator/lift-1/offline", auto_resolve=True)]
    )
    assert resolved.status is Status.RESOLVED
    assert (resolved.resolved_at, resolved.condition_cleared_at) == (at(clock), at(clock))
    assert resolved.follow_up_by == at(clock) + 48 * 60 * MIN
    last = resolved.history[-1]
    assert (last.action, last.actor, last.from_status, last.to_status) == (
        "resolved",
        "steward",
        Status.OPEN,
        Status.RESOLVED,
    )
    assert service.active_for(dedup_keys=["tower/elevator/lift-1/offline"]) == {}


def test_a_clear_without_a_ticket_changes_nothing(service: TicketService, clock: FakeClock) -> None:
    assert service.apply(decisions=[clear(clock, auto_resolve=True)]) == []
    assert service.outbox_after(event_pk=0) == []


def test_the_condition_returning_after_resolution_opens_a_new_ticket(
    service: TicketService, clock: FakeClock
) -> None:
    [first] = service.apply(decisions=[fire(clock)])
    service.act(number=first.id, action=TicketAction.RESOLVE, actor="tech")
    [second] = service.apply(decisions=[fire(clock)])
    assert second.id != first.id
    assert second.occurrences == 1
    assert service.active_for(dedup_keys=[ENTRAPMENT_KEY, "no/such/key"]) == {
        ENTRAPMENT_KEY: second.id
    }


def test_a_batch_is_applied_all_or_nothing_in_order_per_condition(
    service: TicketService, clock: FakeClock
) -> None:
    other = DeviceRef("tower", Kind.ELEVATOR, "lift-2")
    views = service.apply(
        decisions=[fire(clock, ref=other), fire(clock), clear(clock), fire(clock)]
    )
    assert [(v.id, v.occurrences, v.condition_cleared_at is None) for v in views] == [
        ("ST-000001", 1, True),
        ("ST-000001", 1, False),
        ("ST-000001", 2, True),
        ("ST-000002", 1, True),
    ]
    assert service.get(number="ST-000002").device == "lift-2"
    assert service.count_active() == 2
    unserialisable = fire(
        clock, ref=DeviceRef("tower", Kind.ELEVATOR, "lift-3"), evidence={"x": object()}
    )
    with pytest.raises((StatementError, TypeError), match="not JSON serializable"):
        service.apply(
            decisions=[fire(clock, ref=DeviceRef("tower", Kind.ELEVATOR, "lift-4")), unserialisable]
        )
    assert service.count_active() == 2
    assert len(service.outbox_after(event_pk=0)) == 4
