"""``/api/v1/deliveries``: the delivery log (per endpoint, per event, every attempt),
endpoint health, and replay."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from api.deps import StewardDep
from api.errors import INVALID_INPUT, Responses, documented
from api.params import RowId, TicketNumberFilter
from delivery.log import DeliveryLog, DeliveryNotFoundError
from delivery.models import DeliveryStatus
from delivery.schemas import DeliveryPage, DeliveryView, EndpointHealth, ReplayResult
from gateway.topics import ID_PATTERN
from tickets.models import MAX_ROW_ID

router = APIRouter(prefix="/deliveries", tags=["deliveries"])
EndpointName = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")]

NO_ENDPOINT: Responses = {
    404: documented(
        "No delivery endpoint by this name in the configuration",
        code="http_error",
        message="no delivery endpoint named 'pager'",
    ),
    **INVALID_INPUT,
}
NO_DELIVERY: Responses = {
    404: documented("No delivery with this id", code="http_error", message="no delivery 42"),
    **INVALID_INPUT,
}


def _log(steward: StewardDep) -> DeliveryLog:
    return DeliveryLog(steward.sessions, steward.clock)


@contextmanager
def _found() -> Iterator[None]:
    try:
        yield
    except DeliveryNotFoundError as exc:
        raise HTTPException(404, str(exc)) from None


@router.get(
    "",
    response_model=DeliveryPage,
    responses={
        400: documented(
            "A ``cursor`` past any id this API hands out",
            code="http_error",
            message="cursor '999999999999999999' is not one this API returned",
        ),
        **INVALID_INPUT,
    },
)
def list_deliveries(
    steward: StewardDep,
    endpoint: Annotated[str | None, Query(pattern=ID_PATTERN.pattern, max_length=64)] = None,
    status: DeliveryStatus | None = None,
    event_id: Annotated[str | None, Query(pattern=r"^[0-9a-fA-F-]+$", max_length=36)] = None,
    ticket: TicketNumberFilter = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$")] = None,
) -> DeliveryPage:
    """Newest first, each with its attempts; ``event_id`` shows one event at every endpoint."""
    if cursor is not None and int(cursor) > MAX_ROW_ID:  # next_cursor is a row id
        raise HTTPException(400, f"cursor '{cursor}' is not one this API returned")
    return _log(steward).list(
        endpoint=endpoint,
        status=status,
        event_id=event_id,
        ticket=ticket,
        limit=limit,
        cursor=None if cursor is None else int(cursor),
    )


@router.get("/endpoints", response_model=list[EndpointHealth])
def list_endpoints(steward: StewardDep) -> list[EndpointHealth]:
    return _log(steward).endpoints()


@router.get("/endpoints/{name}", response_model=EndpointHealth, responses=NO_ENDPOINT)
def get_endpoint(steward: StewardDep, name: EndpointName) -> EndpointHealth:
    with _found():
        return _log(steward).endpoint(name)


@router.post("/endpoints/{name}/enable", response_model=EndpointHealth, responses=NO_ENDPOINT)
def enable_endpoint(steward: StewardDep, name: EndpointName) -> EndpointHealth:
    """Deliver again to an endpoint a 410 disabled; what queued meanwhile goes out in order."""
    with _found():
        return _log(steward).enable(name)


@router.post("/endpoints/{name}/replay-failed", response_model=ReplayResult, responses=NO_ENDPOINT)
def replay_failed(steward: StewardDep, name: EndpointName) -> ReplayResult:
    """Queue every failed delivery of the endpoint again."""
    with _found():
        return ReplayResult(replayed=_log(steward).replay_failed(name))


@router.get("/{delivery_id}", response_model=DeliveryView, responses=NO_DELIVERY)
def get_delivery(steward: StewardDep, delivery_id: RowId) -> DeliveryView:
    with _found():
        return _log(steward).get(delivery_id)


@router.post("/{delivery_id}/replay", response_model=DeliveryView, responses=NO_DELIVERY)
def replay_delivery(steward: StewardDep, delivery_id: RowId) -> DeliveryView:
    """Send the event again, with the same ``webhook-id``."""
    with _found():
        return _log(steward).replay(delivery_id)
