"""Reading the embedded store back: raw readings or per-bucket aggregates, for the API.

Each query opens its own read-only connection (WAL: readers never wait for the writer).
Table and column names in the SQL come only from ``telemetry.fields`` and ``partition_name``
(never from a request), hence the ``noqa: S608`` on the statements that name them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path

from gateway.topics import Kind
from telemetry.daytables import DAY_MS, KINDS, partition_day
from telemetry.fields import FIELDS, FieldType
from telemetry.query import DeviceSeries, SeriesPoint, resolve_fields


class EmbeddedReader:
    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)) as db:
            yield db

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
        with self._reader() as db:
            found = db.execute(
                "SELECT id, kind FROM devices WHERE site = ? AND device = ? ORDER BY id DESC",
                (site, device),
            ).fetchone()
            if found is None or found[1] not in KINDS:
                return DeviceSeries(site, device, None, start, end, step_s)
            device_id, kind = int(found[0]), KINDS[found[1]]
            names = resolve_fields(kind, fields)
            tables = self._tables(db, kind, start, end)
            window = (device_id, round(start * 1000), round(end * 1000))
            if step_s is None:
                points, truncated = _raw(db, kind, tables, names, window, limit)
            else:
                points, truncated = _buckets(db, kind, tables, names, window, step_s), False
        return DeviceSeries(site, device, kind.value, start, end, step_s, points, truncated)

    @staticmethod
    def _tables(db: sqlite3.Connection, kind: Kind, start: float, end: float) -> list[str]:
        first, last = int(start * 1000) // DAY_MS, int(end * 1000) // DAY_MS
        out = []
        for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB ?",
            (f"{kind.value}_[0-9]*",),
        ):
            parsed = partition_day(name)
            if parsed is not None and parsed[0] is kind and first <= parsed[1] <= last:
                out.append(name)
        return sorted(out)


Window = tuple[int, int, int]
Points = dict[str, list[SeriesPoint]]


def _typed(kind: FieldType, value: int | float | str) -> int | float | bool | str:
    if kind is FieldType.BOOL:
        return bool(value)
    if kind is FieldType.INT:
        return int(value)
    if kind is FieldType.FLOAT:
        return float(value)
    return str(value)


def _raw(
    db: sqlite3.Connection,
    kind: Kind,
    tables: list[str],
    names: list[str],
    window: Window,
    limit: int,
) -> tuple[Points, bool]:
    types = {s.name: s.type for s in FIELDS[kind]}
    columns = ", ".join(f'"{n}"' for n in names)
    out: Points = {name: [] for name in names}
    taken = 0
    for table in tables:
        rows = db.execute(
            f'SELECT ts, {columns} FROM "{table}" '  # noqa: S608
            "WHERE device_id = ? AND ts BETWEEN ? AND ? ORDER BY ts LIMIT ?",
            (*window, limit - taken + 1),
        ).fetchall()
        for ts, *values in rows:
            if taken == limit:
                return out, True
            taken += 1
            for name, value in zip(names, values, strict=True):
                if value is not None:
                    out[name].append(SeriesPoint(ts / 1000, _typed(types[name], value)))
    return out, False


def _buckets(
    db: sqlite3.Connection,
    kind: Kind,
    tables: list[str],
    names: list[str],
    window: Window,
    step_s: float,
) -> Points:
    """Per epoch-aligned bucket: mean/min/max/count of numbers and booleans, last string.
    Day tables are aggregated one by one and merged (a bucket may straddle midnight)."""
    types = {s.name: s.type for s in FIELDS[kind]}
    step_ms = max(1, round(step_s * 1000))
    numeric = [n for n in names if types[n].numeric]
    text = [n for n in names if not types[n].numeric]
    sums: dict[str, dict[int, list[float]]] = {n: {} for n in numeric}
    lasts: dict[str, dict[int, tuple[int, str]]] = {n: {} for n in text}
    for table in tables:
        if numeric:
            aggregates = ", ".join(
                f'sum("{n}"), min("{n}"), max("{n}"), count("{n}")' for n in numeric
            )
            for bucket, *values in db.execute(
                f'SELECT ts / ? * ? AS b, {aggregates} FROM "{table}" '  # noqa: S608
                "WHERE device_id = ? AND ts BETWEEN ? AND ? GROUP BY b",
                (step_ms, step_ms, *window),
            ):
                for i, name in enumerate(numeric):
                    total, low, high, count = values[4 * i : 4 * i + 4]
                    if not count:
                        continue
                    acc = sums[name].get(bucket)
                    if acc is None:
                        sums[name][bucket] = [total, low, high, count]
                    else:
                        acc[0] += total
                        acc[1] = min(acc[1], low)
                        acc[2] = max(acc[2], high)
                        acc[3] += count
        for name in text:
            for bucket, value, ts in db.execute(
                f'SELECT ts / ? * ? AS b, "{name}", max(ts) FROM "{table}" '  # noqa: S608
                f'WHERE device_id = ? AND ts BETWEEN ? AND ? AND "{name}" IS NOT NULL '
                "GROUP BY b",
                (step_ms, step_ms, *window),
            ):
                seen = lasts[name].get(bucket)
                if seen is None or ts > seen[0]:
                    lasts[name][bucket] = (ts, value)
    out: Points = {}
    for name in names:
        if name in sums:
            out[name] = [
                SeriesPoint(b / 1000, s / n, float(lo), float(hi), int(n))
                for b, (s, lo, hi, n) in sorted(sums[name].items())
            ]
        else:
            out[name] = [SeriesPoint(b / 1000, v) for b, (_, v) in sorted(lasts[name].items())]
    return out
