"""``/api/v1/devices/{site}/{device}/telemetry``: a device's stored readings, raw or
downsampled, from the embedded store or (when configured) InfluxDB through Flux."""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from api.access import Caller
from api.deps import StewardDep
from api.errors import INVALID_INPUT, documented
from api.params import Instant
from api.routes.devices import DEVICE_NOT_FOUND, DeviceId, SiteId, device_not_found
from steward.clock import iso
from steward.runtime import Steward
from telemetry.embedded import EmbeddedStore
from telemetry.query import QueryError, SeriesPoint, check_window, parse_step
from telemetry.sink import TelemetrySink

log = logging.getLogger("steward.api")
UNAVAILABLE = documented(
    "Telemetry storage is not running, or it (the embedded store, InfluxDB) failed to answer",
    code="http_error",
    message="telemetry storage did not answer: TimeoutError",
)
router = APIRouter(tags=["telemetry"])
DEFAULT_WINDOW_S = 3600.0
MAX_BUCKETS = 10_000


class PointView(BaseModel):
    t: str
    """RFC 3339: the reading's time, or the start of its bucket."""
    value: bool | int | float | str | None
    """Raw value; per bucket the mean (booleans: share of true) or, for text, the last."""
    min: float | None = None
    max: float | None = None
    count: int | None = None


class TelemetryView(BaseModel):
    site: str
    device: str
    kind: str | None
    from_: str = Field(serialization_alias="from")
    to: str
    step_s: float | None
    source: str
    """``embedded`` or ``influxdb``."""
    truncated: bool
    """Raw readings stopped at ``limit``: ask for a shorter window or a ``step``."""
    fields: dict[str, list[PointView]]


def telemetry_link(site: str, device: str, start: float, end: float) -> str:
    """The readings behind a ticket's evidence window, for ticket views to link to."""
    query = urlencode({"from": iso(start), "to": iso(end)})
    return f"/api/v1/devices/{site}/{device}/telemetry?{query}"


def _sink(steward: Steward) -> TelemetrySink:
    sink: TelemetrySink | None = getattr(steward, "telemetry", None)
    if sink is None:
        raise HTTPException(503, "telemetry storage is not running")
    return sink


def _registered_kind(steward: Steward, site: str, device: str) -> str | None:
    for registered in steward.registry:
        if registered.ref.site == site and registered.ref.device == device:
            return registered.ref.kind.value
    return None


def _point(p: SeriesPoint) -> PointView:
    return PointView(t=iso(p.t) or "", value=p.value, min=p.min, max=p.max, count=p.count)


@router.get(
    "/devices/{site}/{device}/telemetry",
    response_model=TelemetryView,
    response_model_by_alias=True,
    responses={
        400: documented(
            "``from``/``to`` without a UTC offset, a ``step`` that is not a duration, a "
            "window that ends before it starts, or more buckets than allowed",
            code="http_error",
            message="'from' needs a UTC offset (e.g. 2026-01-01T08:00:00Z)",
        ),
        **DEVICE_NOT_FOUND,
        **INVALID_INPUT,
        503: UNAVAILABLE,
    },
)
def device_telemetry(
    steward: StewardDep,
    caller: Caller,
    site: SiteId,
    device: DeviceId,
    from_: Annotated[
        Instant | None,
        Query(alias="from", description="RFC 3339 or epoch seconds; default: `to` - 1 h"),
    ] = None,
    to: Annotated[
        Instant | None, Query(description="RFC 3339 or epoch seconds; default: now")
    ] = None,
    field: Annotated[
        list[str] | None, Query(description="repeatable; default: every field of the kind")
    ] = None,
    step: Annotated[
        str | None,
        Query(max_length=16, description="bucket width (60, 30s, 5m, 1h, 1d); default: raw"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100_000, description="raw readings at most")] = 10_000,
) -> TelemetryView:
    """Raw readings, or per ``step`` bucket the mean/min/max/count of numbers and booleans and
    the last value of text fields. Readings reach storage within about a second."""
    if not caller.sees(site):
        raise device_not_found(site, device)
    sink = _sink(steward)
    for name, value in (("from", from_), ("to", to)):
        if value is not None and value.tzinfo is None:
            raise HTTPException(400, f"'{name}' needs a UTC offset (e.g. 2026-01-01T08:00:00Z)")
    end = to.timestamp() if to else steward.clock.now()
    start = from_.timestamp() if from_ else end - DEFAULT_WINDOW_S
    try:
        step_s = parse_step(step) if step is not None else None
        check_window(start, end, step_s, MAX_BUCKETS)
        series = sink.readings(
            site=site, device=device, start=start, end=end, fields=field, step_s=step_s, limit=limit
        )
    except QueryError as exc:
        raise HTTPException(400, str(exc)) from None
    except Exception as exc:  # the store or InfluxDB failing is not the caller's fault
        log.exception("telemetry query for %s/%s failed", site, device)
        raise HTTPException(
            503, f"telemetry storage did not answer: {type(exc).__name__}"
        ) from None
    kind = series.kind or _registered_kind(steward, site, device)
    if kind is None:
        raise device_not_found(site, device)
    return TelemetryView(
        site=site,
        device=device,
        kind=kind,
        from_=iso(start) or "",
        to=iso(end) or "",
        step_s=step_s,
        source="embedded" if isinstance(sink, EmbeddedStore) else "influxdb",
        truncated=series.truncated,
        fields={name: [_point(p) for p in points] for name, points in series.fields.items()},
    )
