"""Timeline helpers for rule tests: a fake clock, an engine, readings built from a few fields.

``Timeline`` drives one ``RulesEngine`` on a ``FakeClock``: readings of any kind (each device
keeps its last fields, so a reading states only what changed), status changes, clock ticks and
site-file reloads, all at ``t`` seconds after the start (2026-01-01T00:00Z, which is 08:00 in
Asia/Shanghai, the default site time zone). ``site_config`` builds a validated site file the way
``load_site_config`` does.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from gateway.payloads import SCHEMAS, Telemetry
from gateway.reading import Reading, StatusChange
from gateway.topics import DeviceRef, Kind
from rules.decision import Action, Decision
from rules.engine import RulesEngine
from steward.clock import FakeClock
from steward.site import DeviceRegistry, RulesConfig, StewardConfig, parse_config

SITE = "test-site"
ELEVATOR = DeviceRef(SITE, Kind.ELEVATOR, "elv-1")
WATER = DeviceRef(SITE, Kind.WATER_PRESSURE, "wp-1")
EXTINGUISHER = DeviceRef(SITE, Kind.EXTINGUISHER, "ext-1")
CHECKPOINT = DeviceRef(SITE, Kind.PATROL, "cp-1")
START = 1_767_225_600.0
"""FakeClock's default start, 2026-01-01T00:00:00Z."""

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
DEFAULT_FIELDS: dict[Kind, dict[str, Any]] = {
    Kind.ELEVATOR: IDLE_AT_LANDING,
    Kind.WATER_PRESSURE: {"pressure_mpa": 0.30},
    Kind.EXTINGUISHER: {"pressure_mpa": 1.2, "on_bracket": True, "tilt_deg": 0.0},
    Kind.PATROL: {"guard_id": "g1"},
}


def device(
    ref: DeviceRef,
    *,
    building: str = "b1",
    location: str = "",
    thresholds: dict[str, Any] | None = None,
    **params: Any,
) -> dict[str, Any]:
    """One device entry of a site file (plus the building it goes in)."""
    return {
        "building": building,
        "id": ref.device,
        "kind": ref.kind.value,
        "location": location or f"{ref.kind.value} {ref.device} in {building}",
        "params": params,
        "thresholds": thresholds or {},
    }


def site_config(
    *devices: dict[str, Any],
    rules: dict[str, Any] | None = None,
    timezone: str = "Asia/Shanghai",
) -> StewardConfig:
    """A site file with these devices, validated as ``load_site_config`` validates one."""
    buildings: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in devices:
        fields = dict(entry)
        buildings[fields.pop("building")].append(fields)
    data: dict[str, Any] = {
        "sites": [
            {
                "id": SITE,
                "timezone": timezone,
                "buildings": [{"id": b, "devices": ds} for b, ds in buildings.items()],
            }
        ]
    }
    if rules is not None:
        data["rules"] = rules
    return parse_config(data, Path("test-site.yaml"))


class Timeline:
    """``at(t, **fields)`` publishes a reading of the main device at t seconds, ``send`` one of
    any device; ``tick(t)`` only moves the clock. All return the decisions made then, and
    every decision is also collected in ``decisions``."""

    def __init__(
        self, config: RulesConfig | StewardConfig | None = None, ref: DeviceRef = ELEVATOR
    ) -> None:
        self.clock = FakeClock(START)
        self.t0 = self.clock.now()
        self.ref = ref
        site = config if isinstance(config, StewardConfig) else StewardConfig()
        rules = config if isinstance(config, RulesConfig) else site.rules
        self.engine = RulesEngine(DeviceRegistry(site), rules, self.clock)
        self._fields: dict[str, dict[str, Any]] = {}
        self.decisions: list[Decision] = []

    # -- time ---------------------------------------------------------------------------------
    def _go(self, t: float) -> None:
        target = self.t0 + t
        assert target >= self.clock.now(), "timelines only move forward"
        self.clock.set(target)

    @property
    def t(self) -> float:
        """Seconds since the start of the timeline."""
        return self.clock.now() - self.t0

    def _keep(self, out: list[Decision]) -> list[Decision]:
        self.decisions += out
        return out

    # -- inputs ---------------------------------------------------------------------------------
    def fields_of(self, ref: DeviceRef) -> dict[str, Any]:
        return self._fields.setdefault(ref.key, dict(DEFAULT_FIELDS[ref.kind]))

    @property
    def fields(self) -> dict[str, Any]:
        return self.fields_of(self.ref)

    def send(self, t: float, ref: DeviceRef, **fields: Any) -> list[Decision]:
        """A reading of ``ref`` at t with its last fields updated by ``fields``."""
        self._go(t)
        current = self.fields_of(ref)
        current.update(fields)
        now = self.clock.now()
        telemetry: Telemetry = SCHEMAS[ref.kind].model_validate(  # type: ignore[assignment]
            {"ts": int(now * 1000), **current}
        )
        return self._keep(self.engine.on_reading(Reading(ref, telemetry, now, now)))

    def at(self, t: float, **fields: Any) -> list[Decision]:
        return self.send(t, self.ref, **fields)

    def every(
        self,
        start: float,
        end: float,
        step: float = 1.0,
        ref: DeviceRef | None = None,
        **fields: Any,
    ) -> list[Decision]:
        """Readings every ``step`` seconds from start to end (inclusive) with these fields."""
        out: list[Decision] = []
        t = start
        while t <= end + 1e-9:
            out += self.send(t, ref or self.ref, **fields)
            fields = {}
            t += step
        return out

    def water(self, t: float, p: float, ref: DeviceRef = WATER, **fields: Any) -> list[Decision]:
        return self.send(t, ref, pressure_mpa=p, **fields)

    def water_every(
        self,
        start: float,
        end: float,
        step: float,
        p: float,
        *,
        wobble: float = 0.002,
        ref: DeviceRef = WATER,
        **fields: Any,
    ) -> list[Decision]:
        """Pressure readings alternating p and p + wobble (a real transmitter is never flat:
        ``sensor.stuck`` fires on six equal readings). Pick the wobble's sign so both values
        stay on the intended side of the threshold under test."""
        out: list[Decision] = []
        t, i = start, 0
        while t <= end + 1e-9:
            out += self.water(t, round(p + (wobble if i % 2 else 0.0), 4), ref, **fields)
            fields = {}
            t, i = t + step, i + 1
        return out

    def extinguisher(
        self, t: float, p: float | None = None, ref: DeviceRef = EXTINGUISHER, **fields: Any
    ) -> list[Decision]:
        if p is not None:
            fields["pressure_mpa"] = p
        return self.send(t, ref, **fields)

    def scan(self, t: float, ref: DeviceRef = CHECKPOINT, guard: str = "g1") -> list[Decision]:
        return self.send(t, ref, guard_id=guard, tag_id=f"tag-{ref.device}")

    def tick(self, t: float) -> list[Decision]:
        self._go(t)
        return self._keep(self.engine.tick())

    def ticks(self, start: float, end: float, step: float = 5.0) -> list[Decision]:
        """Clock ticks every ``step`` seconds from start to end (inclusive)."""
        out: list[Decision] = []
        t = start
        while t <= end + 1e-9:
            out += self.tick(t)
            t += step
        return out

    def status(self, t: float, online: bool, ref: DeviceRef | None = None) -> list[Decision]:
        self._go(t)
        change = StatusChange(ref or self.ref, online, self.clock.now())
        return self._keep(self.engine.on_status(change))

    def rate_limited(self, t: float, ref: DeviceRef | None = None) -> list[Decision]:
        """The gateway dropped a message of this device for flooding the broker."""
        self._go(t)
        return self._keep(self.engine.on_rate_limited(ref or self.ref))

    def reconfigure(self, config: StewardConfig) -> None:
        """A site-file reload (no time passes; tick to see its effect on calendar rules)."""
        self.engine.reconfigure(DeviceRegistry(config), config.rules)

    # -- local time -----------------------------------------------------------------------------
    def local(self, when: str, tz: str = "Asia/Shanghai") -> float:
        """Seconds since the start of the timeline of a local wall time, e.g. ``2026-01-01
        20:00`` in ``tz``."""
        moment = datetime.fromisoformat(when).replace(tzinfo=ZoneInfo(tz))
        return moment.timestamp() - self.t0


def fired(decisions: list[Decision]) -> list[str]:
    return [d.rule for d in decisions if d.action is Action.FIRE]


def cleared(decisions: list[Decision]) -> list[str]:
    return [d.rule for d in decisions if d.action is Action.CLEAR]


def only(decisions: list[Decision], rule: str, action: Action = Action.FIRE) -> Decision:
    """The one decision of ``rule`` with ``action`` (fails if there is none or several)."""
    found = [d for d in decisions if d.rule == rule and d.action is action]
    assert len(found) == 1, f"expected one {action} of {rule}, got {decisions!r}"
    return found[0]
