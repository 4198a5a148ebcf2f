"""Rule behaviour the scenario work ran into that looked wrong, each as a precise input
through the real decoder and rules engine with what we expect. They were strict xfails until
the rules were fixed; a new finding goes here the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from gateway.decode import Decoder
from gateway.reading import Reading
from gateway.topics import DeviceRef, Kind, telemetry_topic
from rules.decision import Action
from rules.engine import RulesEngine
from steward.clock import FakeClock
from steward.site import DeviceRegistry, StewardConfig
from tests.scenarios.harness import START

MINUTE = 60.0


class Probe:
    """One device of one site through the decoder and the engine, a reading at a time."""

    def __init__(self, kind: Kind, params: dict[str, object]) -> None:
        device = {"id": "d1", "kind": kind.value, "params": params}
        config = StewardConfig.model_validate(
            {"sites": [{"id": "probe", "buildings": [{"id": "b1", "devices": [device]}]}]}
        )
        self.ref = DeviceRef("probe", kind, "d1")
        self.clock = FakeClock(START)
        registry = DeviceRegistry(config)
        self.decoder = Decoder(registry)
        self.engine = RulesEngine(registry, config.rules, self.clock)
        self.seq = 0
        self.fired: list[str] = []

    def send(self, at: float, **fields: object) -> None:
        self.tick_until(at)
        payload = {"ts": round(at * 1000), "seq": self.seq, **fields}
        self.seq += 1
        decoded = self.decoder.decode(telemetry_topic(self.ref), orjson.dumps(payload), at)
        assert isinstance(decoded, Reading), decoded
        self._note(self.engine.on_reading(decoded))

    def tick_until(self, at: float) -> None:
        while self.clock.now() + 1 <= at:
            self.clock.advance(1)
            self._note(self.engine.tick())
        self.clock.set(at)

    def _note(self, decisions: Iterable[object]) -> None:
        for d in decisions:
            if getattr(d, "action", None) is Action.FIRE:
                self.fired.append(d.rule)  # type: ignore[attr-defined]


def _quarter_hour_of(probe: Probe, mpa: float, t: float) -> float:
    """Readings a minute apart around ``mpa`` (never a flat line); returns the time after."""
    for i in range(16):
        probe.send(t, pressure_mpa=mpa + (0.01 if i % 2 else -0.01), current_ma=4 + mpa * 10)
        t += MINUTE
    return t


def test_a_repaired_transmitter_is_not_a_burst() -> None:
    """The bogus 0 MPa of a failed loop (2 mA) is no measurement: it neither sets a burst
    baseline nor stays in the history the repaired transmitter is judged against."""
    probe = Probe(Kind.WATER_PRESSURE, {"network": "domestic", "zone": "z"})
    t = _quarter_hour_of(probe, 0.31, START)
    for _ in range(30):  # transmitter failed low: the value is meaningless, clipped to 0
        probe.send(t, pressure_mpa=0.0, current_ma=2.0)
        t += MINUTE
    probe.send(t, pressure_mpa=0.26, current_ma=6.6)  # replaced; demand dips the supply a bit
    probe.send(t + MINUTE, pressure_mpa=0.31, current_ma=7.1)
    probe.tick_until(t + 2 * MINUTE)
    assert probe.fired == ["water.sensor_fault"]


def test_a_repaired_pressure_reducing_valve_is_not_a_burst() -> None:
    """From a plateau above the high limit back into the normal band is a repair."""
    probe = Probe(Kind.WATER_PRESSURE, {"network": "domestic", "zone": "z", "max_mpa": 0.35})
    t = _quarter_hour_of(probe, 0.26, START)
    t = _quarter_hour_of(probe, 0.42, t)  # the valve failed open (high_pressure after 10 min)
    t = _quarter_hour_of(probe, 0.42, t)
    t = _quarter_hour_of(probe, 0.26, t)  # repaired: back to normal
    probe.tick_until(t + MINUTE)
    assert probe.fired == ["water.high_pressure"]


def test_one_skipped_round_in_a_slow_patrol_is_one_miss() -> None:
    """Two rounds in a row, each within its tolerance, one of them missed: one miss
    (missed_repeatedly waits 2 × interval × (1 + tolerance) = 288 min, not 264)."""
    probe = Probe(Kind.PATROL, {"key_area": True, "interval_min": 120})
    probe.send(START + 10 * MINUTE, guard_id="guard-01", tag_id="t1")
    # the next round (134 min later, 12 % long) walks past it; the one after (another 134
    # min) scans it again: 268 min, two rounds each within tolerance, one of them missed
    probe.send(START + (10 + 134 + 134) * MINUTE, guard_id="guard-01", tag_id="t1")
    assert "patrol.missed_checkpoint" in probe.fired  # the one missed round
    assert "patrol.missed_repeatedly" not in probe.fired
