"""The embedded store's layout: a table per kind and UTC day, named ``<kind>_<yyyymmdd>``."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.topics import Kind
from telemetry.fields import FieldType

DAY_MS = 86_400_000
KINDS = {k.value: k for k in Kind}
SQL_TYPES = {
    FieldType.INT: "INTEGER",
    FieldType.BOOL: "INTEGER",
    FieldType.FLOAT: "REAL",
    FieldType.STR: "TEXT",
}


def partition_name(kind: Kind, day: int) -> str:
    """``elevator_20260101`` for the UTC day number ``day`` (days since the epoch)."""
    return f"{kind.value}_{datetime.fromtimestamp(day * 86400, tz=UTC):%Y%m%d}"


def partition_day(name: str) -> tuple[Kind, int] | None:
    kind, _, stamp = name.rpartition("_")
    if kind not in KINDS or len(stamp) != 8 or not stamp.isdigit():
        return None
    when = datetime.strptime(stamp, "%Y%m%d").replace(tzinfo=UTC)
    return KINDS[kind], int(when.timestamp()) // 86400
