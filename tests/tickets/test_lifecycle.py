"""The ticket state machine, every transition valid and invalid, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tickets.errors import InvalidTransition, NoteRequired
from tickets.lifecycle import (
    ACTIVE_STATUSES,
    LifecycleState,
    Status,
    TicketAction,
    allowed_actions,
    transition,
)

A = TicketAction
S = Status
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
FOLLOW_UP = timedelta(hours=48)

NEXT_STATUS = {
    (S.OPEN, A.ACKNOWLEDGE): S.ACKNOWLEDGED,
    (S.OPEN, A.START): S.IN_PROGRESS,
    (S.OPEN, A.RESOLVE): S.RESOLVED,
    (S.OPEN, A.CANCEL): S.CANCELLED,
    (S.ACKNOWLEDGED, A.START): S.IN_PROGRESS,
    (S.ACKNOWLEDGED, A.PROGRESS): S.ACKNOWLEDGED,
    (S.ACKNOWLEDGED, A.RESOLVE): S.RESOLVED,
    (S.ACKNOWLEDGED, A.CANCEL): S.CANCELLED,
    (S.IN_PROGRESS, A.PROGRESS): S.IN_PROGRESS,
    (S.IN_PROGRESS, A.RESOLVE): S.RESOLVED,
    (S.IN_PROGRESS, A.CANCEL): S.CANCELLED,
    (S.RESOLVED, A.CLOSE): S.CLOSED,
    (S.RESOLVED, A.REOPEN): S.OPEN,
    (S.CLOSED, A.REOPEN): S.OPEN,
}
ALLOWED = {
    S.OPEN: [A.ACKNOWLEDGE, A.START, A.RESOLVE, A.CANCEL],
    S.ACKNOWLEDGED: [A.START, A.PROGRESS, A.RESOLVE, A.CANCEL],
    S.IN_PROGRESS: [A.PROGRESS, A.RESOLVE, A.CANCEL],
    S.RESOLVED: [A.CLOSE, A.REOPEN],
    S.CLOSED: [A.REOPEN],
    S.CANCELLED: [],
}


def act(state: LifecycleState, action: TicketAction, actor: str = "alice") -> LifecycleState:
    return transition(
        state, action, actor=actor, at=T0, follow_up_after=FOLLOW_UP, note="checked the car"
    )


@pytest.mark.parametrize(("status", "action"), sorted(NEXT_STATUS))
def test_valid_transitions(status: Status, action: TicketAction) -> None:
    assert act(LifecycleState(status), action).status is NEXT_STATUS[status, action]


@pytest.mark.parametrize(
    ("status", "action"),
    [(s, a) for s in Status for a in TicketAction if (s, a) not in NEXT_STATUS],
)
def test_invalid_transitions_say_what_is_allowed(status: Status, action: TicketAction) -> None:
    with pytest.raises(InvalidTransition) as caught:
        act(LifecycleState(status), action)
    assert caught.value.status == status.value
    assert caught.value.action == action.value
    assert caught.value.allowed == [a.value for a in ALLOWED[status]]


@pytest.mark.parametrize("status", list(Status))
def test_allowed_actions_match_the_transition_table(status: Status) -> None:
    assert allowed_actions(status) == ALLOWED[status]


def test_the_first_responder_owns_the_ticket() -> None:
    acked = act(LifecycleState(S.OPEN), A.ACKNOWLEDGE, actor="alice")
    assert (acked.owner, acked.acknowledged_at) == ("alice", T0)
    started = transition(acked, A.START, actor="bob", at=T0 + FOLLOW_UP, follow_up_after=FOLLOW_UP)
    assert (started.owner, started.acknowledged_at) == ("alice", T0)


def test_starting_an_open_ticket_acknowledges_it() -> None:
    started = act(LifecycleState(S.OPEN), A.START, actor="bob")
    assert (started.status, started.owner, started.acknowledged_at) == (S.IN_PROGRESS, "bob", T0)


@pytest.mark.parametrize("note", [None, "", "   "])
def test_a_progress_update_needs_a_note(note: str | None) -> None:
    with pytest.raises(NoteRequired):
        transition(
            LifecycleState(S.IN_PROGRESS),
            A.PROGRESS,
            actor="a",
            at=T0,
            follow_up_after=FOLLOW_UP,
            note=note,
        )


def test_resolving_schedules_the_follow_up_call() -> None:
    resolved = act(LifecycleState(S.IN_PROGRESS, owner="a", acknowledged_at=T0), A.RESOLVE)
    assert (resolved.resolved_at, resolved.follow_up_by) == (T0, T0 + FOLLOW_UP)


def test_reopening_clears_the_resolution_but_keeps_the_first_response() -> None:
    closed = LifecycleState(
        S.CLOSED,
        owner="alice",
        acknowledged_at=T0,
        resolved_at=T0,
        closed_at=T0,
        follow_up_by=T0 + FOLLOW_UP,
    )
    reopened = act(closed, A.REOPEN, actor="carol")
    assert reopened == LifecycleState(S.OPEN, owner="alice", acknowledged_at=T0)


def test_cancelling_records_when_the_ticket_left_service() -> None:
    assert act(LifecycleState(S.OPEN), A.CANCEL).closed_at == T0


def test_reopen_is_refused_while_another_ticket_holds_the_condition() -> None:
    with pytest.raises(InvalidTransition, match="ST-000042") as caught:
        transition(
            LifecycleState(S.RESOLVED),
            A.REOPEN,
            actor="a",
            at=T0,
            follow_up_after=FOLLOW_UP,
            reopen_blocked_by="ST-000042",
        )
    assert caught.value.allowed == ["close"]


@given(st.lists(st.sampled_from(list(TicketAction)), max_size=25))
def test_any_sequence_of_actions_keeps_the_ticket_consistent(
    actions: list[TicketAction],
) -> None:
    state = LifecycleState(S.OPEN)
    for action in actions:
        try:
            new = act(state, action)
        except InvalidTransition:
            assert state.status not in {s for s, a in NEXT_STATUS if a is action}
            continue
        assert new.status is NEXT_STATUS[state.status, action]
        state = new
        assert (state.owner is None) == (state.acknowledged_at is None)
        resolved = state.status in (S.RESOLVED, S.CLOSED)
        assert (state.resolved_at is not None) == resolved
        assert (state.follow_up_by is not None) == resolved
        if state.status in ACTIVE_STATUSES:
            assert state.closed_at is None
