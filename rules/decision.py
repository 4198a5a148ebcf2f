"""What the rules tell the ticket store: a condition started firing, or it cleared."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from gateway.topics import DeviceRef


class Priority(StrEnum):
    EMERGENCY = "emergency"
    IMPORTANT = "important"
    GENERAL = "general"


class Category(StrEnum):
    FACILITY = "facility"
    SERVICE = "service"
    FEE = "fee"
    OTHER = "other"


class Action(StrEnum):
    FIRE = "fire"
    CLEAR = "clear"


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    rule: str
    """Rule id, e.g. ``elevator.entrapment``."""
    ref: DeviceRef
    at: float
    """When the decision was made (epoch seconds, injected clock)."""
    priority: Priority
    category: Category
    title: str
    description: str
    dedup_key: str
    """One active ticket per key: related rules (entrapment, alarm button) share one."""
    evidence: dict[str, Any] = field(default_factory=dict)
    building: str | None = None
    location: str | None = None
    auto_resolve: bool = False
    """On CLEAR: resolve the ticket by itself (e.g. device back online) instead of waiting
    for a person to confirm (an entrapment ends only when someone on site says so)."""


def dedup_key(ref: DeviceRef, group: str) -> str:
    return f"{ref.site}/{ref.kind.value}/{ref.device}/{group}"
