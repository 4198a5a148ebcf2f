"""The monthly review's shape (JSON) and its CSV form, with the standard's colours.

Compliance = met / (met + missed) of the steps whose deadline has passed or that are done;
steps still running (``pending``) are left out. Colours: green ≥ 95 %, yellow 90-95 %,
red < 90 % (seed, 三 建議); no colour when nothing was measured.
"""

from __future__ import annotations

import csv
import io
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from tickets.schemas import UtcTime

GREEN_AT = 95.0
YELLOW_AT = 90.0


class Colour(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


def colour(pct: float | None) -> Colour | None:
    if pct is None:
        return None
    if pct >= GREEN_AT:
        return Colour.GREEN
    if pct >= YELLOW_AT:
        return Colour.YELLOW
    return Colour.RED


def percent(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(100.0 * part / whole, 1)


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class Compliance(_Out):
    met: int
    missed: int
    pending: int = 0
    compliance_pct: float | None
    colour: Colour | None

    @classmethod
    def of(cls, met: int, missed: int, pending: int = 0) -> Compliance:
        pct = percent(met, met + missed)
        return cls(met=met, missed=missed, pending=pending, compliance_pct=pct, colour=colour(pct))


class StepCompliance(Compliance):
    step: str


class PriorityCompliance(_Out):
    priority: str
    tickets: int
    """Tickets of this priority opened in the month (cancelled ones excluded)."""
    overall: Compliance
    steps: list[StepCompliance]


class Durations(_Out):
    count: int
    mean_s: float | None
    p90_s: float | None
    """Nearest rank: the smallest duration at least 90 % of the tickets did not exceed."""


class TimeToAct(_Out):
    scope: str
    """``all`` or a priority."""
    acknowledge: Durations
    resolve: Durations


class Count(_Out):
    key: str
    tickets: int
    kind: str | None = None


class RepeatedFailure(_Out):
    device: str
    kind: str | None
    failures: int
    rules: dict[str, int]


class PatrolCompliance(_Out):
    key_area_checkpoints: int | None
    expected_rounds: int | None
    """Month length / interval, summed over key-area checkpoints (from the site file)."""
    missed_rounds: int
    """Occurrences of missed-checkpoint tickets: one per round missed."""
    missed_checkpoint_tickets: int
    shift_miss_tickets: int
    guard_inactive_tickets: int
    compliance_pct: float | None
    colour: Colour | None


class InspectionCompliance(_Out):
    kind: str
    devices: int | None
    """Registered devices of the kind (from the site file)."""
    overdue_devices: list[str]
    """Devices with an overdue maintenance/inspection ticket open at some time this month."""
    compliance_pct: float | None
    colour: Colour | None


class Complaints(_Out):
    tickets: int
    by_channel: dict[str, int]
    by_category: dict[str, int]
    linked_to_sensor_tickets: int
    follow_ups: int
    satisfaction_mean: float | None


class MonthlyReport(_Out):
    site: str
    month: str
    timezone: str
    period_start: UtcTime
    period_end: UtcTime
    as_of: UtcTime
    thresholds: dict[str, float]
    opened: int
    cancelled: int
    by_priority: dict[str, int]
    by_source: dict[str, int]
    sla_overall: Compliance
    sla: list[PriorityCompliance]
    times: list[TimeToAct]
    top_devices: list[Count]
    top_rules: list[Count]
    top_categories: list[Count]
    repeated_failures: list[RepeatedFailure]
    patrol: PatrolCompliance
    inspection: list[InspectionCompliance]
    complaints: Complaints


CSV_HEADER = ("section", "group", "item", "metric", "value")


def report_csv(report: MonthlyReport) -> str:
    """The report as rows of ``section, group, item, metric, value`` (one number per row,
    so a spreadsheet can pivot it)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    rows: list[tuple[str, str, str, str, Any]] = [
        ("report", report.site, report.month, "timezone", report.timezone),
        ("report", report.site, report.month, "opened", report.opened),
        ("report", report.site, report.month, "cancelled", report.cancelled),
    ]
    rows += _compliance_rows("sla", "all", "all", report.sla_overall)
    for p in report.sla:
        rows.append(("sla", p.priority, "all", "tickets", p.tickets))
        rows += _compliance_rows("sla", p.priority, "all", p.overall)
        for s in p.steps:
            rows += _compliance_rows("sla", p.priority, s.step, s)
    for t in report.times:
        for name, d in (("acknowledge", t.acknowledge), ("resolve", t.resolve)):
            rows += [
                ("time_to_" + name, t.scope, "", "count", d.count),
                ("time_to_" + name, t.scope, "", "mean_s", d.mean_s),
                ("time_to_" + name, t.scope, "", "p90_s", d.p90_s),
            ]
    for section, counts in (
        ("top_devices", report.top_devices),
        ("top_rules", report.top_rules),
        ("top_categories", report.top_categories),
    ):
        rows += [(section, c.kind or "", c.key, "tickets", c.tickets) for c in counts]
    rows += [
        ("repeated_failures", f.kind or "", f.device, "failures", f.failures)
        for f in report.repeated_failures
    ]
    patrol = report.patrol.model_dump(mode="json")
    rows += [("patrol", "", "", k, v) for k, v in patrol.items()]
    for i in report.inspection:
        rows += [
            ("inspection", i.kind, "", "devices", i.devices),
            ("inspection", i.kind, "", "overdue_devices", len(i.overdue_devices)),
            ("inspection", i.kind, "", "compliance_pct", i.compliance_pct),
            ("inspection", i.kind, "", "colour", i.colour),
        ]
    c = report.complaints
    rows += [
        ("complaints", "", "", "tickets", c.tickets),
        ("complaints", "", "", "linked_to_sensor_tickets", c.linked_to_sensor_tickets),
        ("complaints", "", "", "follow_ups", c.follow_ups),
        ("complaints", "", "", "satisfaction_mean", c.satisfaction_mean),
    ]
    rows += [("complaints", "channel", k, "tickets", v) for k, v in c.by_channel.items()]
    rows += [("complaints", "category", k, "tickets", v) for k, v in c.by_category.items()]
    for row in rows:
        writer.writerow(["" if v is None else _cell(v) for v in row])
    return out.getvalue()


def _cell(value: Any) -> str:
    return value.value if isinstance(value, StrEnum) else str(value)


def _compliance_rows(
    section: str, group: str, item: str, c: Compliance
) -> list[tuple[str, str, str, str, Any]]:
    return [
        (section, group, item, "met", c.met),
        (section, group, item, "missed", c.missed),
        (section, group, item, "pending", c.pending),
        (section, group, item, "compliance_pct", c.compliance_pct),
        (section, group, item, "colour", c.colour),
    ]
