"""Readings back out of InfluxDB 2.x through Flux (``/api/v2/query``).

Only the compose stack, against a real InfluxDB 2, can verify this end to end, and it has not
been run on our build machines (no Docker engine; docs/deployment.md): the test servers here
(VictoriaMetrics) accept the v2 write API but have no Flux. What is tested is the query text
and the parsing of its tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from steward.clock import iso
from telemetry.fields import STRING_FIELDS, Value
from telemetry.query import DeviceSeries, SeriesPoint


def flux_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def flux_duration(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"


def flux_query(
    *,
    bucket: str,
    site: str,
    device: str,
    start: float,
    end: float,
    fields: Sequence[str] | None,
    step_s: float | None,
    limit: int,
) -> str:
    """Raw: every point of the chosen fields, at most ``limit`` per field. With ``step_s``:
    per bucket (aligned to the epoch, stamped with its start) the mean of numbers and
    booleans (as 0/1), the last of strings."""
    source = [
        f"from(bucket: {flux_string(bucket)})",
        f"  |> range(start: {iso(start)}, stop: {iso(end + 0.001)})",
        f"  |> filter(fn: (r) => r.site == {flux_string(site)}"
        f" and r.device == {flux_string(device)})",
    ]
    if fields:
        wanted = " or ".join(f"r._field == {flux_string(f)}" for f in fields)
        source.append(f"  |> filter(fn: (r) => {wanted})")
    if step_s is None:
        return "\n".join([*source, f"  |> limit(n: {limit})"])
    every = flux_duration(step_s)
    strings = "[" + ", ".join(flux_string(f) for f in sorted(STRING_FIELDS)) + "]"
    window = f'every: {every}, createEmpty: false, timeSrc: "_start"'
    return "\n".join(
        [
            "data = " + "\n".join(source),
            "numbers = data",
            f"  |> filter(fn: (r) => not contains(value: r._field, set: {strings}))",
            "  |> toFloat()",
            f"  |> aggregateWindow({window}, fn: mean)",
            "strings = data",
            f"  |> filter(fn: (r) => contains(value: r._field, set: {strings}))",
            f"  |> aggregateWindow({window}, fn: last)",
            "union(tables: [numbers, strings])",
        ]
    )


def series_from_records(
    records: Iterable[Any],
    *,
    site: str,
    device: str,
    start: float,
    end: float,
    step_s: float | None,
    limit: int,
) -> DeviceSeries:
    """Flux records (``get_field``, ``get_time``, ``get_value``, ``get_measurement``) → series."""
    fields: dict[str, list[SeriesPoint]] = {}
    kind: str | None = None
    for record in records:
        kind = kind or record.get_measurement()
        when: datetime = record.get_time()
        value: Value | None = record.get_value()
        fields.setdefault(record.get_field(), []).append(SeriesPoint(when.timestamp(), value))
    for points in fields.values():
        points.sort(key=lambda p: p.t)
    truncated = step_s is None and any(len(p) >= limit for p in fields.values())
    return DeviceSeries(site, device, kind, start, end, step_s, fields, truncated)


class FluxReader:
    def __init__(self, client: Any, bucket: str, org: str) -> None:
        self.client = client
        self.bucket = bucket
        self.org = org

    def readings(
        self,
        *,
        site: str,
        device: str,
        start: float,
        end: float,
        fields: Sequence[str] | None = None,
        step_s: float | None = None,
        limit: int = 10_000,
    ) -> DeviceSeries:
        text = flux_query(
            bucket=self.bucket,
            site=site,
            device=device,
            start=start,
            end=end,
            fields=fields,
            step_s=step_s,
            limit=limit,
        )
        tables = self.client.query_api().query(text, org=self.org)
        records = (record for table in tables for record in table.records)
        return series_from_records(
            records, site=site, device=device, start=start, end=end, step_s=step_s, limit=limit
        )
