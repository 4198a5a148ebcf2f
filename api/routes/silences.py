"""``/api/v1/silences``: maintenance windows. Conditions matching an active window are
recorded but open no ticket; entrapment and door-open-while-moving are never silenced; when a
window ends (or is ended), conditions still holding open their tickets at once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from api.access import Caller, Principal
from api.deps import StewardDep
from api.errors import FORBIDDEN_OR_OTHER_SITE, INVALID_INPUT, Responses, documented, with_body
from api.params import IdFilter, RowId
from steward.runtime import Steward
from tickets.schemas import EndSilenceIn, SilenceIn, SilenceState, SilenceView
from tickets.silences import SilenceNotFound

router = APIRouter(prefix="/silences", tags=["silences"])
SilenceId = RowId
NOT_FOUND: Responses = {
    404: documented(
        "No window with this id (a site-scoped key gets the same for another site's)",
        code="http_error",
        message="no silence 42",
    )
}


def _visible(steward: Steward, caller: Principal, silence_id: int) -> SilenceView:
    """The window, if the key may see it; another site's is a 404 like a missing one."""
    try:
        view = steward.tickets.get_silence(silence_id=silence_id)
    except SilenceNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    if not caller.sees(view.site):
        raise HTTPException(404, str(SilenceNotFound(silence_id)))
    return view


@router.post(
    "",
    response_model=SilenceView,
    status_code=201,
    responses=with_body(
        {
            400: documented(
                "A life-safety rule (never silenced), or a window that ends before it starts, "
                "is already over, lasts more than 31 days or starts more than 366 days ahead",
                code="bad_request",
                message="ends_at must be after starts_at",
            ),
            403: FORBIDDEN_OR_OTHER_SITE,
        }
    ),
)
def create_silence(steward: StewardDep, caller: Caller, body: SilenceIn) -> SilenceView:
    """A window by site, and optionally building, device and rule. 400 for a life-safety
    rule, a window that ends before it starts or is already over, or one over 31 days; 403
    for a site outside the key's scope."""
    caller.may_act_on(body.site)
    return steward.tickets.create_silence(silence=body)


@router.get("", response_model=list[SilenceView], responses=INVALID_INPUT)
def list_silences(
    steward: StewardDep,
    caller: Caller,
    site: IdFilter = None,
    state: SilenceState | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[SilenceView]:
    """Newest first, each with the conditions recorded during it."""
    if site is not None and not caller.sees(site):
        return []
    return steward.tickets.list_silences(site=site or caller.site, state=state, limit=limit)


@router.get("/{silence_id}", response_model=SilenceView, responses={**NOT_FOUND, **INVALID_INPUT})
def get_silence(steward: StewardDep, caller: Caller, silence_id: SilenceId) -> SilenceView:
    return _visible(steward, caller, silence_id)


@router.post(
    "/{silence_id}/end",
    response_model=SilenceView,
    responses=with_body(
        {
            400: documented(
                "The window has already ended",
                code="bad_request",
                message="silence 42 has already ended",
            ),
            **NOT_FOUND,
        }
    ),
)
def end_silence(
    steward: StewardDep, caller: Caller, silence_id: SilenceId, body: EndSilenceIn
) -> SilenceView:
    """End the window now: conditions still holding open their tickets in the same
    transaction. 400 if it has already ended."""
    _visible(steward, caller, silence_id)
    try:
        return steward.tickets.end_silence(silence_id=silence_id, actor=body.actor)
    except SilenceNotFound as exc:
        raise HTTPException(404, str(exc)) from None
