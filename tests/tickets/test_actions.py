"""Lifecycle actions through the service: audit history, 409s, reopen rules."""

from __future__ import annotations

from datetime import timedelta

import pytest

from steward.clock import FakeClock
from tests.tickets.helpers import ENTRAPMENT_KEY, at, fire
from tickets.errors import InvalidTransition, NoteRequired, TicketNotFound
from tickets.lifecycle import Status, TicketAction
from tickets.service import TicketService

A = TicketAction


def open_ticket(service: TicketService, clock: FakeClock) -> str:
    return service.apply(decisions=[fire(clock)])[0].id


def test_a_ticket_walks_its_lifecycle_with_an_audit_trail(
    service: TicketService, clock: FakeClock
) -> None:
    number = open_ticket(service, clock)
    steps = [
        (A.ACKNOWLEDGE, "alice", "on my way"),
        (A.START, "bob", None),
        (A.PROGRESS, "bob", "car released, checking brake"),
        (A.RESOLVE, "bob", "brake adjusted"),
        (A.CLOSE, "carol", "owner confirmed by phone"),
    ]
    times = []
    for action, actor, note in steps:
        clock.advance(300)
        times.append(at(clock))
        view = service.act(number=number, action=action, actor=actor, note=note)
    assert view.status is Status.CLOSED
    assert view.owner == "alice"
    assert (view.acknowledged_at, view.resolved_at, view.closed_at) == (
        times[0],
        times[3],
        times[4],
    )
    assert view.follow_up_by == times[3] + timedelta(hours=48)
    trail = [
        (h.action, h.actor, h.note, h.from_status, h.to_status, h.at) for h in view.history[1:]
    ]
    assert trail == [
        ("acknowledged", "alice", "on my way", Status.OPEN, Status.ACKNOWLEDGED, times[0]),
        ("started", "bob", None, Status.ACKNOWLEDGED, Status.IN_PROGRESS, times[1]),
        (
            "progress",
            "bob",
            "car released, checking brake",
            Status.IN_PROGRESS,
            Status.IN_PROGRESS,
            times[2],
        ),
        ("resolved", "bob", "brake adjusted", Status.IN_PROGRESS, Status.RESOLVED, times[3]),
        ("closed", "carol", "owner confirmed by phone", Status.RESOLVED, Status.CLOSED, times[4]),
    ]
    assert service.get(number=number) == view


def test_an_invalid_action_says_what_is_allowed_and_changes_nothing(
    service: TicketService, clock: FakeClock
) -> None:
    number = open_ticket(service, clock)
    events = len(service.outbox_after(event_pk=0))
    with pytest.raises(InvalidTransition) as caught:
        service.act(number=number, action=A.CLOSE, actor="alice")
    assert (caught.value.status, caught.value.allowed) == (
        "open",
        ["acknowledge", "start", "resolve", "cancel"],
    )
    with pytest.raises(InvalidTransition):
        service.act(number=number, action=A.PROGRESS, actor="alice", note="not acknowledged yet")
    service.act(number=number, action=A.ACKNOWLEDGE, actor="alice")
    with pytest.raises(NoteRequired):
        service.act(number=number, action=A.PROGRESS, actor="alice", note=" ")
    view = service.get(number=number)
    assert [h.action for h in view.history] == ["opened", "acknowledged"]
    assert len(service.outbox_after(event_pk=0)) == events + 1


def test_an_unknown_ticket_is_not_found(service: TicketService) -> None:
    with pytest.raises(TicketNotFound):
        service.act(number="ST-999999", action=A.ACKNOWLEDGE, actor="alice")
    with pytest.raises(TicketNotFound):
        service.get(number="ST-999999")


def test_reopen_is_refused_while_another_ticket_is_active_for_the_condition(
    service: TicketService, clock: FakeClock
) -> None:
    first = open_ticket(service, clock)
    service.act(number=first, action=A.RESOLVE, actor="bob")
    second = open_ticket(service, clock)  # the condition came back: a new ticket
    with pytest.raises(InvalidTransition, match=second) as caught:
        service.act(number=first, action=A.REOPEN, actor="carol")
    assert caught.value.allowed == ["close"]
    service.act(number=second, action=A.CANCEL, actor="carol", note="duplicate of the first")
    reopened = service.act(number=first, action=A.REOPEN, actor="carol", note="not fixed")
    assert (reopened.status, reopened.resolved_at, reopened.follow_up_by) == (
        Status.OPEN,
        None,
        None,
    )
    assert service.active_for(dedup_keys=[ENTRAPMENT_KEY]) == {ENTRAPMENT_KEY: first}
    # An active ticket again: the next firing is an occurrence of it.
    assert service.apply(decisions=[fire(clock)])[0].id == first


def test_cancel_frees_the_condition(service: TicketService, clock: FakeClock) -> None:
    number = open_ticket(service, clock)
    cancelled = service.act(number=number, action=A.CANCEL, actor="alice", note="test alarm")
    assert (cancelled.status, cancelled.closed_at) == (Status.CANCELLED, at(clock))
    assert service.count_active() == 0
    assert service.apply(decisions=[fire(clock)])[0].id != number
