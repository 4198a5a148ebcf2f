"""Timeline helpers for rule tests: a fake clock, an engine, readings built from a few fields."""

from __future__ import annotations

from typing import Any

from gateway.payloads import ElevatorTelemetry
from gateway.reading import Reading, StatusChange
from gateway.topics import DeviceRef, Kind
from rules.decision import Action, Decision
from rules.engine import RulesEngine
from steward.clock import FakeClock
from steward.site import DeviceRegistry, RulesConfig, StewardConfig

ELEVATOR = DeviceRef("test-site", Kind.ELEVATOR, "elv-1")

IDLE_AT_LANDING: dict[str, Any] = {
    "floor": 3,
    "moving": False,
    "direction": "none",
    "door": "closed",
    "door_zone": True,
    "occupied": False,
    "alarm": False,
    "mode": "normal",
    "mains_power": True,
}


class Timeline:
    """``at(t, **fields)`` publishes an elevator reading at t seconds; ``tick(t)`` only moves
    the clock. Both return the decisions made at that moment."""

    def __init__(self, config: RulesConfig | None = None, ref: DeviceRef = ELEVATOR) -> None:
        self.clock = FakeClock()
        self.t0 = self.clock.now()
        self.ref = ref
        self.engine = RulesEngine(
            DeviceRegistry(StewardConfig()), config or RulesConfig(), self.clock
        )
        self.fields = dict(IDLE_AT_LANDING)
        self.decisions: list[Decision] = []

    def _go(self, t: float) -> None:
        target = self.t0 + t
        assert target >= self.clock.now(), "timelines only move forward"
        self.clock.set(target)

    def at(self, t: float, **fields: Any) -> list[Decision]:
        self._go(t)
        self.fields.update(fields)
        now = self.clock.now()
        telemetry = ElevatorTelemetry.model_validate({"ts": int(now * 1000), **self.fields})
        out = self.engine.on_reading(Reading(self.ref, telemetry, now, now))
        self.decisions += out
        return out

    def tick(self, t: float) -> list[Decision]:
        self._go(t)
        out = self.engine.tick()
        self.decisions += out
        return out

    def every(self, start: float, end: float, step: float = 1.0, **fields: Any) -> list[Decision]:
        """Readings every ``step`` seconds from start to end (inclusive) with these fields."""
        out: list[Decision] = []
        t = start
        while t <= end + 1e-9:
            out += self.at(t, **fields)
            fields = {}
            t += step
        return out

    def status(self, t: float, online: bool) -> list[Decision]:
        self._go(t)
        out = self.engine.on_status(StatusChange(self.ref, online, self.clock.now()))
        self.decisions += out
        return out


def fired(decisions: list[Decision]) -> list[str]:
    return [d.rule for d in decisions if d.action is Action.FIRE]


def cleared(decisions: list[Decision]) -> list[str]:
    return [d.rule for d in decisions if d.action is Action.CLEAR]
