"""Which telemetry fields are stored, and as what: one table for every sink.

A measurement per kind (InfluxDB measurement, embedded-store table) whose fields are the
contract's payload fields (contract §2) except ``ts``, which becomes the point's time. Numbers
stay numbers, booleans stay booleans; enumerations and identifiers (``door``, ``mode``,
``guard_id``, …) are strings, and ``fault_codes`` is its list joined with commas. A field
that is absent or null in a payload is absent from the point.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from gateway.payloads import Telemetry
from gateway.topics import Kind


class FieldType(StrEnum):
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    STR = "str"

    @property
    def numeric(self) -> bool:
        """Can be averaged (booleans average to the share of time they were true)."""
        return self is not FieldType.STR


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    type: FieldType


Value = int | float | bool | str

_I, _F, _B, _S = FieldType.INT, FieldType.FLOAT, FieldType.BOOL, FieldType.STR
_COMMON = (FieldSpec("seq", _I), FieldSpec("battery_pct", _F))

FIELDS: dict[Kind, tuple[FieldSpec, ...]] = {
    Kind.ELEVATOR: (
        FieldSpec("floor", _I),
        FieldSpec("moving", _B),
        FieldSpec("direction", _S),
        FieldSpec("door", _S),
        FieldSpec("door_zone", _B),
        FieldSpec("occupied", _B),
        FieldSpec("alarm", _B),
        FieldSpec("mode", _S),
        FieldSpec("mains_power", _B),
        FieldSpec("speed_mps", _F),
        FieldSpec("safety_circuit_ok", _B),
        FieldSpec("door_lock_ok", _B),
        FieldSpec("fault_codes", _S),
        *_COMMON,
    ),
    Kind.WATER_PRESSURE: (FieldSpec("pressure_mpa", _F), FieldSpec("current_ma", _F), *_COMMON),
    Kind.EXTINGUISHER: (
        FieldSpec("pressure_mpa", _F),
        FieldSpec("on_bracket", _B),
        FieldSpec("tilt_deg", _F),
        *_COMMON,
    ),
    Kind.PATROL: (FieldSpec("guard_id", _S), FieldSpec("tag_id", _S), *_COMMON),
}

FIELD_TYPES: dict[Kind, dict[str, FieldType]] = {
    kind: {spec.name: spec.type for spec in specs} for kind, specs in FIELDS.items()
}
STRING_FIELDS = frozenset(
    spec.name for specs in FIELDS.values() for spec in specs if spec.type is FieldType.STR
)


def field_values(kind: Kind, telemetry: Telemetry) -> Iterator[tuple[FieldSpec, Value]]:
    """The stored fields of one payload, in ``FIELDS`` order, skipping absent ones."""
    for spec, value in zip(FIELDS[kind], field_row(kind, telemetry), strict=True):
        if value is not None:
            yield spec, value


def field_row(kind: Kind, telemetry: Telemetry) -> list[Value | None]:
    """Every field of the kind in ``FIELDS`` order, None where absent (a table row)."""
    row: list[Value | None] = []
    for spec in FIELDS[kind]:
        value = getattr(telemetry, spec.name)
        row.append(_text(value) if spec.type is FieldType.STR else value)
    return row


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return ",".join(value) if value else None
    return str(value)
