"""Sensor health for every kind: SEN-01 device offline (Last Will or silence)."""

from __future__ import annotations

from dataclasses import dataclass

from rules.condition import Rule
from rules.decision import Category, Priority


@dataclass(slots=True)
class HealthView:
    will_offline: bool = False
    """The device's status topic says ``offline`` (its Last Will, or a clean goodbye)."""
    silent_for_s: float = 0.0
    silence_limit_s: float | None = None


def offline(v: HealthView) -> float | None:
    if v.will_offline:
        return 0.0
    if v.silence_limit_s is not None and v.silent_for_s > v.silence_limit_s:
        return 0.0
    return None


HEALTH_RULES: tuple[Rule[HealthView], ...] = (
    Rule(
        id="device.offline",
        group="offline",
        priority=Priority.GENERAL,
        category=Category.FACILITY,
        title="Device offline",
        condition="status topic says offline (Last Will), or no message for longer than the "
        "kind's silence limit",
        holds=offline,
        auto_resolve=True,
        source="SEN-01; MQTT Last Will, 1.5× keep-alive",
    ),
)
