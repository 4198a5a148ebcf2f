"""Readings → InfluxDB line protocol (millisecond precision), built by hand: the client's
``Point`` objects are its slow path (python-stack-research.md §4).

``elevator,building=b1,device=b1-elv-a,kind=elevator,site=maple-court floor=3i,moving=true,…
1767225600123``: measurement per kind, tags sorted by key (InfluxData's write advice), the
point time is the reading's ``observed_at``.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter

from gateway.reading import Reading
from gateway.topics import DeviceRef, Kind
from telemetry.fields import FIELDS, FieldType, Value

BuildingOf = Callable[[DeviceRef], str | None]
_TAG_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})
_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ "})
_STRING_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n"})
_PREFIX_CACHE_MAX = 200_000


def escape_tag(value: str) -> str:
    return value.translate(_TAG_ESCAPES)


def _text(value: object) -> str | None:
    if isinstance(value, list):
        value = ",".join(value) if value else None
        if value is None:
            return None
    return '"' + str(value).translate(_STRING_ESCAPES) + '"'


_BOOLS = {True: "true", False: "false"}
_FORMAT: dict[FieldType, Callable[[object], str | None]] = {
    FieldType.BOOL: _BOOLS.__getitem__,  # type: ignore[dict-item]
    FieldType.INT: lambda v: f"{v}i",
    FieldType.FLOAT: lambda v: repr(float(v)),  # type: ignore[arg-type]
    FieldType.STR: _text,
}
# Per kind: ("name=", formatter) for each field, and one attrgetter for all the values.


def format_field(kind: FieldType, value: Value) -> str:
    """A field value in line protocol: ``3i``, ``1.5``, ``true``, ``"text"``."""
    return _FORMAT[kind](value) or '""'


_PLANS: dict[Kind, list[tuple[str, Callable[[object], str | None]]]] = {
    kind: [(spec.name + "=", _FORMAT[spec.type]) for spec in specs]
    for kind, specs in FIELDS.items()
}
_GETTERS = {kind: attrgetter(*(spec.name for spec in specs)) for kind, specs in FIELDS.items()}


class LineEncoder:
    """One line per reading. Tag prefixes are cached per device (the building comes from the
    device registry and is left out for unregistered devices)."""

    def __init__(self, building_of: BuildingOf | None = None) -> None:
        self._building_of = building_of
        self._prefixes: dict[tuple[DeviceRef, str | None], str] = {}

    def prefix(self, ref: DeviceRef) -> str:
        building = self._building_of(ref) if self._building_of else None
        key = (ref, building)
        cached = self._prefixes.get(key)
        if cached is not None:
            return cached
        tags = [("building", building), ("device", ref.device), ("kind", ref.kind.value)]
        tags.append(("site", ref.site))
        text = ref.kind.value.translate(_MEASUREMENT_ESCAPES) + "".join(
            f",{k}={escape_tag(v)}" for k, v in tags if v
        )
        if len(self._prefixes) >= _PREFIX_CACHE_MAX:
            self._prefixes.clear()
        self._prefixes[key] = text
        return text

    def line(self, reading: Reading) -> str:
        kind = reading.ref.kind
        fields = []
        for (key, fmt), value in zip(_PLANS[kind], _GETTERS[kind](reading.telemetry), strict=True):
            if value is not None:
                text = fmt(value)
                if text is not None:
                    fields.append(key + text)
        return f"{self.prefix(reading.ref)} {','.join(fields)} {round(reading.observed_at * 1000)}"

    def lines(self, readings: list[Reading]) -> bytes:
        return "\n".join([self.line(r) for r in readings]).encode()
