"""The rules engine shell: per-device state, readings and clock ticks in, decisions out.

No I/O and no wall clock: ``now`` comes from the injected clock, read once per step. The
engine is owned by one thread (the gateway's); ``lock`` guards the snapshots the API reads and
configuration reloads.
"""

from __future__ import annotations

import dataclasses
import heapq
import threading
from collections.abc import Iterable
from typing import Any, cast

from gateway.reading import Reading, StatusChange
from gateway.topics import DeviceRef, Kind
from rules.alerts import Alert
from rules.calendar import CALENDAR_RULES, calendar_view
from rules.condition import Edge, Rule, RuleState, Tracker
from rules.decision import Decision
from rules.derived import REPEATED_FAILURE
from rules.elevator import ELEVATOR_RULES, ElevatorView
from rules.extinguisher import EXTINGUISHER_RULES, ExtinguisherView
from rules.health import HEALTH_RULES, HealthView, loop_failed, plausible
from rules.latest import ElevatorRecord, ExtinguisherRecord, PatrolRecord, WaterRecord, keep
from rules.patrol import (
    GUARD_RULES,
    PATROL_RULES,
    SITE_RULES,
    GuardView,
    PatrolView,
    SitePatrolView,
)
from rules.render import decision_for, key_for
from rules.state import DeviceState, GuardState, SiteState, apply_memo, view_memo
from rules.thresholds import RulesConfig, device_thresholds
from rules.water import WATER_RULES, WaterView, Zone
from steward.clock import Clock
from steward.site import (
    DeviceRegistry,
    ElevatorParams,
    ExtinguisherParams,
    PatrolParams,
    WaterParams,
)

KIND_RULES: dict[Kind, tuple[Rule[Any], ...]] = {
    Kind.ELEVATOR: ELEVATOR_RULES,
    Kind.WATER_PRESSURE: WATER_RULES,
    Kind.EXTINGUISHER: EXTINGUISHER_RULES,
    Kind.PATROL: PATROL_RULES,
}
ALL_RULES: tuple[Rule[Any], ...] = (
    *ELEVATOR_RULES,
    REPEATED_FAILURE,
    *WATER_RULES,
    *EXTINGUISHER_RULES,
    *PATROL_RULES,
    *GUARD_RULES,
    *SITE_RULES,
    *CALENDAR_RULES,
    *HEALTH_RULES,
)
RULES_BY_ID: dict[str, Rule[Any]] = {r.id: r for r in ALL_RULES}
TIMED_SCAN_S = 5.0
RETRY_S = 1.0
"""A dwell still pending after its end was evaluated is looked at again this much later."""
CALENDAR_SCAN_S = 3600.0


def device_time(state: DeviceState, now: float) -> float:
    """``now`` on the device's own clock: its latest reading's time plus what has passed
    since it arrived. Live traffic: ``now`` (minus any constant clock offset, which cancels
    out of dwells). A backlog being replayed: the replay position, so ticks do not judge old
    readings against the wall clock."""
    reading = state.reading
    return now if reading is None else now - (reading.received_at - reading.observed_at)


@dataclasses.dataclass(frozen=True, slots=True)
class Dwell:
    """A device whose condition is holding but has not held long enough yet: its latest
    reading and, per rule, since when (device time) it has held. Saved while it runs, so a
    restart resumes the dwell instead of starting it again from the next message."""

    reading: Reading
    since: dict[str, float]
    memo: dict[str, Any] = dataclasses.field(default_factory=dict)
    """What the view had derived from earlier readings (``rules.state.view_memo``)."""


def check_overrides(config: RulesConfig) -> list[str]:
    """Problems with ``rules.overrides`` (unknown rule ids), for check-config and reloads."""
    return [
        f"rules.overrides.{rule_id}: no such rule (see docs/rules.md)"
        for rule_id in config.overrides
        if rule_id not in RULES_BY_ID
    ]


def effective(rules: tuple[Rule[Any], ...], config: RulesConfig) -> tuple[Rule[Any], ...]:
    """The rules with the operator's priority/category overrides; disabled ones removed."""
    out = []
    for rule in rules:
        override = config.overrides.get(rule.id)
        if override is None:
            out.append(rule)
        elif override.enabled:
            out.append(
                dataclasses.replace(
                    rule,
                    priority=override.priority or rule.priority,
                    category=override.category or rule.category,
                )
            )
    return tuple(out)


class RulesEngine:
    def __init__(self, registry: DeviceRegistry, config: RulesConfig, clock: Clock) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.devices: dict[str, DeviceState] = {}
        self.guards: dict[str, GuardState] = {}
        self.sites: dict[str, SiteState] = {}
        self.zones: dict[tuple[str, str], Zone] = {}
        self._armed: dict[str, None] = {}
        """Devices with a dwell running, in arming order (a set's order would change with
        PYTHONHASHSEED, and with it cross-device timing)."""
        self._due: list[tuple[float, int, str]] = []
        """Heap of (clock time a running dwell or clear hysteresis ends, arming number, device
        key): ``expire`` evaluates exactly the devices whose time has come, so an entrapment
        is decided when its 30 s are up, not at the next periodic tick."""
        self._due_at: dict[str, float] = {}
        """Each armed device's entry in ``_due`` (others there are stale and skipped)."""
        self._seq = 0
        self._next_scan = 0.0
        self._next_calendar = 0.0
        self.new_dwell = False
        """Set by ``on_reading`` when that reading started a dwell (see ``dwells``)."""
        self.reconfigure(registry, config)

    # -- configuration --------------------------------------------------------------------
    def reconfigure(self, registry: DeviceRegistry, config: RulesConfig) -> None:
        """Apply a new site file: thresholds, overrides, devices, zones. Rule state (timers,
        what is firing) is kept; calendar rules are re-checked at the next tick."""
        with self.lock:
            self.registry, self.config = registry, config
            self.rules = {kind: effective(rules, config) for kind, rules in KIND_RULES.items()}
            self.timed = {
                kind: tuple(r for r in rules if r.timed) for kind, rules in self.rules.items()
            }
            self.health_rules = effective(HEALTH_RULES, config)
            self.timed_health = tuple(r for r in self.health_rules if r.timed)
            self.calendar_rules = effective(CALENDAR_RULES, config)
            self.guard_rules = effective(GUARD_RULES, config)
            self.site_rules = effective(SITE_RULES, config)
            # rules as decided, with the operator's priority/category overrides
            self.by_id = {**RULES_BY_ID, **{r.id: r for r in effective(ALL_RULES, config)}}
            self.zones = {}
            for state in self.devices.values():
                self._attach(state, registry.resolve(state.device.ref))
            for device in registry:
                if device.ref.key not in self.devices:
                    self._state(device.ref)
            for state in self.devices.values():  # new Zone objects: who reads ≈ 0 still does
                view = state.view
                if isinstance(view, WaterView) and view.zone is not None and view.zone_low:
                    view.zone.low.add(view.key)
            # a rule switched off is no longer evaluated: forget its state, or it would stay
            # firing for ever (in the alerts, and holding its incident group open)
            trackers = [t for s in self.devices.values() for t in s.trackers()]
            trackers += [g.tracker for g in self.guards.values()]
            trackers += [s.tracker for s in self.sites.values()]
            for tracker in trackers:
                for rule_id in [r for r in tracker.states if self._disabled(r)]:
                    del tracker.states[rule_id]
            self._next_calendar = 0.0
            for key in self._armed:  # thresholds may have changed: look at each dwell again
                self._due_at[key] = 0.0
                self._seq += 1
                heapq.heappush(self._due, (0.0, self._seq, key))

    def _attach(self, state: DeviceState, device: Any) -> None:
        """(Re)bind a state to its registration: params, thresholds, zone, calendar."""
        state.device = device
        ref, params = device.ref, device.params
        hv = state.health_view
        hv.th = self.config.health
        hv.silence_limit_s = self.config.health.silence_s(ref.kind)
        th = device_thresholds(self.config, ref.kind, device.thresholds)
        view = state.view
        if view is not None:
            view.th, view.params = th, params
            if isinstance(view, WaterView):
                view.zone = self._zone(ref, params)
        elif ref.kind is Kind.PATROL and isinstance(params, PatrolParams):
            state.view = PatrolView(
                cast(Any, th), params, last_scan_at=self.clock.now(), tz=device.timezone
            )
        if ref.kind is Kind.WATER_PRESSURE:
            self._zone(ref, params)
        if isinstance(params, ElevatorParams | ExtinguisherParams) and device.registered:
            own = self.config  # shared, unless the device has thresholds of its own
            if device.thresholds:
                own = self.config.model_copy(update={ref.kind.value: th})
            state.calendar_view = calendar_view(params, own, device.timezone)

    def rule(self, rule_id: str) -> Rule[Any] | None:
        """The rule as configured (priority/category overrides applied); None when the
        operator switched it off."""
        return None if self._disabled(rule_id) else self.by_id.get(rule_id)

    def _disabled(self, rule_id: str) -> bool:
        override = self.config.overrides.get(rule_id)
        return override is not None and not override.enabled

    def _zone(self, ref: DeviceRef, params: Any) -> Zone | None:
        if not isinstance(params, WaterParams) or not params.zone:
            return None
        zone = self.zones.setdefault((ref.site, params.zone), Zone())
        zone.members.add(ref.key)
        return zone

    # -- inputs ---------------------------------------------------------------------------
    def on_reading(self, reading: Reading) -> list[Decision]:
        now = self.clock.now()
        self.new_dwell = False
        state = self._state(reading.ref)
        hv = state.health_view
        hv.will_offline = False  # a message is proof of life, whatever the status topic said
        if state.reading is not None and reading.observed_at < state.reading.observed_at:
            hv.last_seen = now  # out of order: alive, but too late to change rule state
            return self._evaluate_health(state, now, now)
        self._observe(state, reading, now)
        decisions = self._evaluate_health(state, now, now)
        self._update_view(state, reading)
        # Dwells are measured in the device's own time: a QoS 1 backlog replayed after an
        # outage keeps its real timing (an entrapment that lasted fires; a door that closed
        # 5 s later in the backlog does not become an 80 s door fault).
        at = reading.observed_at
        started: list[str] = []
        edges = state.rules.evaluate(
            self.rules[reading.ref.kind],
            state.view,
            at,
            at,
            frozen=self._frozen(state),
            started=started,
        )
        self.new_dwell = bool(started)
        decisions += self._decide(state, edges, state.view)
        self._arm(reading.ref.key, state)
        return decisions

    def _observe(self, state: DeviceState, reading: Reading, now: float) -> None:
        state.reading = reading
        t = reading.telemetry
        water = self.config.water_pressure
        state.health_view.update(
            t, plausible(t, state.device.params, water), now, not loop_failed(t, water)
        )

    def on_status(self, change: StatusChange) -> list[Decision]:
        now = self.clock.now()
        state = self._state(change.ref)
        state.online = change.online
        state.health_view.will_offline = not change.online
        if change.online:
            state.health_view.last_seen = now
        return self._evaluate_health(state, now, now)

    def on_rate_limited(self, ref: DeviceRef) -> list[Decision]:
        """The gateway dropped a message of this flooding device."""
        now = self.clock.now()
        state = self._state(ref)
        first = state.health_view.rate_limited_at is None or not state.health.is_firing(
            "device.misbehaving"
        )
        state.health_view.rate_limited_at = now
        return self._evaluate_health(state, now, now) if first else []

    def next_due(self) -> float | None:
        """Clock time at which the next running dwell ends (``expire`` is due), or None."""
        due, due_at = self._due, self._due_at
        while due:
            at, _, key = due[0]
            if due_at.get(key) == at:
                return at
            heapq.heappop(due)  # stale: re-armed or disarmed since
        return None

    def expire(self) -> list[Decision]:
        """Evaluate the devices whose dwell or clear hysteresis has run its time."""
        now = self.clock.now()
        due, due_at = self._due, self._due_at
        keys = []
        while due and due[0][0] <= now:
            at, _, key = heapq.heappop(due)
            if due_at.get(key) == at:
                del due_at[key]
                keys.append(key)
        decisions: list[Decision] = []
        for key in keys:  # evaluated in arming order at equal times: deterministic
            state = self.devices[key]
            at = device_time(state, now)
            edges = state.rules.evaluate(
                self.rules[state.device.ref.kind], state.view, at, at, frozen=self._frozen(state)
            )
            decisions += self._decide(state, edges, state.view)
            self._arm(key, state, evaluated_at=now)
        return decisions

    def tick(self) -> list[Decision]:
        """Expire dwells, check deadlines and silence; call every second or so (``expire``
        alone may be called as often as wanted, at ``next_due``)."""
        now = self.clock.now()
        decisions = self.expire()
        if now >= self._next_scan:
            self._next_scan = now + TIMED_SCAN_S
            decisions += self._timed_scan(now)
        if now >= self._next_calendar:
            self._next_calendar = now + CALENDAR_SCAN_S
            for state in self.devices.values():
                if state.calendar_view is not None:
                    edges = state.calendar.evaluate(
                        self.calendar_rules, state.calendar_view, now, now
                    )
                    decisions += self._decide(state, edges, state.calendar_view)
        return decisions

    def _timed_scan(self, now: float) -> list[Decision]:
        decisions: list[Decision] = []
        for state in self.devices.values():
            # Only silence can start a timed health rule (misbehaving and flapping start on
            # events and only end with time): a device with no health state that was heard
            # from lately needs nothing, which keeps this scan cheap for a large estate. (A
            # device may be firing without an accepted reading: all its messages dropped.)
            hv = state.health_view
            seen, limit = hv.last_seen, hv.silence_limit_s
            if state.health.states or (
                seen is not None and limit is not None and now - seen > limit
            ):
                decisions += self._evaluate_health(state, now, now, self.timed_health)
            timed = self.timed[state.device.ref.kind]
            if timed and state.view is not None:
                at = device_time(state, now)
                edges = state.rules.evaluate(timed, state.view, at, at)
                decisions += self._decide(state, edges, state.view)
        for guard in self.guards.values():
            edges = guard.tracker.evaluate(self.guard_rules, guard.view, now, now)
            decisions += self._decide(guard.checkpoint, edges, guard.view, guard.tracker)
        for site in self.sites.values():
            decisions += self._evaluate_site(site, now)
        return decisions

    def restore(self, active: Iterable[tuple[DeviceRef, str, float]]) -> None:
        """After a restart: rules whose tickets are still active are firing, so the same
        condition does not open a duplicate, and its end is still reported."""
        with self.lock:
            for ref, rule_id, opened_at in active:
                rule = RULES_BY_ID.get(rule_id)
                if rule is None or rule in GUARD_RULES or rule in SITE_RULES:
                    continue
                if self._disabled(rule_id):
                    continue  # switched off: nothing will ever evaluate it
                state = self._state(ref)
                if rule in HEALTH_RULES:
                    state.health.mark_firing(rule_id, opened_at)
                elif rule in CALENDAR_RULES:
                    state.calendar.mark_firing(rule_id, opened_at)
                elif rule is not REPEATED_FAILURE:
                    state.rules.mark_firing(rule_id, opened_at)

    def dwell_starts(self) -> dict[str, dict[str, float]]:
        """Since when each running dwell has held, by device key (call with ``lock`` held).
        Cheap: a saver compares it with what it saved and fetches only what changed."""
        devices = self.devices
        out = {}
        for key in self._armed:
            since = _dwelling(devices[key].rules)
            if since:
                out[key] = since
        return out

    def dwell(self, key: str) -> Dwell | None:
        """One device's running dwell, with its reading and view memory (``lock`` held)."""
        state = self.devices.get(key)
        if state is None or state.reading is None:
            return None
        since = _dwelling(state.rules)
        return Dwell(state.reading, since, view_memo(state.view)) if since else None

    def dwells(self) -> dict[str, Dwell]:
        """Every running dwell, by device key (call with ``lock`` held)."""
        out = {}
        for key in self.dwell_starts():
            dwell = self.dwell(key)
            if dwell is not None:
                out[key] = dwell
        return out

    def resume(self, dwells: Iterable[Dwell]) -> None:
        """After a restart (and after ``restore``): take up the saved dwells where they were.
        The saved reading and what the view had derived become the device's state again, so a
        dwell still running fires at its own time on a tick even if the device says nothing
        more; a newer reading continues it or, if the condition has ended, clears it."""
        with self.lock:
            now = self.clock.now()
            for dwell in dwells:
                reading = dwell.reading
                state = self._state(reading.ref)
                if state.reading is not None:
                    continue  # something newer has arrived already
                self._observe(state, reading, now)
                self._update_view(state, reading)
                apply_memo(state.view, dwell.memo)
                view = state.view
                if isinstance(view, WaterView) and view.zone is not None and view.zone_low:
                    view.zone.low.add(view.key)
                for rule_id, since in dwell.since.items():
                    if rule_id in self.by_id and rule_id not in state.rules.states:
                        state.rules.own()[rule_id] = RuleState(since=since)
                self._arm(reading.ref.key, state)

    # -- views for the API ------------------------------------------------------------------
    def alerts(self) -> list[Alert]:
        with self.lock:
            out = []
            for state in self.devices.values():
                out += self._alerts(state, state.rules, state.view)
                out += self._alerts(state, state.health, state.health_view)
                out += self._alerts(state, state.calendar, state.calendar_view)
            for guard in self.guards.values():
                out += self._alerts(guard.checkpoint, guard.tracker, guard.view)
            for site in self.sites.values():
                if site.checkpoint is not None:
                    out += self._alerts(site.checkpoint, site.tracker, site.view)
            return out

    def _alerts(self, state: DeviceState, tracker: Tracker, view: Any) -> list[Alert]:
        out = []
        for rule_id in tracker.firing_rules():
            rule, rs = self.by_id[rule_id], tracker.states[rule_id]
            ref = state.device.ref
            out.append(
                Alert(
                    ref,
                    rule_id,
                    rule.priority.value,
                    rule.title,
                    rs.since,
                    rs.fired_at,
                    state.device.building,
                    state.device.location,
                    key_for(ref, rule, view),
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
            device = self.registry.resolve(ref)
            state = self.devices[ref.key] = DeviceState(device, HealthView(self.config.health))
            self._attach(state, device)
        return state

    def _update_view(self, state: DeviceState, reading: Reading) -> None:
        # the state keeps the reading's values, not the model, and the view reads them
        # (rules.latest: ~0.35 KiB less a device)
        kept = state.reading = keep(reading)
        t, at = kept, reading.observed_at
        if state.view is not None:
            if isinstance(t, ElevatorRecord):
                state.view.update(t)
            else:
                state.view.update(t, at)
        else:
            state.view = self._first_view(state, kept)
        if isinstance(t, PatrolRecord):
            self._guard_scanned(state, t.guard_id, at)

    def _first_view(self, state: DeviceState, reading: Reading) -> Any:
        t, at, device = keep(reading), reading.observed_at, state.device
        th: Any = device_thresholds(self.config, device.ref.kind, device.thresholds)
        params: Any = device.params
        view: Any
        if isinstance(t, ElevatorRecord):
            return ElevatorView.first(t, th, params)
        if isinstance(t, WaterRecord):
            view = WaterView(
                device.ref.key,
                t,
                th,
                params,
                self._zone(device.ref, params),
                lambda: self._building_power_lost(device),
            )
        elif isinstance(t, ExtinguisherRecord):
            view = ExtinguisherView(t, th, params)
        else:
            view = PatrolView(th, params, last_scan_at=at, tz=device.timezone)
        view.update(t, at)
        return view

    def _guard_scanned(self, checkpoint: DeviceState, guard_id: str, at: float) -> None:
        key = f"{checkpoint.device.ref.site}/{guard_id}"
        guard = self.guards.get(key)
        if guard is None:
            view = GuardView(
                guard_id,
                self.config.patrol,
                checkpoint.device.timezone,
                at,
                checkpoint.device.ref.key,
            )
            self.guards[key] = GuardState(view, checkpoint)
        else:
            guard.view.update(at, checkpoint.device.ref.key)
            guard.checkpoint = checkpoint

    def _building_power_lost(self, device: Any) -> bool:
        site, building = device.ref.site, device.building
        return building is not None and any(
            s.device.ref.site == site
            and s.device.building == building
            and s.rules.is_firing("elevator.power_loss")
            for s in self.devices.values()
            if s.device.ref.kind is Kind.ELEVATOR
        )

    def _frozen(self, state: DeviceState) -> bool:
        """A sensor fault is firing: the rules that need a healthy sensor stay as they are."""
        health = state.health.states
        if health and any(rs.firing and RULES_BY_ID[r].sensor_fault for r, rs in health.items()):
            return True
        fault = state.rules.states.get("water.sensor_fault")
        return fault is not None and fault.firing

    def _arm(self, key: str, state: DeviceState, evaluated_at: float | None = None) -> None:
        if not state.rules.states:
            if self._armed:
                self._armed.pop(key, None)
                self._due_at.pop(key, None)
        elif state.rules.pending():
            self._armed.setdefault(key, None)
            self._schedule(key, state, evaluated_at)
        else:
            self._armed.pop(key, None)
            self._due_at.pop(key, None)

    def _schedule(self, key: str, state: DeviceState, evaluated_at: float | None) -> None:
        """Put the device's next dwell end in ``_due`` (in clock time), unless an entry as
        early is there already: one that comes too early is evaluated and scheduled again.
        A dwell whose end had come when ``expire`` evaluated it and that is still pending
        (frozen by a sensor fault) is looked at again ``RETRY_S`` later, not at every call."""
        ends = self._ends(state)
        if ends is None:
            return
        reading = state.reading
        at = ends if reading is None else ends + (reading.received_at - reading.observed_at)
        if evaluated_at is not None and at <= evaluated_at:
            at = evaluated_at + RETRY_S
        current = self._due_at.get(key)
        if current is not None and current <= at:
            return
        self._due_at[key] = at
        self._seq += 1
        heapq.heappush(self._due, (at, self._seq, key))

    def _ends(self, state: DeviceState) -> float | None:
        """Device time at which the first running dwell or clear hysteresis ends."""
        first: float | None = None
        for rule_id, rs in state.rules.states.items():
            if rs.firing:
                if rs.clear_since is None:
                    continue
                rule = self.by_id.get(rule_id)
                end = rs.clear_since + (rule.clear_after_s(state.view) if rule else 0.0)
            elif rs.since is not None:
                end = rs.since + rs.hold_s
            else:
                continue
            if first is None or end < first:
                first = end
        return first

    def _evaluate_health(
        self,
        state: DeviceState,
        event_at: float,
        now: float,
        rules: tuple[Rule[Any], ...] | None = None,
    ) -> list[Decision]:
        hv = state.health_view
        faults_before = hv.fault_count
        edges = state.health.evaluate(rules or self.health_rules, hv, event_at, now)
        decisions = self._decide(state, edges, hv, state.health) if edges else []
        if hv.fault_count != faults_before:  # a new fault may make the device flapping
            edges = state.health.evaluate(self.timed_health, hv, event_at, now)
            decisions += self._decide(state, edges, hv, state.health)
        return decisions

    def _evaluate_site(self, site: SiteState, now: float) -> list[Decision]:
        if site.checkpoint is None:
            return []
        edges = site.tracker.evaluate(self.site_rules, site.view, now, now)
        return self._decide(site.checkpoint, edges, site.view, site.tracker)

    def _decide(
        self, state: DeviceState, edges: list[Edge], view: Any, tracker: Tracker | None = None
    ) -> list[Decision]:
        decisions: list[Decision] = []
        for edge in edges:
            rule = self.by_id[edge.rule_id]
            if edge.firing:
                decisions += self._on_fire(state, rule, edge)
                if (
                    rule.sensor_fault
                    and state.health.is_firing("device.flapping")
                    and rule.id != "device.flapping"
                ):
                    continue  # the flapping ticket stands for this device's faults
            elif self._group_still_firing(state, rule, view):
                continue  # another signal of the same incident still holds: not over yet
            decisions.append(decision_for(state, rule, edge, view, tracker))
        return decisions

    def _on_fire(self, state: DeviceState, rule: Rule[Any], edge: Edge) -> list[Decision]:
        if rule.sensor_fault:
            state.health_view.record_fault(edge.at)
        if rule.id == "patrol.missed_checkpoint" and isinstance(state.view, PatrolView):
            state.view.missed += 1
            state.view.count(edge.at, 2)
            site = self.sites.get(state.device.ref.site)
            if site is None:
                site = self.sites[state.device.ref.site] = SiteState(
                    SitePatrolView(self.config.patrol, state.device.timezone)
                )
            site.view.record_miss(edge.at)
            site.checkpoint = state
            return self._evaluate_site(site, edge.at)
        return []

    def _group_still_firing(self, state: DeviceState, rule: Rule[Any], view: Any) -> bool:
        peers = [state]
        if isinstance(view, WaterView) and view.zone is not None and rule.scope is not None:
            peers = [self.devices[k] for k in view.zone.members if k in self.devices]
        return any(
            RULES_BY_ID[other].group == rule.group for peer in peers for other in peer.firing()
        )


__all__ = ["ALL_RULES", "RULES_BY_ID", "Alert", "DeviceState", "RulesEngine", "check_overrides"]


def _dwelling(tracker: Tracker) -> dict[str, float]:
    """The tracker's rules in a dwell (holding, not yet firing), with since when."""
    return {
        rule_id: rs.since
        for rule_id, rs in tracker.states.items()
        if rs.since is not None and not rs.firing
    }
