"""Which telemetry fields are stored, and as what: one table for every sink.

A measurement per kind (InfluxDB measurement, embedded-store table) whose fields are the
contract's payload fields (contract §2) except ``ts``, which becomes the point's time. Numbers
stay numbers, booleans stay booleans; enumerations and identifiers (``door``, ``mode``,
``guard_id``, …) are strings, and ``fault_codes`` is its list joined with commas. A field
that is absent or null in a payload is absent from the point.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from operator import attrgetter

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


_GETTERS = {kind: attrgetter(*(spec.name for spec in specs)) for kind, specs in FIELDS.items()}
_TEXT_AT = {
    kind: [i for i, spec in enumerate(specs) if spec.type is FieldType.STR]
    for kind, specs in FIELDS.items()
}


def field_row(kind: Kind, telemetry: Telemetry) -> list[Value | None]:
    """Every field of the kind in ``FIELDS`` order, None where absent (a table row).

    On the ingest path: one ``attrgetter`` call for all fields, then only the text fields
    are touched (enumerations to their value, ``fault_codes`` joined, empty lists to None)."""
    row: list[Value | None] = list(_GETTERS[kind](telemetry))
    for i in _TEXT_AT[kind]:
        value = row[i]
        if value is not None and type(value) is not str:
            row[i] = _text(value)
    return row


def _text(value: object) -> str | None:
    if isinstance(value, list):
        return ",".join(value) if value else None
    return str(value)
