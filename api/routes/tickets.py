"""``/api/v1/tickets``: list, get, open a manual ticket, lifecycle actions."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Annotated, Any, TypeVar

from anyio import CapacityLimiter, to_thread
from fastapi import APIRouter, Header, Path, Query, Response

from api.access import Caller, Principal
from api.deps import StewardDep
from api.errors import (
    FORBIDDEN_OR_OTHER_SITE,
    INVALID_INPUT,
    Responses,
    documented,
    invalid_transition,
    with_body,
)
from api.params import IdFilter, Instant, RuleFilter
from api.routes.telemetry import telemetry_link
from gateway.topics import Kind
from rules.decision import Category, Priority
from steward.runtime import Steward
from tickets.errors import InvalidTransition, TicketNotFound
from tickets.lifecycle import (
    PAST_TENSE,
    LifecycleState,
    Record,
    Status,
    TicketAction,
    record,
    transition,
)
from tickets.listing import TicketFilter, page_json
from tickets.render import DOC_BY_NUMBER, Declined, dump, reading, ticket_docs
from tickets.schemas import (
    ActionIn,
    CloseIn,
    ManualTicketIn,
    PlanIn,
    ReassignIn,
    TicketPage,
    TicketView,
)

_R = TypeVar("_R")
router = APIRouter(prefix="/tickets", tags=["tickets"])
TicketNumber = Annotated[
    str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9-]+$", examples=["ST-000001"])
]

# -- what each route documents ------------------------------------------------------------------

NOT_FOUND: Responses = {
    404: documented(
        "No ticket with this number (a site-scoped key gets the same for another site's)",
        code="ticket_not_found",
        message="no ticket 'ST-000042'",
    )
}
LIST_BAD_REQUEST: Responses = {
    400: documented(
        "A ``cursor`` this API did not hand out, or ``opened_after``/``opened_before`` "
        "without a UTC offset or out of range",
        code="bad_request",
        message="cursor 'abc' is not one this API returned",
    )
}
NOTE_REQUIRED: Responses = {
    400: documented(
        "No note, or a blank one: a progress update says what progressed",
        code="bad_request",
        message="a progress update needs a note saying what progressed",
    )
}
CREATE_RESPONSES: Responses = with_body(
    {
        200: {
            "model": TicketView,
            "description": "A replay: this ``Idempotency-Key`` was used before with the same body. "
            "The ticket that request created, as it is now; nothing new is opened",
        },
        400: documented(
            "An empty ``Idempotency-Key``",
            code="bad_request",
            message="idempotency key must be 1 to 200 characters",
        ),
        403: FORBIDDEN_OR_OTHER_SITE,
        409: documented(
            "This ``Idempotency-Key`` was already used with a different body: the ticket it "
            "created is not returned and nothing is opened. Use a new key for a new request",
            code="conflict",
            message="idempotency key already used for ST-000042 with a different request",
        ),
    }
)

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _moves(step: Callable[[LifecycleState], LifecycleState]) -> dict[Status, Status]:
    """Status before → status after, for every status the state machine accepts ``step`` in:
    asked of ``tickets.lifecycle`` itself, so these docs cannot drift from it."""
    moves = {}
    for status in Status:
        try:
            moves[status] = step(LifecycleState(status=status)).status
        except InvalidTransition:
            continue
    return moves


def lifecycle_moves(action: TicketAction | Record) -> dict[Status, Status]:
    """Where ``action`` takes a ticket from each status it is allowed in (in lifecycle order)."""
    if isinstance(action, Record):
        return _moves(lambda s: record(s, action, at=_EPOCH, note="-", to="-"))
    return _moves(
        lambda s: transition(
            s, action, actor="-", at=_EPOCH, follow_up_after=timedelta(0), note="-"
        )
    )


def _codes(statuses: list[Status]) -> str:
    return ", ".join(f"`{s.value}`" for s in statuses) or "none"


def lifecycle_doc(action: TicketAction | Record) -> tuple[str, dict[str, Any]]:
    """The description's lifecycle paragraph for ``action``, and the same as an OpenAPI
    extension (``x-lifecycle``) for programs."""
    moves = lifecycle_moves(action)
    refused = [s for s in Status if s not in moves]
    targets = set(moves.values())
    if all(before is after for before, after in moves.items()):
        outcome = "The status does not change."
    elif len(targets) == 1:
        outcome = f"Moves the ticket to `{next(iter(targets)).value}`."
    else:
        outcome = "Moves the ticket " + ", ".join(
            f"from `{b.value}` to `{a.value}`" for b, a in moves.items()
        )
        outcome += "."
    recorded = (
        f" Recorded in the ticket's history as `{PAST_TENSE[action]}`, with actor, time and note."
        if isinstance(action, TicketAction)
        else " Recorded in the ticket's history with actor, time and note."
    )
    text = (
        f"**Allowed from:** {_codes(list(moves))}. {outcome}{recorded} From any other status "
        f"({_codes(refused)}): 409 `invalid_transition`, whose `details.allowed` lists the "
        "lifecycle actions allowed now."
    )
    extension = {
        "action": action.value,
        "allowed_from": [s.value for s in moves],
        "moves_to": {b.value: a.value for b, a in moves.items()},
    }
    return text, extension


def action_responses(action: TicketAction | Record) -> Responses:
    """The errors of a ticket action: 404, its 409 with an example, those of any body; the
    note's 400 for ``progress`` only, the one action whose note the schema cannot require."""
    refused = next(s for s in Status if s not in lifecycle_moves(action))
    responses: Responses = {
        **NOT_FOUND,
        **invalid_transition(
            f"The ticket's status does not allow `{action.value}` "
            f"(allowed from {_codes(list(lifecycle_moves(action)))}); ``details`` says the "
            "status and the lifecycle actions allowed now",
            action=action.value,
            status=refused,
        ),
    }
    if action is TicketAction.PROGRESS:
        responses.update(NOTE_REQUIRED)
    return with_body(responses)


def lifecycle_route(action: TicketAction | Record, summary: str) -> dict[str, Any]:
    """``router.post`` arguments that document ``action``: description, errors, extension."""
    text, extension = lifecycle_doc(action)
    return {
        "description": f"{summary}\n\n{text}",
        "responses": action_responses(action),
        "openapi_extra": {"x-lifecycle": extension},
    }


ACTION_SUMMARIES: dict[TicketAction, str] = {
    TicketAction.ACKNOWLEDGE: "Take the ticket (the SLA's respond step). Whoever acknowledges "
    "it first becomes its owner until it is closed; only `reassign` moves it after that.",
    TicketAction.START: "Someone is on site and working (the SLA's on-site step, "
    "`onsite_at`). Acknowledges too if nobody had: the actor then becomes the owner.",
    TicketAction.PROGRESS: "A progress update on work under way: the note says what "
    "progressed (400 without one).",
    TicketAction.RESOLVE: "The problem is fixed (`resolved_at`); the follow-up call becomes "
    "due (`follow_up_by`). Tickets linked to this one are resolved with it.",
    TicketAction.CLOSE: "Close a resolved ticket. Complaints record their follow-up call here "
    "(`follow_up`: result and satisfaction 1-5); one closed without it counts as a missed "
    "follow-up in the monthly review.",
    TicketAction.REOPEN: "The problem is back: the ticket opens again, its resolution "
    "cleared. Also refused (409) while another ticket is active for the same condition.",
    TicketAction.CANCEL: "A false alarm or a duplicate: the ticket leaves service and the SLA "
    "figures.",
}
"""What each lifecycle action means, in words; where it is allowed comes from the state
machine (``lifecycle_doc``). A new action without words here fails at import."""


def _in_scope(steward: Steward, caller: Principal, number: str) -> None:
    """Another site's ticket does not exist for a site-scoped key: the same 404."""
    if caller.site is not None and not caller.sees(steward.tickets.get(number=number).site):
        raise TicketNotFound(number)


@router.get("", response_model=TicketPage, responses={**LIST_BAD_REQUEST, **INVALID_INPUT})
async def list_tickets(
    steward: StewardDep,
    caller: Caller,
    status: Annotated[list[Status] | None, Query()] = None,
    priority: Priority | None = None,
    category: Category | None = None,
    site: IdFilter = None,
    kind: Kind | None = None,
    device: IdFilter = None,
    rule: RuleFilter = None,
    opened_after: Instant | None = None,
    opened_before: Instant | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response | TicketPage:
    """Newest first; pass ``next_cursor`` back as ``cursor`` for the next page. A site-scoped
    key sees its own site's tickets only."""
    if site is not None and not caller.sees(site):
        return TicketPage(items=[])
    where = TicketFilter(
        status=tuple(status or ()),
        priority=priority,
        category=category,
        site=site or caller.site,
        kind=kind,
        device=device,
        rule=rule,
        opened_after=opened_after,
        opened_before=opened_before,
    )
    return await read(steward, _list, where, limit, cursor)


def _list(
    steward: Steward, where: TicketFilter, limit: int, cursor: str | None
) -> Response | TicketPage:
    try:
        with reading(steward.sessions) as connection:
            return JsonBytes(page_json(connection, where, limit=limit, cursor=cursor))
    except Declined:
        criteria = {f.name: getattr(where, f.name) for f in fields(where)}
        return steward.tickets.list(**criteria, limit=limit, cursor=cursor)


@router.get("/{number}", response_model=TicketView, responses={**NOT_FOUND, **INVALID_INPUT})
async def get_ticket(
    steward: StewardDep, caller: Caller, number: TicketNumber
) -> Response | TicketView:
    return await read(steward, _get, caller, number)


def _get(steward: Steward, caller: Principal, number: str) -> Response | TicketView:
    try:
        with reading(steward.sessions) as connection:
            rows = connection.execute(DOC_BY_NUMBER, {"number": number}).all()
            if not rows:
                raise TicketNotFound(number)
            doc = ticket_docs(connection, rows)[0]
    except Declined:
        return _get_view(steward, caller, number)
    if not caller.sees(doc["site"]):
        raise TicketNotFound(number)
    if doc["device"] is not None:
        doc["readings_url"] = readings_url(
            doc["site"],
            doc["device"],
            doc["evidence"],
            doc["opened_at"].replace(tzinfo=UTC),
            doc["last_occurrence_at"].replace(tzinfo=UTC),
        )
    try:
        return JsonBytes(dump(doc))
    except Declined:
        return _get_view(steward, caller, number)


def _get_view(steward: Steward, caller: Principal, number: str) -> TicketView:
    """``GET /tickets/{number}`` through ``TicketView`` (when ``ticket_docs`` declines)."""
    view = steward.tickets.get(number=number)
    if not caller.sees(view.site):
        raise TicketNotFound(number)
    if view.device is None:
        return view
    url = readings_url(
        view.site, view.device, view.evidence, view.opened_at, view.last_occurrence_at
    )
    return view.model_copy(update={"readings_url": url})


def readings_url(
    site: str,
    device: str,
    evidence: dict[str, Any],
    opened_at: datetime,
    last_occurrence_at: datetime,
) -> str:
    """A ticket's ``readings_url``: from 15 min before its condition began (the evidence's
    ``condition_since``, else its opening) to 5 min after its last occurrence."""
    since = evidence.get("condition_since")
    start = (
        datetime.fromisoformat(since).timestamp()
        if isinstance(since, str)
        else (opened_at.timestamp())
    )
    end = max(last_occurrence_at.timestamp(), start) + 300
    return telemetry_link(site, device, start - 900, end)


READERS = {"sqlite": 1, "postgresql": 2}
"""How many list/get reads run at once, by database; the others wait their turn on the event
loop. The work is Python under one GIL (and SQLite's in-process reads), so more at once only
adds switching: at 16 requests in flight, 16 reader threads took 2-3x the CPU a request
needs alone, and asked the pool for 16 connections (it keeps 5 and closed and reopened the
rest: on PostgreSQL 204 new sessions in 1,160 requests). Two on PostgreSQL, so that one
read's round trips overlap the other's Python."""
_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)


async def read(steward: Steward, fn: Callable[..., _R], *args: Any) -> _R:
    """``fn(steward, *args)`` in the thread pool, at most ``READERS`` at a time (per event
    loop: tests run several apps, each in a loop of its own)."""
    loop = asyncio.get_running_loop()
    limiter = _limiters.get(loop)
    if limiter is None:
        limiter = CapacityLimiter(READERS.get(steward.db.dialect.name, 2))
        _limiters[loop] = limiter
    return await to_thread.run_sync(partial(fn, steward, *args), limiter=limiter)


class JsonBytes(Response):
    """A body already written as JSON (``render.dump``), with the content type FastAPI gives
    a ``response_model``'s JSON."""

    media_type = "application/json"


@router.post(
    "",
    response_model=TicketView,
    status_code=201,
    response_description="The ticket, opened now",
    responses=CREATE_RESPONSES,
)
def open_manual_ticket(
    steward: StewardDep,
    caller: Caller,
    body: ManualTicketIn,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=200,
            description="Makes the request safe to retry: the same key with the same body "
            "answers 200 with the ticket the first request opened; with another body, 409",
        ),
    ] = None,
) -> TicketView:
    """An owner's complaint or request: 201 with the new ticket. A retry with the same
    ``Idempotency-Key`` and body answers 200 with the ticket the first request opened; the
    same key with a different body is a 409. 403 for a site outside the key's scope."""
    caller.may_act_on(body.site)
    view, created = steward.tickets.open_manual(
        ticket=body, idempotency_key=idempotency_key, actor=caller.name, via=caller.via
    )
    if not created:
        response.status_code = 200
    return view


@router.post(
    "/{number}/close",
    response_model=TicketView,
    name="close_ticket",
    **lifecycle_route(TicketAction.CLOSE, ACTION_SUMMARIES[TicketAction.CLOSE]),
)
def close_ticket(
    steward: StewardDep, caller: Caller, number: TicketNumber, body: CloseIn
) -> TicketView:
    _in_scope(steward, caller, number)
    return steward.tickets.close(
        number=number,
        actor=body.actor,
        note=body.note,
        follow_up=body.follow_up,
        via=caller.via,
    )


@router.post(
    "/{number}/plan",
    response_model=TicketView,
    name="plan_ticket",
    **lifecycle_route(
        Record.PLAN,
        "Record the first plan / corrective measure (the SLA's plan step: important 24 h, "
        "general 4 h); the note is the plan.",
    ),
)
def plan_ticket(
    steward: StewardDep, caller: Caller, number: TicketNumber, body: PlanIn
) -> TicketView:
    _in_scope(steward, caller, number)
    return steward.tickets.plan(number=number, actor=body.actor, note=body.note, via=caller.via)


@router.post(
    "/{number}/reassign",
    response_model=TicketView,
    name="reassign_ticket",
    **lifecycle_route(
        Record.REASSIGN,
        "Hand an active ticket to a new owner (`to`). The first responder owns a ticket until "
        "it is closed; this is the only way ownership moves, and the history records who, to "
        "whom and why (the note).",
    ),
)
def reassign_ticket(
    steward: StewardDep, caller: Caller, number: TicketNumber, body: ReassignIn
) -> TicketView:
    _in_scope(steward, caller, number)
    return steward.tickets.reassign(
        number=number, actor=body.actor, to=body.to, note=body.note, via=caller.via
    )


def _action_route(action: TicketAction) -> None:
    def act(
        steward: StewardDep, caller: Caller, number: TicketNumber, body: ActionIn
    ) -> TicketView:
        _in_scope(steward, caller, number)
        return steward.tickets.act(
            number=number, action=action, actor=body.actor, note=body.note, via=caller.via
        )

    act.__name__ = f"{action.value}_ticket"
    router.post(
        f"/{{number}}/{action.value}",
        response_model=TicketView,
        name=f"{action.value}_ticket",
        **lifecycle_route(action, ACTION_SUMMARIES[action]),
    )(act)


for _action in TicketAction:
    if _action is not TicketAction.CLOSE:  # close has its own body (the follow-up call)
        _action_route(_action)
