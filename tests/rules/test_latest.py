"""The rule state keeps a device's latest reading as its values (rules/latest.py): what it
gives back (``telemetry``, equality, copies, a saved dwell) is what the reading it was made
from gives."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import Any, cast

import pytest

from gateway.payloads import SCHEMAS, ElevatorTelemetry, Telemetry
from gateway.reading import Reading
from gateway.topics import Kind
from rules.latest import RECORDS, ElevatorRecord, KeptReading, keep, model_of
from steward.dwells import reading_to_json
from tests.rules.helpers import CHECKPOINT, ELEVATOR, EXTINGUISHER, WATER, Timeline

REFS = {Kind.ELEVATOR: ELEVATOR, Kind.WATER_PRESSURE: WATER}
REFS.update({Kind.EXTINGUISHER: EXTINGUISHER, Kind.PATROL: CHECKPOINT})

PAYLOADS: list[tuple[Kind, bytes]] = [
    # every field, epoch-ms ts
    (
        Kind.ELEVATOR,
        b'{"ts":1767225600000,"seq":7,"battery_pct":80.5,"floor":3,"moving":true,'
        b'"direction":"up","door":"closed","door_zone":false,"occupied":true,"alarm":false,'
        b'"mode":"normal","mains_power":true,"speed_mps":1.2,"safety_circuit_ok":true,'
        b'"door_lock_ok":true,"fault_codes":["06","11"]}',
    ),
    # only what is required, an RFC 3339 ts, a field the schema does not know, out of order
    (
        Kind.ELEVATOR,
        b'{"mode":"inspection","floor":-1,"ts":"2026-01-01T08:00:00+08:00","moving":false,'
        b'"direction":"none","door":"open","door_zone":true,"occupied":null,"alarm":true,'
        b'"firmware":"1.2"}',
    ),
    (Kind.WATER_PRESSURE, b'{"ts":1767225600000,"pressure_mpa":0.31}'),
    (Kind.WATER_PRESSURE, b'{"current_ma":3.1,"ts":1767225600000,"seq":0,"pressure_mpa":-0.1}'),
    (Kind.EXTINGUISHER, b'{"ts":1767225600000,"pressure_mpa":1.2,"tilt_deg":3.5}'),
    (
        Kind.EXTINGUISHER,
        b'{"ts":1767225600000,"pressure_mpa":0.2,"on_bracket":false,"battery_pct":9}',
    ),
    (Kind.PATROL, b'{"ts":1767225600000,"guard_id":"g-7"}'),
    (Kind.PATROL, b'{"tag_id":"t-1","ts":1767225600000,"guard_id":"g-7","seq":3}'),
]


def reading(kind: Kind, payload: bytes, **kw: Any) -> Reading:
    telemetry: Any = SCHEMAS[kind].model_validate_json(payload)
    return Reading(REFS[kind], telemetry, 1_767_225_601.0, 1_767_225_600.5, **kw)


def test_each_kind_keeps_its_models_fields() -> None:
    for model, (record, _) in RECORDS.items():
        assert set(record.__slots__) == set(model.model_fields)
        assert not set(record.__slots__) & {f.name for f in dataclasses.fields(Reading)}
    assert set(RECORDS) == set(SCHEMAS.values())


@pytest.mark.parametrize(("kind", "payload"), PAYLOADS)
def test_a_validated_models_dict_holds_every_field(kind: Kind, payload: bytes) -> None:
    """What ``keep`` relies on, validated from JSON and from Python alike."""
    fields = set(SCHEMAS[kind].model_fields)
    model = SCHEMAS[kind].model_validate_json(payload)
    assert set(model.__dict__) == fields
    again = SCHEMAS[kind].model_validate(model.model_dump(exclude_unset=True))
    assert set(again.__dict__) == fields


@pytest.mark.parametrize(("kind", "payload"), PAYLOADS)
def test_the_kept_reading_gives_back_the_same_telemetry(kind: Kind, payload: bytes) -> None:
    original = reading(kind, payload, flags=frozenset({"clock_skew"}), registered=False)
    kept = keep(original)
    assert type(kept) is RECORDS[type(original.telemetry)][0]
    t: Telemetry = kept.telemetry
    assert type(t) is type(original.telemetry)
    assert t == original.telemetry
    assert t.model_fields_set == original.telemetry.model_fields_set
    for mode in ("python", "json"):
        for unset in (False, True):
            assert t.model_dump(mode=mode, exclude_unset=unset) == (
                original.telemetry.model_dump(mode=mode, exclude_unset=unset)
            )
    assert t.model_dump_json() == original.telemetry.model_dump_json()
    assert reading_to_json(kept) == reading_to_json(original)  # a saved dwell
    assert model_of(kept) == original.telemetry
    assert t is not kept.telemetry  # made on each use, nothing kept
    for name, value in original.telemetry:  # fault codes: () for none
        assert getattr(kept, name) == (value or () if name == "fault_codes" else value)
    for name in ("ref", "received_at", "observed_at", "flags", "registered"):
        assert getattr(kept, name) == getattr(original, name)


def test_a_kept_reading_equals_its_reading_and_copies_as_a_plain_one() -> None:
    original = reading(*PAYLOADS[0])
    kept = keep(original)
    assert kept == original
    assert original == kept
    assert (kept != original) is False
    assert kept != keep(reading(*PAYLOADS[1]))
    assert keep(kept) is kept
    for clone in (copy.copy(kept), copy.deepcopy(kept), pickle.loads(pickle.dumps(kept))):
        assert type(clone) is Reading
        assert clone == original
    water = reading(*PAYLOADS[2])
    assert hash(keep(water)) == hash(water)


def test_the_engine_keeps_records_not_models() -> None:
    tl = Timeline()
    tl.at(0, moving=True, direction="up", door_zone=False, occupied=True, fault_codes=["06"])
    tl.water(1, 0.3)
    tl.extinguisher(2, 1.2)
    tl.scan(3)
    tl.at(4, moving=False, direction="none", door_zone=True)
    for ref in (ELEVATOR, WATER, EXTINGUISHER, CHECKPOINT):
        state = tl.engine.devices[ref.key]
        kept = state.reading
        assert isinstance(kept, KeptReading)
        assert type(kept) is RECORDS[type(kept.telemetry)][0]
        view_reading = state.view.last if ref is CHECKPOINT else state.view.t
        assert view_reading is kept
    elevator = tl.engine.devices[ELEVATOR.key].reading
    assert elevator is not None
    assert elevator.telemetry.model_dump(exclude_unset=True) == {
        "ts": int((tl.t0 + 4) * 1000),
        **tl.fields,
    }


def test_no_fault_codes_share_one_empty_tuple_and_the_model_gets_its_own_list() -> None:
    no_codes = [cast(ElevatorRecord, keep(reading(*PAYLOADS[1]))) for _ in range(2)]
    assert no_codes[0].fault_codes == () and no_codes[0].fault_codes is no_codes[1].fault_codes
    models = [cast(ElevatorTelemetry, kept.telemetry) for kept in no_codes]
    assert models[0].fault_codes == [] and models[0].fault_codes is not models[1].fault_codes
    codes = cast(ElevatorRecord, keep(reading(*PAYLOADS[0])))
    assert codes.fault_codes == ["06", "11"]
    assert cast(ElevatorTelemetry, codes.telemetry).fault_codes == ["06", "11"]
