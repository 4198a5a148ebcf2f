"""A QoS 1 backlog replayed after an outage is judged in device time, not against the wall
clock: what happened in it keeps its real timing."""

from __future__ import annotations

from typing import Any

from gateway.payloads import ElevatorTelemetry
from gateway.reading import Reading
from rules.decision import Decision
from rules.engine import RulesEngine
from steward.clock import FakeClock
from steward.site import DeviceRegistry, RulesConfig, StewardConfig
from tests.rules.helpers import ELEVATOR, IDLE_AT_LANDING, fired


class Replay:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.t0 = self.clock.now()
        self.engine = RulesEngine(DeviceRegistry(StewardConfig()), RulesConfig(), self.clock)
        self.decisions: list[Decision] = []

    def deliver(self, observed: float, **fields: Any) -> None:
        """A reading observed at t0 + ``observed``, delivered now."""
        at = self.t0 + observed
        t = ElevatorTelemetry.model_validate({"ts": int(at * 1000), **IDLE_AT_LANDING, **fields})
        now = self.clock.now()
        self.decisions += self.engine.on_reading(Reading(ELEVATOR, t, now, at))

    def tick(self) -> None:
        self.decisions += self.engine.tick()


def test_a_door_that_closed_5s_later_in_the_backlog_is_no_door_fault() -> None:
    r = Replay()
    r.clock.advance(600)  # Steward was away for 10 minutes; the readings waited at the broker
    r.deliver(0, door="open")
    r.tick()  # a tick between two replayed readings
    r.deliver(5, door="closed")
    r.tick()
    assert fired(r.decisions) == []


def test_an_entrapment_that_lasted_in_the_backlog_fires_on_replay() -> None:
    r = Replay()
    r.clock.advance(600)
    trapped = {"moving": False, "door": "closed", "door_zone": False, "occupied": True}
    for second in range(0, 45, 5):
        r.deliver(second, **trapped)
    assert fired(r.decisions) == ["elevator.entrapment"]


def test_after_the_backlog_the_dwell_runs_on_from_the_last_replayed_reading() -> None:
    r = Replay()
    r.clock.advance(600)
    r.deliver(0, moving=False, door="closed", door_zone=False, occupied=True)
    r.tick()
    assert fired(r.decisions) == []  # 0 s held in device time, though 600 s late
    r.clock.advance(29)
    r.tick()
    assert fired(r.decisions) == []
    r.clock.advance(1)
    r.tick()
    assert fired(r.decisions) == ["elevator.entrapment"]
