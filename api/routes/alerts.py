"""``/api/v1/alerts``: conditions firing now, from the live rule state."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.access import Caller
from api.deps import StewardDep
from steward.clock import iso

router = APIRouter(prefix="/alerts", tags=["alerts"])


class AlertView(BaseModel):
    site: str
    kind: str
    device: str
    building: str | None
    location: str
    rule: str
    priority: str
    title: str
    since: str | None
    fired_at: str | None
    ticket: str | None
    """The active ticket for this condition, if it has been committed."""


@router.get("", response_model=list[AlertView])
def list_alerts(steward: StewardDep, caller: Caller) -> list[AlertView]:
    alerts = [a for a in steward.engine.alerts() if caller.sees(a.ref.site)]
    tickets = steward.tickets.active_for(dedup_keys=[a.dedup_key for a in alerts])
    return [
        AlertView(
            site=a.ref.site,
            kind=a.ref.kind.value,
            device=a.ref.device,
            building=a.building,
            location=a.location,
            rule=a.rule,
            priority=a.priority,
            title=a.title,
            since=iso(a.since),
            fired_at=iso(a.fired_at),
            ticket=tickets.get(a.dedup_key),
        )
        for a in sorted(alerts, key=lambda a: a.fired_at or 0.0, reverse=True)
    ]
