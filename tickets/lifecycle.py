"""The ticket state machine, as pure functions over an immutable snapshot.

The service loads a ticket, calls ``transition`` and copies the result back; nothing here
touches the database or the clock, so every transition is tested without either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

from tickets.errors import InvalidTransition, NoteRequired


class Status(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"


ACTIVE_STATUSES = frozenset({Status.OPEN, Status.ACKNOWLEDGED, Status.IN_PROGRESS})
"""A ticket in one of these holds its ``dedup_key``: the condition is someone's job."""


class TicketAction(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    START = "start"
    PROGRESS = "progress"
    RESOLVE = "resolve"
    CLOSE = "close"
    REOPEN = "reopen"
    CANCEL = "cancel"


ALLOWED_FROM: Mapping[TicketAction, frozenset[Status]] = MappingProxyType(
    {
        TicketAction.ACKNOWLEDGE: frozenset({Status.OPEN}),
        TicketAction.START: frozenset({Status.OPEN, Status.ACKNOWLEDGED}),
        TicketAction.PROGRESS: frozenset({Status.ACKNOWLEDGED, Status.IN_PROGRESS}),
        TicketAction.RESOLVE: ACTIVE_STATUSES,
        TicketAction.CLOSE: frozenset({Status.RESOLVED}),
        TicketAction.REOPEN: frozenset({Status.RESOLVED, Status.CLOSED}),
        TicketAction.CANCEL: ACTIVE_STATUSES,
    }
)

PAST_TENSE: Mapping[TicketAction, str] = MappingProxyType(
    {
        TicketAction.ACKNOWLEDGE: "acknowledged",
        TicketAction.START: "started",
        TicketAction.PROGRESS: "progress",
        TicketAction.RESOLVE: "resolved",
        TicketAction.CLOSE: "closed",
        TicketAction.REOPEN: "reopened",
        TicketAction.CANCEL: "cancelled",
    }
)
"""The history ``action`` each lifecycle action records."""


@dataclass(frozen=True, slots=True)
class LifecycleState:
    """The part of a ticket the state machine reads and writes."""

    status: Status
    owner: str | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    follow_up_by: datetime | None = None
    onsite_at: datetime | None = None
    planned_at: datetime | None = None


def allowed_actions(status: Status, *, reopen_blocked: bool = False) -> list[TicketAction]:
    """Actions valid from ``status``, in lifecycle order (what the API offers in a 409)."""
    return [
        action
        for action, sources in ALLOWED_FROM.items()
        if status in sources and not (action is TicketAction.REOPEN and reopen_blocked)
    ]


def transition(
    state: LifecycleState,
    action: TicketAction,
    *,
    actor: str,
    at: datetime,
    follow_up_after: timedelta,
    note: str | None = None,
    reopen_blocked_by: str | None = None,
) -> LifecycleState:
    """The state after ``actor`` performs ``action`` at ``at``, or ``InvalidTransition``.

    ``reopen_blocked_by`` names another active ticket holding the same ``dedup_key``: reopening
    would make two tickets for one condition, so it is refused (the caller looks it up).
    """
    _check_allowed(state.status, action, reopen_blocked_by)
    if action is TicketAction.PROGRESS and not (note and note.strip()):
        raise NoteRequired("a progress update needs a note saying what progressed")
    if action in (TicketAction.ACKNOWLEDGE, TicketAction.START):
        # The first responder owns the ticket; starting work implies acknowledging it.
        target = Status.ACKNOWLEDGED if action is TicketAction.ACKNOWLEDGE else Status.IN_PROGRESS
        return replace(
            state,
            status=target,
            owner=state.owner or actor,
            acknowledged_at=state.acknowledged_at or at,
            # Starting work means someone is on site: the on-site step of the SLA.
            onsite_at=(state.onsite_at or at) if target is Status.IN_PROGRESS else state.onsite_at,
        )
    if action is TicketAction.PROGRESS:
        return state
    if action is TicketAction.RESOLVE:
        return replace(
            state, status=Status.RESOLVED, resolved_at=at, follow_up_by=at + follow_up_after
        )
    if action is TicketAction.CLOSE:
        return replace(state, status=Status.CLOSED, closed_at=at)
    if action is TicketAction.REOPEN:
        return replace(
            state, status=Status.OPEN, resolved_at=None, closed_at=None, follow_up_by=None
        )
    # CANCEL: closed_at records when the ticket left service, whichever way it left.
    return replace(state, status=Status.CANCELLED, closed_at=at)


class Record(StrEnum):
    """Actions that record something on an active ticket without moving its status."""

    PLAN = "plan"
    REASSIGN = "reassign"


def record(
    state: LifecycleState,
    action: Record,
    *,
    at: datetime,
    note: str | None,
    to: str | None = None,
) -> LifecycleState:
    """``plan``: the first plan / corrective measure (the first one sets ``planned_at``);
    ``reassign``: ownership moves to ``to``, the only way it moves once taken. Both need an
    active ticket and a note; the 409 lists the lifecycle actions allowed instead."""
    if state.status not in ACTIVE_STATUSES:
        raise InvalidTransition(
            status=state.status.value,
            action=action.value,
            allowed=[a.value for a in allowed_actions(state.status)],
            reason=f"cannot {action.value} a ticket that is {state.status.value}",
        )
    if not (note and note.strip()):
        raise NoteRequired(f"{action.value} needs a note saying what and why")
    if action is Record.PLAN:
        return replace(state, planned_at=state.planned_at or at)
    if not (to and to.strip()):
        raise NoteRequired("reassign needs the new owner")
    return replace(state, owner=to.strip())


def _check_allowed(status: Status, action: TicketAction, reopen_blocked_by: str | None) -> None:
    blocked = action is TicketAction.REOPEN and reopen_blocked_by is not None
    if status in ALLOWED_FROM[action] and not blocked:
        return
    reason = (
        f"cannot reopen: {reopen_blocked_by} is already active for the same condition"
        if blocked and status in ALLOWED_FROM[action]
        else ""
    )
    raise InvalidTransition(
        status=status.value,
        action=action.value,
        allowed=[a.value for a in allowed_actions(status, reopen_blocked=blocked)],
        reason=reason,
    )
