"""A device's latest reading as the rule state keeps it: a compact record, not the model.

Every tracked device keeps its latest reading for the whole run: the kind's view reads it,
device time comes from it, and the API, a decision's evidence and a saved dwell show it. A
validated pydantic telemetry model costs ~0.55 KiB for an elevator (the object and its
``__dict__``, 16 fields); the same values in a named tuple cost 168 bytes. So the engine keeps
the model's values as a record, which the views read, in a ``KeptReading`` (``keep``), whose
``telemetry`` makes the model again when asked (``model_construct``: the values were
validated already, and the set of fields the payload gave is kept, so ``exclude_unset`` gives
what it gave). Reading a record's field is also faster than reading a model's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple, cast

from pydantic import BaseModel

from gateway.payloads import (
    Door,
    ElevatorTelemetry,
    ExtinguisherTelemetry,
    Mode,
    PatrolTelemetry,
    Telemetry,
    WaterPressureTelemetry,
)
from gateway.reading import Reading


class ElevatorRecord(NamedTuple):
    """``ElevatorTelemetry``'s values, in its fields' order (so for each record)."""

    ts: datetime | int
    seq: int | None
    battery_pct: float | None
    floor: int
    moving: bool
    direction: str
    door: Door
    door_zone: bool
    occupied: bool | None
    alarm: bool
    mode: Mode
    mains_power: bool
    speed_mps: float | None
    safety_circuit_ok: bool | None
    door_lock_ok: bool | None
    fault_codes: list[str]


class WaterRecord(NamedTuple):
    ts: datetime | int
    seq: int | None
    battery_pct: float | None
    pressure_mpa: float
    current_ma: float | None


class ExtinguisherRecord(NamedTuple):
    ts: datetime | int
    seq: int | None
    battery_pct: float | None
    pressure_mpa: float
    on_bracket: bool | None
    tilt_deg: float | None


class PatrolRecord(NamedTuple):
    ts: datetime | int
    seq: int | None
    battery_pct: float | None
    guard_id: str
    tag_id: str | None


Record = ElevatorRecord | WaterRecord | ExtinguisherRecord | PatrolRecord

RECORDS: dict[type[BaseModel], type[Any]] = {
    ElevatorTelemetry: ElevatorRecord,
    WaterPressureTelemetry: WaterRecord,
    ExtinguisherTelemetry: ExtinguisherRecord,
    PatrolTelemetry: PatrolRecord,
}
_MODELS: dict[type[Any], type[BaseModel]] = {record: model for model, record in RECORDS.items()}


def compact(t: Telemetry) -> Record:
    """The model's values as its kind's record. A validated model's ``__dict__`` holds every
    field, in the model's order (pydantic builds it so; tests/rules/test_latest.py checks)."""
    record: Record = tuple.__new__(RECORDS[type(t)], t.__dict__.values())
    return record


def model_of(record: Record, fields_set: set[str]) -> Telemetry:
    """The telemetry model again, equal to the one the record was made from (with the set of
    fields its payload gave)."""
    model = _MODELS[type(record)].model_construct(fields_set, **record._asdict())
    return cast(Telemetry, model)


class KeptReading(Reading):
    """A ``Reading`` that holds the record, not the model: ``telemetry`` makes the model on
    each use (the API, a decision's evidence, a saved dwell: rare). Made only by ``keep`` and
    never changed after; copies and pickles are plain ``Reading``s."""

    __slots__ = ("fields_set", "record")
    record: Record
    fields_set: set[str]
    """The model's ``model_fields_set`` (one set shared by readings alike: the decoder's)."""
    # Writable, so that ``keep`` sets the slots with plain stores: a frozen dataclass's
    # ``__setattr__`` is Python code (~1 µs for six fields). Both or neither: they share one
    # type slot.
    __setattr__ = object.__setattr__
    __delattr__ = object.__delattr__

    @property
    def telemetry(self) -> Telemetry:  # the base's slot stays empty
        return model_of(self.record, self.fields_set)

    def _values(self) -> tuple[Any, ...]:
        return (
            self.ref,
            self.telemetry,
            self.received_at,
            self.observed_at,
            self.flags,
            self.registered,
        )

    def __eq__(self, other: object) -> bool:
        """Equal to a ``Reading`` with the same values (the dataclass's asks the same class)."""
        if not isinstance(other, Reading):
            return NotImplemented
        return self._values() == (
            other.ref,
            other.telemetry,
            other.received_at,
            other.observed_at,
            other.flags,
            other.registered,
        )

    __hash__ = Reading.__hash__

    def __reduce__(self) -> tuple[Any, ...]:
        return Reading, self._values()


def keep(reading: Reading, _new: Any = object.__new__) -> KeptReading:
    """What the rule state keeps of ``reading``. On every reading, so written for speed."""
    if type(reading) is KeptReading:
        return reading
    t = reading.telemetry
    kept: Any = _new(KeptReading)
    kept.ref = reading.ref
    kept.record = tuple.__new__(RECORDS[type(t)], t.__dict__.values())  # compact(t)
    kept.fields_set = t.__pydantic_fields_set__
    kept.received_at = reading.received_at
    kept.observed_at = reading.observed_at
    kept.flags = reading.flags
    kept.registered = reading.registered
    return cast(KeptReading, kept)
