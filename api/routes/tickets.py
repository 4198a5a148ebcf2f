"""``/api/v1/tickets``: list, get, open a manual ticket, lifecycle actions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response

from api.access import Caller, Principal
from api.deps import StewardDep
from api.errors import ERROR_RESPONSES
from api.params import Instant
from api.routes.telemetry import telemetry_link
from gateway.topics import Kind
from rules.decision import Category, Priority
from steward.runtime import Steward
from tickets.errors import TicketNotFound
from tickets.lifecycle import Status, TicketAction
from tickets.schemas import (
    ActionIn,
    CloseIn,
    ManualTicketIn,
    PlanIn,
    ReassignIn,
    TicketPage,
    TicketView,
)

router = APIRouter(prefix="/tickets", tags=["tickets"], responses=ERROR_RESPONSES)
TicketNumber = Annotated[
    str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9-]+$", examples=["ST-000001"])
]


def _in_scope(steward: Steward, caller: Principal, number: str) -> None:
    """Another site's ticket does not exist for a site-scoped key: the same 404."""
    if caller.site is not None and not caller.sees(steward.tickets.get(number=number).site):
        raise TicketNotFound(number)


@router.get("", response_model=TicketPage)
def list_tickets(
    steward: StewardDep,
    caller: Caller,
    status: Annotated[list[Status] | None, Query()] = None,
    priority: Priority | None = None,
    category: Category | None = None,
    site: Annotated[str | None, Query(max_length=63)] = None,
    kind: Kind | None = None,
    device: Annotated[str | None, Query(max_length=63)] = None,
    rule: Annotated[str | None, Query(max_length=100)] = None,
    opened_after: Instant | None = None,
    opened_before: Instant | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> TicketPage:
    """Newest first; pass ``next_cursor`` back as ``cursor`` for the next page. A site-scoped
    key sees its own site's tickets only."""
    if site is not None and not caller.sees(site):
        return TicketPage(items=[])
    return steward.tickets.list(
        status=status or [],
        priority=priority,
        category=category,
        site=site or caller.site,
        kind=kind,
        device=device,
        rule=rule,
        opened_after=opened_after,
        opened_before=opened_before,
        limit=limit,
        cursor=cursor,
    )


@router.get("/{number}", response_model=TicketView)
def get_ticket(steward: StewardDep, caller: Caller, number: TicketNumber) -> TicketView:
    view = steward.tickets.get(number=number)
    if not caller.sees(view.site):
        raise TicketNotFound(number)
    if view.device is None:
        return view
    since = view.evidence.get("condition_since")
    start = (
        datetime.fromisoformat(since).timestamp()
        if isinstance(since, str)
        else (view.opened_at.timestamp())
    )
    end = max(view.last_occurrence_at.timestamp(), start) + 300
    url = telemetry_link(view.site, view.device, start - 900, end)
    return view.model_copy(update={"readings_url": url})


@router.post("", response_model=TicketView, status_code=201)
def open_manual_ticket(
    steward: StewardDep,
    caller: Caller,
    body: ManualTicketIn,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> TicketView:
    """An owner's complaint or request. The same ``Idempotency-Key`` returns the same ticket.
    403 for a site outside the key's scope."""
    caller.may_act_on(body.site)
    view, created = steward.tickets.open_manual(
        ticket=body, idempotency_key=idempotency_key, actor="api"
    )
    if not created:
        response.status_code = 200
    return view


@router.post("/{number}/close", response_model=TicketView, name="close_ticket")
def close_ticket(
    steward: StewardDep, caller: Caller, number: TicketNumber, body: CloseIn
) -> TicketView:
    """Close a resolved ticket. Complaints record their follow-up call here (``follow_up``:
    result and satisfaction 1-5); one closed without it counts as a missed follow-up in the
    monthly review. 409 with the allowed actions unless the ticket is resolved."""
    _in_scope(steward, caller, number)
    return steward.tickets.close(
        number=number, actor=body.actor, note=body.note, follow_up=body.follow_up
    )


@router.post("/{number}/plan", response_model=TicketView, name="plan_ticket")
def plan_ticket(
    steward: StewardDep, caller: Caller, number: TicketNumber, body: PlanIn
) -> TicketView:
    """Record the first plan / corrective measure (the SLA's plan step: important 24 h,
    general 4 h). Active tickets only (409 otherwise); the note is the plan."""
    _in_scope(steward, caller, number)
    return steward.tickets.plan(number=number, actor=body.actor, note=body.note)


@router.post("/{number}/reassign", response_model=TicketView, name="reassign_ticket")
def reassign_ticket(
    steward: StewardDep, caller: Caller, number: TicketNumber, body: ReassignIn
) -> TicketView:
    """Hand an active ticket to a new owner. The first responder owns a ticket until it is
    closed; this is the only way ownership moves, and the history records who, to whom, why.
    409 with the allowed actions on a ticket that is not active."""
    _in_scope(steward, caller, number)
    return steward.tickets.reassign(number=number, actor=body.actor, to=body.to, note=body.note)


def _action_route(action: TicketAction) -> None:
    def act(
        steward: StewardDep, caller: Caller, number: TicketNumber, body: ActionIn
    ) -> TicketView:
        _in_scope(steward, caller, number)
        return steward.tickets.act(number=number, action=action, actor=body.actor, note=body.note)

    act.__name__ = f"{action.value}_ticket"
    act.__doc__ = f"Lifecycle action '{action.value}', recorded in the ticket's history."
    router.post(
        f"/{{number}}/{action.value}", response_model=TicketView, name=f"{action.value}_ticket"
    )(act)


for _action in TicketAction:
    if _action is not TicketAction.CLOSE:  # close has its own body (the follow-up call)
        _action_route(_action)
