"""A condition that must hold for a while before it fires, and clears with hysteresis.

Like Prometheus' ``for:``: each rule is a pure function of a device's view and the clock,
returning how long the condition must hold (seconds) when it holds now, or ``None`` when it
does not. ``Tracker`` remembers since when each rule has held and turns that into fire/clear
edges on readings and on clock ticks alike, so a dwell expires even when no message arrives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from rules.decision import Category, Priority

S = TypeVar("S")


def _no_hysteresis(_view: Any) -> float:
    return 0.0


@dataclass(frozen=True, slots=True)
class Rule(Generic[S]):
    id: str
    """e.g. ``elevator.entrapment``; the ticket's ``rule``."""
    group: str
    """Rules about one incident share a group and so one ticket (dedup key)."""
    priority: Priority
    category: Category
    title: str
    condition: str
    """The condition in words, for evidence and the rule catalogue."""
    holds: Callable[[S, float], float | None]
    """``(view, now)`` → seconds the condition must hold before firing, or None."""
    clear_after_s: Callable[[S], float] = _no_hysteresis
    auto_resolve: bool = False
    source: str = ""
    clear: str = ""
    """What ends it, in words (catalogue)."""
    timed: bool = False
    """Depends on ``now`` (silence, deadlines, calendars): re-checked on periodic scans."""
    needs_healthy_sensor: bool = False
    """Frozen (neither fires nor clears) while the device has an active sensor fault."""
    sensor_fault: bool = False
    """This rule is a sensor fault: it freezes dependent rules and counts towards flapping."""
    scope: Callable[[S], str] | None = None
    """Dedup scope other than the device, e.g. a water zone: one ticket for the zone."""
    inputs: tuple[str, ...] | None = None
    """What the condition and its clear read (catalogue): payload fields by name, the device's
    site-file parameters as ``params.<name>``, and signals other than the reading
    (``rules.catalogue.SIGNALS``). None: not declared (a test requires every rule to)."""
    thresholds: tuple[str, ...] | None = None
    """The thresholds the condition and its clear use, as ``<section>.<name>`` of
    ``RulesConfig`` (``elevator.entrapment_s``); ``()`` when it has none, None: not declared.
    Their defaults come from the threshold models (``rules.catalogue.threshold_defaults``)."""


def make_rule(
    kind: str,
    rule_id: str,
    group: str,
    priority: Priority,
    title: str,
    condition: str,
    holds: Callable[[Any, float], float | None],
    *,
    category: Category = Category.FACILITY,
    section: str | None = None,
    thresholds: tuple[str, ...] | None = None,
    **kw: Any,
) -> Rule[Any]:
    """A kind's rule, id ``{kind}.{rule_id}``: each rule module binds its kind (and its
    defaults) with ``functools.partial``. ``thresholds`` are names in the kind's ``rules.<section>``
    (default: the kind), or ``<section>.<name>`` for another section's."""
    home = section or kind
    if thresholds is not None:
        thresholds = tuple(n if "." in n else f"{home}.{n}" for n in thresholds)
    return Rule(
        id=f"{kind}.{rule_id}",
        group=group,
        priority=priority,
        category=category,
        title=title,
        condition=condition,
        holds=holds,
        thresholds=thresholds,
        **kw,
    )


@dataclass(slots=True)
class RuleState:
    since: float | None = None
    """When the condition started to hold (event time)."""
    clear_since: float | None = None
    firing: bool = False
    fired_at: float | None = None
    hold_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Edge:
    rule_id: str
    firing: bool
    """True: started firing; False: cleared."""
    since: float
    at: float
    hold_s: float


NO_STATES: dict[str, RuleState] = {}
"""Shared by every tracker with no rule state (most devices, most of the time): never written
to; a tracker takes a dict of its own (``own``) to hold a state and drops it when empty."""


class Tracker:
    """Per-device state of a set of rules."""

    __slots__ = ("states",)

    def __init__(self) -> None:
        self.states: dict[str, RuleState] = NO_STATES

    def own(self) -> dict[str, RuleState]:
        """The states, writable."""
        if self.states is NO_STATES:
            self.states = {}
        return self.states

    def evaluate(
        self,
        rules: Iterable[Rule[Any]],
        view: Any,
        event_at: float,
        now: float,
        *,
        frozen: bool = False,
        started: list[str] | None = None,
    ) -> list[Edge]:
        """Re-evaluate ``rules`` against ``view``. ``event_at`` is when the view was observed
        (start of a dwell); ``now`` is the injected clock (end of a dwell). With ``frozen``,
        rules that need a healthy sensor are left exactly as they are. Rules whose dwell
        starts now (held from now, not firing yet) are appended to ``started``."""
        edges: list[Edge] = []
        states = self.states
        for rule in rules:
            if frozen and rule.needs_healthy_sensor:
                continue
            hold = rule.holds(view, now)
            if hold is None:
                if not states:  # the common case: nothing holds, nothing to clear
                    continue
                rs = states.get(rule.id)
                if rs is not None:
                    edge = self._maybe_clear(rule, rs, view, event_at, now)
                    if edge is not None:
                        edges.append(edge)
                    if not rs.firing and rs.since is None:
                        del states[rule.id]
                        if not states:
                            states = self.states = NO_STATES
                continue
            rs = states.get(rule.id)
            if rs is None:
                rs = RuleState()
                states = self.own()
                states[rule.id] = rs
            rs.clear_since = None
            since = rs.since
            fresh = since is None
            if since is None:
                since = rs.since = event_at
            rs.hold_s = hold
            if not rs.firing:
                if now - since >= hold:
                    rs.firing, rs.fired_at = True, now
                    edges.append(Edge(rule.id, True, since, now, hold))
                elif fresh and started is not None:
                    started.append(rule.id)
        return edges

    @staticmethod
    def _maybe_clear(
        rule: Rule[Any], rs: RuleState, view: Any, event_at: float, now: float
    ) -> Edge | None:
        started = rs.since
        rs.since = None
        if not rs.firing:
            return None
        if rs.clear_since is None:
            rs.clear_since = event_at
        if now - rs.clear_since < rule.clear_after_s(view):
            return None
        rs.firing, rs.clear_since = False, None
        return Edge(rule.id, False, started if started is not None else now, now, rs.hold_s)

    def pending(self) -> bool:
        """True while some dwell or clear hysteresis is running: the device needs ticks."""
        if not self.states:
            return False
        return any(
            (rs.since is not None and not rs.firing) or rs.clear_since is not None
            for rs in self.states.values()
        )

    def firing_rules(self) -> list[str]:
        return [rid for rid, rs in self.states.items() if rs.firing]

    def is_firing(self, rule_id: str) -> bool:
        rs = self.states.get(rule_id)
        return rs is not None and rs.firing

    def mark_firing(self, rule_id: str, since: float) -> None:
        """After a restart: the ticket store says this rule's ticket is still active."""
        self.own()[rule_id] = RuleState(since=None, firing=True, fired_at=since)
