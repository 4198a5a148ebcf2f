"""What gets stored, for every kind (one contract suite), and its line protocol, byte for byte."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.payloads import SCHEMAS
from gateway.reading import Reading
from gateway.topics import DeviceRef, Kind
from telemetry.fields import FIELD_TYPES, FIELDS, FieldType, Value, field_row
from telemetry.lineproto import LineEncoder, escape_tag, format_field
from tests.telemetry.helpers import FULL, MINIMAL, T0, reading


def stored(kind: Kind, fields: dict[str, Any] | None = None) -> dict[str, Value]:
    ref = DeviceRef("s", kind, "d")
    row = field_row(kind, reading(ref, T0, fields).telemetry)
    return {spec.name: v for spec, v in zip(FIELDS[kind], row, strict=True) if v is not None}


PY_TYPES = {FieldType.INT: int, FieldType.FLOAT: float, FieldType.BOOL: bool, FieldType.STR: str}


@pytest.mark.parametrize("kind", list(Kind))
def test_every_payload_field_is_stored_except_ts(kind: Kind) -> None:
    """A field added to the contract without a storage type fails here, not in production."""
    assert [spec.name for spec in FIELDS[kind]] != []
    assert {spec.name for spec in FIELDS[kind]} == set(SCHEMAS[kind].model_fields) - {"ts"}


@pytest.mark.parametrize("kind", list(Kind))
def test_stored_values_have_their_declared_type(kind: Kind) -> None:
    values = stored(kind)
    assert set(values) == set(FULL[kind])  # the full payload: all present
    for name, value in values.items():
        assert type(value) is PY_TYPES[FIELD_TYPES[kind][name]], name


def test_absent_null_and_empty_fields_are_left_out() -> None:
    values = stored(Kind.ELEVATOR, MINIMAL[Kind.ELEVATOR])
    assert "occupied" not in values  # null: sensor unavailable
    assert "fault_codes" not in values  # empty list
    assert "speed_mps" not in values  # optional, absent
    assert values["mains_power"] is True  # the contract's default is a value
    line = LineEncoder().line(
        reading(DeviceRef("s", Kind.ELEVATOR, "d"), T0, MINIMAL[Kind.ELEVATOR])
    )
    assert {f.split("=")[0] for f in line.split(" ")[1].split(",")} == set(values)


def test_elevator_line_byte_for_byte() -> None:
    ref = DeviceRef("maple-court", Kind.ELEVATOR, "b1-elv-a")
    line = LineEncoder(lambda r: "b1").line(reading(ref, T0 + 0.123))
    assert line == (
        "elevator,building=b1,device=b1-elv-a,kind=elevator,site=maple-court "
        'floor=7i,moving=true,direction="up",door="closed",door_zone=false,occupied=true,'
        'alarm=false,mode="normal",mains_power=true,speed_mps=1.75,safety_circuit_ok=true,'
        'door_lock_ok=false,fault_codes="04,E12",seq=41i,battery_pct=87.5 1767225600123'
    )


def test_unregistered_device_has_no_building_tag() -> None:
    ref = DeviceRef("s", Kind.WATER_PRESSURE, "w")
    line = LineEncoder(lambda r: None).line(reading(ref, T0, {"pressure_mpa": 1}))
    assert (
        line == "water_pressure,device=w,kind=water_pressure,site=s pressure_mpa=1.0 1767225600000"
    )


def test_strings_and_tags_are_escaped() -> None:
    ref = DeviceRef("s", Kind.PATROL, "gate")
    line = LineEncoder(lambda r: "tower a,1=x").line(
        reading(ref, T0, {"guard_id": 'g "7"\\x', "tag_id": "line\nbreak"})
    )
    assert line == (
        r"patrol,building=tower\ a\,1\=x,device=gate,kind=patrol,site=s "
        r'guard_id="g \"7\"\\x",tag_id="line\nbreak" 1767225600000'
    )
    assert escape_tag("a b,c=d") == r"a\ b\,c\=d"


def test_point_time_is_observed_at_not_device_ts() -> None:
    ref = DeviceRef("s", Kind.EXTINGUISHER, "x")
    skewed = reading(ref, T0)  # device says T0 ...
    late = Reading(ref, skewed.telemetry, T0 + 3600, T0 + 3600, frozenset({"clock_skew"}))
    assert LineEncoder().line(late).endswith(f" {round((T0 + 3600) * 1000)}")


@pytest.mark.parametrize(
    ("kind", "value", "text"),
    [
        (FieldType.INT, -3, "-3i"),
        (FieldType.FLOAT, 0.1, "0.1"),
        (FieldType.FLOAT, 2, "2.0"),
        (FieldType.FLOAT, 1e-7, "1e-07"),
        (FieldType.BOOL, False, "false"),
        (FieldType.STR, "", '""'),
    ],
)
def test_field_formats(kind: FieldType, value: int | float | bool | str, text: str) -> None:
    assert format_field(kind, value) == text


def test_a_batch_is_lines_joined_by_newlines() -> None:
    ref = DeviceRef("s", Kind.EXTINGUISHER, "x")
    encoder = LineEncoder()
    readings = [reading(ref, T0 + i) for i in range(3)]
    assert encoder.lines(readings) == "\n".join(encoder.line(r) for r in readings).encode()
