"""Outbound events: one CloudEvent per change, in the change's transaction, read in order."""

from __future__ import annotations

import uuid

import pytest

from rules.decision import Priority
from steward.clock import FakeClock, iso
from tests.tickets.helpers import clear, complaint, fire
from tickets.errors import InvalidTransition
from tickets.lifecycle import TicketAction
from tickets.outbox import EventType
from tickets.service import TicketService

A = TicketAction


def test_every_change_leaves_exactly_one_event_of_the_right_type(
    service: TicketService, clock: FakeClock
) -> None:
    number = service.apply(decisions=[fire(clock, priority=Priority.IMPORTANT)])[0].id
    service.apply(decisions=[fire(clock, priority=Priority.IMPORTANT)])
    service.apply(decisions=[fire(clock, priority=Priority.EMERGENCY)])
    service.apply(decisions=[clear(clock)])
    service.act(number=number, action=A.START, actor="a")  # from open: acknowledges too
    service.act(number=number, action=A.PROGRESS, actor="a", note="n")
    service.act(number=number, action=A.RESOLVE, actor="a")
    service.act(number=number, action=A.REOPEN, actor="a")
    service.act(number=number, action=A.ACKNOWLEDGE, actor="a")
    service.act(number=number, action=A.CANCEL, actor="a")
    manual, _ = service.open_manual(ticket=complaint(), idempotency_key=None, actor="desk")
    service.act(number=manual.id, action=A.RESOLVE, actor="a")
    service.act(number=manual.id, action=A.CLOSE, actor="a")
    events = service.outbox_after(event_pk=0, limit=1000)
    assert [(e.type, e.ticket) for e in events] == [
        (EventType.OPENED, number),
        (EventType.UPDATED, number),  # occurrence
        (EventType.ESCALATED, number),  # priority raised
        (EventType.UPDATED, number),  # condition cleared
        (EventType.ACKNOWLEDGED, number),
        (EventType.UPDATED, number),
        (EventType.RESOLVED, number),
        (EventType.UPDATED, number),  # reopened
        (EventType.ACKNOWLEDGED, number),
        (EventType.CLOSED, number),  # cancelled
        (EventType.OPENED, manual.id),
        (EventType.RESOLVED, manual.id),
        (EventType.CLOSED, manual.id),
    ]
    assert [e.pk for e in events] == sorted({e.pk for e in events})


def test_events_are_cloudevents_carrying_the_ticket_as_it_was(
    service: TicketService, clock: FakeClock
) -> None:
    [opened] = service.apply(decisions=[fire(clock)])
    clock.advance(90)
    acked = service.act(number=opened.id, action=A.ACKNOWLEDGE, actor="alice", note="coming")
    first, second = service.outbox_after(event_pk=0)
    for record, view, when in ((first, opened, 1_767_225_600.0), (second, acked, clock.now())):
        event = record.payload
        assert set(event) == {
            "specversion",
            "id",
            "source",
            "type",
            "subject",
            "time",
            "datacontenttype",
            "data",
        }
        assert event["specversion"] == "1.0"
        assert event["id"] == record.event_id == str(uuid.UUID(record.event_id))
        assert event["source"] == "/steward/sites/tower"
        assert event["type"] == record.type.value
        assert event["subject"] == view.id
        assert event["time"] == iso(when)
        assert event["datacontenttype"] == "application/json"
        assert event["data"] == view.model_dump(mode="json")
    assert first.event_id != second.event_id
    assert second.payload["data"]["status"] == "acknowledged"
    assert second.payload["data"]["history"][-1]["note"] == "coming"
    assert first.payload["data"]["status"] == "open"  # a snapshot, not a live reference


def test_readers_page_through_the_outbox_by_position(
    service: TicketService, clock: FakeClock
) -> None:
    assert service.last_outbox_pk() == 0
    for _ in range(5):
        service.apply(decisions=[fire(clock)])
    all_events = service.outbox_after(event_pk=0)
    assert len(all_events) == 5
    page = service.outbox_after(event_pk=all_events[1].pk, limit=2)
    assert [e.pk for e in page] == [all_events[2].pk, all_events[3].pk]
    assert service.outbox_after(event_pk=all_events[-1].pk) == []
    assert service.last_outbox_pk() == all_events[-1].pk


def test_each_committed_change_with_events_says_so(
    service: TicketService, clock: FakeClock
) -> None:
    """The runtime wakes the delivery dispatcher with this: an operator's action is sent at
    once, not at the next poll. Nothing to say for a change that failed or made no event."""
    calls: list[int] = []
    service.on_committed = lambda: calls.append(1)
    number = service.apply(decisions=[fire(clock)])[0].id
    assert len(calls) == 1
    service.act(number=number, action=A.ACKNOWLEDGE, actor="a")
    assert len(calls) == 2
    with pytest.raises(InvalidTransition):
        service.act(number=number, action=A.CLOSE, actor="a")
    service.apply(decisions=[clear(clock, key="elsewhere/elevator/x/entrapment")])  # no ticket
    assert len(calls) == 2
