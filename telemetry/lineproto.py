"""Readings → InfluxDB line protocol (millisecond precision), built by hand: the client's
``Point`` objects are its slow path (python-stack-research.md §4).

``elevator,building=b1,device=b1-elv-a,kind=elevator,site=maple-court floor=3i,moving=true,…
1767225600123``: measurement per kind, tags sorted by key (InfluxData's write advice), the
point time is the reading's ``observed_at``.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.reading import Reading
from gateway.topics import DeviceRef
from telemetry.fields import FieldType, Value, field_values

BuildingOf = Callable[[DeviceRef], str | None]
_TAG_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})
_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ "})
_STRING_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n"})
_PREFIX_CACHE_MAX = 200_000


def escape_tag(value: str) -> str:
    return value.translate(_TAG_ESCAPES)


def format_field(kind: FieldType, value: Value) -> str:
    if kind is FieldType.BOOL:
        return "true" if value else "false"
    if kind is FieldType.INT:
        return f"{int(value)}i"
    if kind is FieldType.FLOAT:
        return repr(float(value))
    return '"' + str(value).translate(_STRING_ESCAPES) + '"'


def timestamp_ms(reading: Reading) -> int:
    return round(reading.observed_at * 1000)


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
        fields = ",".join(
            f"{spec.name}={format_field(spec.type, value)}"
            for spec, value in field_values(reading.ref.kind, reading.telemetry)
        )
        return f"{self.prefix(reading.ref)} {fields} {timestamp_ms(reading)}"

    def lines(self, readings: list[Reading]) -> bytes:
        return "\n".join([self.line(r) for r in readings]).encode()
