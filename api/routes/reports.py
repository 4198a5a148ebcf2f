"""``/api/v1/reports/monthly``: the monthly review of one site, as JSON or CSV."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response

from api.access import Caller
from api.deps import StewardDep
from api.errors import INVALID_INPUT, documented
from gateway.topics import ID_PATTERN, Kind
from steward.runtime import Steward
from steward.site import PatrolParams
from tickets.report import Fleet
from tickets.report_schema import MonthlyReport, report_csv

router = APIRouter(prefix="/reports", tags=["reports"])


class ReportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"


@router.get(
    "/monthly",
    response_model=MonthlyReport,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        400: documented(
            "A month that has not started yet in the site's time zone",
            code="bad_request",
            message="2099-01 has not started yet at oak",
        ),
        404: documented(
            "A site outside the key's scope",
            code="http_error",
            message="no site 'elm' for this key",
        ),
        **INVALID_INPUT,
    },
)
def monthly_report(
    steward: StewardDep,
    caller: Caller,
    site: Annotated[str, Query(pattern=ID_PATTERN.pattern, max_length=63)],
    month: Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-01"])],
    format: ReportFormat = ReportFormat.JSON,
) -> MonthlyReport | Response:
    """SLA compliance per priority and per step (respond, on site, plan, resolve, follow-up,
    hourly progress of outages) coloured green ≥ 95 %, yellow 90-95 %, red < 90 %; mean and
    p90 time to acknowledge and to resolve; the most frequent problems by device, rule and
    category; devices that failed 3 or more times; patrol and inspection compliance (rates
    need the site file's checkpoints and devices); complaints and satisfaction.

    The month is the site's calendar month in its time zone; figures are as of now. 400 for a
    month that has not started; 422 for a malformed site or month; 404 for a site outside
    the key's scope."""
    if not caller.sees(site):
        raise HTTPException(404, f"no site {site!r} for this key")
    report = steward.tickets.monthly_report(
        site=site,
        month=month,
        fleet=fleet_of(steward, site),
        repeated_at=steward.config.rules.elevator.repeated_failure_count,
    )
    if format is ReportFormat.CSV:
        return Response(
            report_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="steward-{site}-{month}.csv"'},
        )
    return report


def fleet_of(steward: Steward, site: str) -> Fleet:
    """The site's key-area patrol checkpoints and registered devices, from the site file."""
    intervals: list[float] = []
    devices: dict[str, int] = {}
    for device in steward.registry:
        if device.ref.site != site:
            continue
        kind = device.ref.kind
        devices[kind.value] = devices.get(kind.value, 0) + 1
        params = device.params
        if kind is Kind.PATROL and isinstance(params, PatrolParams) and params.key_area:
            intervals.append(params.interval_min * 60.0)
    return Fleet(patrol_intervals_s=intervals, devices=devices, known=bool(devices))
