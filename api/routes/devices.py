"""``/api/v1/devices``: registry, last reading, online state, open tickets; dead letters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel

from api.access import Caller
from api.deps import StewardDep
from api.errors import INVALID_INPUT, Responses, documented
from api.params import IdFilter
from gateway.topics import ID_PATTERN, TOPIC_ROOT
from rules.engine import DeviceState
from steward.clock import iso
from steward.runtime import Steward

router = APIRouter(tags=["devices"])
SiteId = Annotated[str, Path(pattern=ID_PATTERN.pattern, examples=["oak"])]
DeviceId = Annotated[str, Path(pattern=ID_PATTERN.pattern, examples=["car-1"])]


class DeviceView(BaseModel):
    site: str
    kind: str
    device: str
    building: str | None
    location: str
    registered: bool
    online: bool | None
    """From the status topic (Last Will); None until the device has said."""
    last_seen: str | None
    last_reading: dict[str, Any] | None
    firing: list[str]
    open_tickets: list[str]


class DeadLetterView(BaseModel):
    reason: str
    topic: str
    detail: str
    payload_excerpt: str
    received_at: str | None


DEVICE_NOT_FOUND: Responses = {
    404: documented(
        "No such device: neither in the site file nor ever heard from (a site-scoped key "
        "gets the same for another site's)",
        code="http_error",
        message="no device oak/car-9: not registered and never heard from",
    )
}


def device_not_found(site: str, device: str) -> HTTPException:
    """One answer for a device nobody knows and one outside the key's site scope."""
    return HTTPException(404, f"no device {site}/{device}: not registered and never heard from")


def _views(steward: Steward, states: list[DeviceState]) -> list[DeviceView]:
    seen = {s.device.ref.key: s for s in states}
    registered = [d for d in steward.registry if d.ref.key not in seen]
    open_by_device = steward.active_tickets_by_device()
    out = []
    for state in states:
        d = state.device
        out.append(
            DeviceView(
                site=d.ref.site,
                kind=d.ref.kind.value,
                device=d.ref.device,
                building=d.building,
                location=d.location,
                registered=d.registered,
                online=state.online,
                last_seen=iso(state.last_seen),
                last_reading=state.reading.telemetry.model_dump(mode="json")
                if state.reading
                else None,
                firing=state.rules.firing_rules() + state.health.firing_rules(),
                open_tickets=open_by_device.get(d.ref.key, []),
            )
        )
    for d in registered:
        out.append(
            DeviceView(
                site=d.ref.site,
                kind=d.ref.kind.value,
                device=d.ref.device,
                building=d.building,
                location=d.location,
                registered=True,
                online=None,
                last_seen=None,
                last_reading=None,
                firing=[],
                open_tickets=open_by_device.get(d.ref.key, []),
            )
        )
    return sorted(out, key=lambda v: (v.site, v.device))


@router.get("/devices", response_model=list[DeviceView], responses=INVALID_INPUT)
def list_devices(
    steward: StewardDep,
    caller: Caller,
    site: IdFilter = None,
    kind: Annotated[str | None, Query(pattern=ID_PATTERN.pattern, max_length=32)] = None,
) -> list[DeviceView]:
    views = _views(steward, steward.engine.device_states())
    return [
        v
        for v in views
        if caller.sees(v.site)
        and (site is None or v.site == site)
        and (kind is None or v.kind == kind)
    ]


@router.get(
    "/devices/{site}/{device}",
    response_model=DeviceView,
    responses={**DEVICE_NOT_FOUND, **INVALID_INPUT},
)
def get_device(steward: StewardDep, caller: Caller, site: SiteId, device: DeviceId) -> DeviceView:
    if not caller.sees(site):
        raise device_not_found(site, device)
    for view in _views(steward, steward.engine.device_states()):
        if view.site == site and view.device == device:
            return view
    raise device_not_found(site, device)


@router.get(
    "/dead-letters", response_model=list[DeadLetterView], tags=["gateway"], responses=INVALID_INPUT
)
def dead_letters(
    steward: StewardDep, caller: Caller, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[DeadLetterView]:
    """The latest rejected messages, newest first, with the reason and what was wrong. A
    site-scoped key sees those sent to its site's topics only."""
    latest = steward.dead_letters.latest(steward.settings.dead_letter_size)
    if caller.site is not None:
        root = f"{TOPIC_ROOT}/{caller.site}/"
        latest = [r for r in latest if r.topic.startswith(root)]
    return [
        DeadLetterView(
            reason=r.reason.value,
            topic=r.topic,
            detail=r.detail,
            payload_excerpt=r.payload_excerpt,
            received_at=iso(r.received_at),
        )
        for r in latest[:limit]
    ]
