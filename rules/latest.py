"""A device's latest reading as the rule state keeps it: its values in slots, not the model.

Every tracked device keeps its latest reading for the whole run: the kind's view reads it,
device time comes from it, and the API, a decision's evidence and a saved dwell show it. A
validated pydantic telemetry model costs ~0.55 KiB for an elevator (the object and its
``__dict__``, 16 fields). So the engine keeps a ``KeptReading`` instead (``keep``): a
``Reading`` of the kind's class (``ElevatorRecord``, ...) that holds the model's values in
slots, 216 bytes for an elevator. The views read those slots (faster than a model's fields),
and ``telemetry`` makes the model again when asked (``model_construct``: the values were
validated already, and the set of fields the payload gave is kept, so ``exclude_unset`` gives
what it gave).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, cast

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

_NO_CODES: tuple[str, ...] = ()


class KeptReading(Reading):
    """A ``Reading`` that holds its telemetry's values, not the model: ``telemetry`` makes
    the model on each use (the API, a decision's evidence, a saved dwell: rare). Made only by
    ``keep`` and never changed after; copies and pickles are plain ``Reading``s."""

    __slots__ = ("fields_set",)
    fields_set: set[str]
    """The model's ``model_fields_set`` (one set shared by readings alike: the decoder's)."""
    # Writable, so that ``keep`` sets the slots with plain stores: a frozen dataclass's
    # ``__setattr__`` is Python code (~1 µs for six fields). Both or neither: they share one
    # type slot.
    __setattr__ = object.__setattr__
    __delattr__ = object.__delattr__

    @property
    def telemetry(self) -> Telemetry:  # the base's slot stays empty
        return model_of(self)

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


class ElevatorRecord(KeptReading):
    """An elevator's latest reading: ``ElevatorTelemetry``'s fields."""

    __slots__ = (
        "alarm",
        "battery_pct",
        "direction",
        "door",
        "door_lock_ok",
        "door_zone",
        "fault_codes",
        "floor",
        "mains_power",
        "mode",
        "moving",
        "occupied",
        "safety_circuit_ok",
        "seq",
        "speed_mps",
        "ts",
    )
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
    fault_codes: Sequence[str]
    """The model's list, or one shared empty tuple for none (the model gets a new list)."""


class WaterRecord(KeptReading):
    __slots__ = ("battery_pct", "current_ma", "pressure_mpa", "seq", "ts")
    ts: datetime | int
    seq: int | None
    battery_pct: float | None
    pressure_mpa: float
    current_ma: float | None


class ExtinguisherRecord(KeptReading):
    __slots__ = ("battery_pct", "on_bracket", "pressure_mpa", "seq", "tilt_deg", "ts")
    ts: datetime | int
    seq: int | None
    battery_pct: float | None
    pressure_mpa: float
    on_bracket: bool | None
    tilt_deg: float | None


class PatrolRecord(KeptReading):
    __slots__ = ("battery_pct", "guard_id", "seq", "tag_id", "ts")
    ts: datetime | int
    seq: int | None
    battery_pct: float | None
    guard_id: str
    tag_id: str | None


# The values, set slot by slot with plain stores (faster than any generic loop).
def _elevator(k: Any, d: dict[str, Any]) -> None:
    k.ts, k.seq, k.battery_pct = d["ts"], d["seq"], d["battery_pct"]
    k.floor, k.moving, k.direction = d["floor"], d["moving"], d["direction"]
    k.door, k.door_zone, k.occupied = d["door"], d["door_zone"], d["occupied"]
    k.alarm, k.mode, k.mains_power = d["alarm"], d["mode"], d["mains_power"]
    k.speed_mps = d["speed_mps"]
    k.safety_circuit_ok, k.door_lock_ok = d["safety_circuit_ok"], d["door_lock_ok"]
    k.fault_codes = d["fault_codes"] or _NO_CODES  # an empty list is 56 bytes


def _water(k: Any, d: dict[str, Any]) -> None:
    k.ts, k.seq, k.battery_pct = d["ts"], d["seq"], d["battery_pct"]
    k.pressure_mpa, k.current_ma = d["pressure_mpa"], d["current_ma"]


def _extinguisher(k: Any, d: dict[str, Any]) -> None:
    k.ts, k.seq, k.battery_pct = d["ts"], d["seq"], d["battery_pct"]
    k.pressure_mpa, k.on_bracket, k.tilt_deg = d["pressure_mpa"], d["on_bracket"], d["tilt_deg"]


def _patrol(k: Any, d: dict[str, Any]) -> None:
    k.ts, k.seq, k.battery_pct = d["ts"], d["seq"], d["battery_pct"]
    k.guard_id, k.tag_id = d["guard_id"], d["tag_id"]


RECORDS: dict[type[BaseModel], tuple[type[KeptReading], Callable[[Any, dict[str, Any]], None]]] = {
    ElevatorTelemetry: (ElevatorRecord, _elevator),
    WaterPressureTelemetry: (WaterRecord, _water),
    ExtinguisherTelemetry: (ExtinguisherRecord, _extinguisher),
    PatrolTelemetry: (PatrolRecord, _patrol),
}
"""Telemetry model → the kind's ``KeptReading`` class and what sets its values."""
_MODELS: dict[type[KeptReading], tuple[type[BaseModel], tuple[str, ...]]] = {
    record: (model, tuple(model.model_fields)) for model, (record, _) in RECORDS.items()
}


def model_of(kept: KeptReading) -> Telemetry:
    """The telemetry model again, equal to the one ``kept`` was made from (with the set of
    fields its payload gave)."""
    model, fields = _MODELS[type(kept)]
    values = {name: getattr(kept, name) for name in fields}
    if "fault_codes" in values:
        values["fault_codes"] = list(values["fault_codes"])  # the model's own list
    return cast(Telemetry, model.model_construct(kept.fields_set, **values))


def keep(reading: Reading, _new: Any = object.__new__) -> KeptReading:
    """What the rule state keeps of ``reading``. On every reading, so written for speed."""
    if isinstance(reading, KeptReading):
        return reading
    t = reading.telemetry
    cls, set_values = RECORDS[type(t)]
    kept: Any = _new(cls)
    kept.ref = reading.ref
    kept.received_at = reading.received_at
    kept.observed_at = reading.observed_at
    kept.flags = reading.flags
    kept.registered = reading.registered
    kept.fields_set = t.__pydantic_fields_set__
    set_values(kept, t.__dict__)
    return cast(KeptReading, kept)
