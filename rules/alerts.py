"""What ``GET /alerts`` shows: a condition firing now."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.topics import DeviceRef


@dataclass(frozen=True, slots=True)
class Alert:
    ref: DeviceRef
    rule: str
    priority: str
    title: str
    since: float | None
    fired_at: float | None
    building: str | None
    location: str
    dedup_key: str
    """The key of the ticket this condition belongs to."""
