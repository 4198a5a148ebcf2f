"""What a readings query returns, shared by the embedded store and the Flux reader."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from gateway.topics import Kind
from telemetry.fields import FIELDS, Value

_STEP = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
MIN_STEP_S = 0.001


class QueryError(ValueError):
    """A request the store cannot answer as asked (unknown field, bad window or step)."""


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    t: float
    """Epoch seconds: the reading's time, or the start of its ``step`` bucket."""
    value: Value | None
    """Raw value; per bucket the mean (booleans: the share of true) or, for strings, the last."""
    min: float | None = None
    max: float | None = None
    count: int | None = None


@dataclass(frozen=True)
class DeviceSeries:
    site: str
    device: str
    kind: str | None
    """None when the store has nothing from this device."""
    start: float
    end: float
    step_s: float | None
    fields: dict[str, list[SeriesPoint]] = field(default_factory=dict)
    truncated: bool = False


def parse_step(text: str) -> float:
    """``"60"`` (seconds), ``"500ms"``, ``"30s"``, ``"5m"``, ``"1h"``, ``"1d"`` → seconds."""
    match = _STEP.match(text.strip())
    if match is None:
        raise QueryError(f"step {text!r}: expected a number of seconds or e.g. 30s, 5m, 1h, 1d")
    seconds = float(match.group(1)) * _UNIT_S[match.group(2) or "s"]
    if seconds < MIN_STEP_S:
        raise QueryError(f"step {text!r} is below 1ms")
    return seconds


def resolve_fields(kind: Kind, requested: Sequence[str] | None) -> list[str]:
    """The requested fields of this kind in the order asked (all of them when none asked)."""
    known = [spec.name for spec in FIELDS[kind]]
    if not requested:
        return known
    unknown = [name for name in requested if name not in known]
    if unknown:
        raise QueryError(
            f"{kind.value} has no field {', '.join(unknown)}; fields: {', '.join(known)}"
        )
    return list(dict.fromkeys(requested))


def check_window(start: float, end: float, step_s: float | None, max_buckets: int) -> None:
    if end < start:
        raise QueryError("'from' is after 'to'")
    if step_s is not None and (end - start) / step_s > max_buckets:
        raise QueryError(
            f"{(end - start) / step_s:.0f} buckets of {step_s:g}s: at most {max_buckets}; "
            "use a larger step or a shorter window"
        )
