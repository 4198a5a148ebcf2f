"""The rules engine shell: per-device state, readings and clock ticks in, decisions out.

No I/O and no wall clock: ``now`` comes from the injected clock, read once per step. The
engine is owned by one thread (the gateway's); ``lock`` guards the snapshots the API reads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gateway.payloads import ElevatorTelemetry
from gateway.reading import Reading, StatusChange
from gateway.topics import DeviceRef, Kind
from rules.condition import Edge, Rule, Tracker
from rules.decision import Action, Decision, dedup_key
from rules.elevator import ELEVATOR_RULES, ElevatorView
from rules.health import HEALTH_RULES, HealthView
from steward.clock import Clock, iso
from steward.site import DeviceRegistry, RegisteredDevice, RulesConfig

ALL_RULES: tuple[Rule[Any], ...] = (*ELEVATOR_RULES, *HEALTH_RULES)
RULES_BY_ID: dict[str, Rule[Any]] = {r.id: r for r in ALL_RULES}
SILENCE_SCAN_S = 5.0


@dataclass(slots=True)
class DeviceState:
    device: RegisteredDevice
    reading: Reading | None = None
    last_seen: float | None = None
    online: bool | None = None
    elevator: ElevatorView | None = None
    rules: Tracker = field(default_factory=Tracker)
    health: Tracker = field(default_factory=Tracker)
    health_view: HealthView = field(default_factory=HealthView)


@dataclass(frozen=True, slots=True)
class Alert:
    """A condition firing now (``GET /alerts``)."""

    ref: DeviceRef
    rule: str
    priority: str
    title: str
    since: float | None
    fired_at: float | None
    building: str | None
    location: str


class RulesEngine:
    def __init__(self, registry: DeviceRegistry, config: RulesConfig, clock: Clock) -> None:
        self.registry = registry
        self.config = config
        self.clock = clock
        self.lock = threading.Lock()
        self.devices: dict[str, DeviceState] = {}
        self._armed: set[str] = set()
        self._next_silence_scan = 0.0

    # -- inputs ---------------------------------------------------------------------------
    def on_reading(self, reading: Reading) -> list[Decision]:
        now = self.clock.now()
        state = self._state(reading.ref)
        state.last_seen = now
        state.health_view.silent_for_s = 0.0
        if state.reading is not None and reading.observed_at < state.reading.observed_at:
            return self._health(state, now, now)  # out of order: too late to change rule state
        state.reading = reading
        decisions = self._health(state, now, now)
        telemetry = reading.telemetry
        if isinstance(telemetry, ElevatorTelemetry):
            if state.elevator is None:
                state.elevator = ElevatorView.first(telemetry, self.config.elevator)
            else:
                state.elevator.update(telemetry)
            edges = state.rules.evaluate(ELEVATOR_RULES, state.elevator, reading.observed_at, now)
            decisions += self._decide(state, edges)
        self._arm(reading.ref.key, state)
        return decisions

    def on_status(self, change: StatusChange) -> list[Decision]:
        now = self.clock.now()
        state = self._state(change.ref)
        state.online = change.online
        state.health_view.will_offline = not change.online
        if change.online:
            state.last_seen = now
            state.health_view.silent_for_s = 0.0
        return self._health(state, now, now)

    def tick(self) -> list[Decision]:
        """Expire dwells and detect silence; call every second or so, messages or not."""
        now = self.clock.now()
        decisions: list[Decision] = []
        for key in list(self._armed):
            state = self.devices[key]
            if state.elevator is not None:
                edges = state.rules.evaluate(ELEVATOR_RULES, state.elevator, now, now)
                decisions += self._decide(state, edges)
            self._arm(key, state)
        if now >= self._next_silence_scan:
            self._next_silence_scan = now + SILENCE_SCAN_S
            for state in self.devices.values():
                if state.last_seen is not None:
                    state.health_view.silent_for_s = now - state.last_seen
                    decisions += self._health(state, now, now)
        return decisions

    def restore(self, active: Iterable[tuple[DeviceRef, str, float]]) -> None:
        """After a restart: rules whose tickets are still active are firing, so the same
        condition does not open a duplicate, and its end is still reported."""
        with self.lock:
            for ref, rule_id, opened_at in active:
                if rule_id in RULES_BY_ID:
                    tracker = self._state(ref)
                    target = tracker.health if rule_id.startswith("device.") else tracker.rules
                    target.mark_firing(rule_id, opened_at)

    # -- views for the API ------------------------------------------------------------------
    def alerts(self) -> list[Alert]:
        with self.lock:
            out = []
            for state in self.devices.values():
                for tracker in (state.rules, state.health):
                    for rule_id in tracker.firing_rules():
                        rule, rs = RULES_BY_ID[rule_id], tracker.states[rule_id]
                        out.append(
                            Alert(
                                state.device.ref,
                                rule_id,
                                rule.priority.value,
                                rule.title,
                                rs.since,
                                rs.fired_at,
                                state.device.building,
                                state.device.location,
                            )
                        )
            return out

    def device_states(self) -> list[DeviceState]:
        with self.lock:
            return list(self.devices.values())

    # -- internals -----------------------------------------------------------------------
    def _state(self, ref: DeviceRef) -> DeviceState:
        state = self.devices.get(ref.key)
        if state is None or state.device.ref.kind is not ref.kind:
            state = self.devices[ref.key] = DeviceState(self.registry.resolve(ref))
            state.health_view.silence_limit_s = self.config.health.silence_s(ref.kind)
        return state

    def _arm(self, key: str, state: DeviceState) -> None:
        if state.rules.pending():
            self._armed.add(key)
        else:
            self._armed.discard(key)

    def _health(self, state: DeviceState, event_at: float, now: float) -> list[Decision]:
        edges = state.health.evaluate(HEALTH_RULES, state.health_view, event_at, now)
        return self._decide(state, edges) if edges else []

    def _decide(self, state: DeviceState, edges: list[Edge]) -> list[Decision]:
        decisions = []
        for edge in edges:
            rule = RULES_BY_ID[edge.rule_id]
            if not edge.firing and self._group_still_firing(state, rule):
                continue  # another signal of the same incident still holds: not over yet
            decisions.append(self._decision(state, rule, edge))
        return decisions

    @staticmethod
    def _group_still_firing(state: DeviceState, rule: Rule[Any]) -> bool:
        return any(
            RULES_BY_ID[other].group == rule.group
            for tracker in (state.rules, state.health)
            for other in tracker.firing_rules()
        )

    def _decision(self, state: DeviceState, rule: Rule[Any], edge: Edge) -> Decision:
        device = state.device
        where = device.location or f"{device.ref.kind.value} {device.ref.device}"
        return Decision(
            action=Action.FIRE if edge.firing else Action.CLEAR,
            rule=rule.id,
            ref=device.ref,
            at=edge.at,
            priority=rule.priority,
            category=rule.category,
            title=f"{rule.title}: {where}",
            description=f"{rule.title} at {where} (site {device.ref.site}). "
            f"Condition: {rule.condition}.",
            dedup_key=dedup_key(device.ref, rule.group),
            evidence=self._evidence(state, rule, edge),
            building=device.building,
            location=device.location,
            auto_resolve=rule.auto_resolve,
        )

    @staticmethod
    def _evidence(state: DeviceState, rule: Rule[Any], edge: Edge) -> dict[str, Any]:
        evidence: dict[str, Any] = {
            "rule": rule.id,
            "condition": rule.condition,
            "source": rule.source,
            "decided_at": iso(edge.at),
            "condition_since": iso(edge.since),
            "held_s": round(edge.at - edge.since, 3),
            "threshold_s": edge.hold_s,
            "registered": state.device.registered,
        }
        reading = state.reading
        if reading is not None:
            evidence["reading"] = reading.telemetry.model_dump(mode="json")
            evidence["observed_at"] = iso(reading.observed_at)
            evidence["received_at"] = iso(reading.received_at)
            if reading.flags:
                evidence["flags"] = sorted(reading.flags)
        if state.elevator is not None:
            evidence["occupied_seen"] = state.elevator.occupied_seen
        if state.online is not None:
            evidence["status"] = "online" if state.online else "offline"
        if state.last_seen is not None:
            evidence["last_seen"] = iso(state.last_seen)
        return evidence


__all__ = ["Alert", "DeviceState", "Kind", "RulesEngine"]
