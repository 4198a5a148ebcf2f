"""Guard-patrol rules (domain-rules-research.md §6: PAT-01, 04, 05).

A key-area checkpoint must be scanned every ``interval_min`` with a tolerance (2 h + 20 %):
past it, the checkpoint is missed; past two intervals, missed repeatedly (important). Per
guard: no scan for ``guard_inactive_s`` while on shift is a welfare and coverage problem. Per
site: ``shift_misses`` misses in one shift is important. Shifts are in the site's time zone.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from rules.condition import Rule, make_rule
from rules.decision import Category, Priority
from rules.latest import PatrolRecord
from rules.thresholds import PatrolThresholds, Shift
from steward.site import PatrolParams


def current_shift(now: float, shifts: tuple[Shift, ...], tz: str) -> tuple[str, float]:
    """(name, start as epoch seconds) of the shift ``now`` falls in; shifts may cross
    midnight. Time outside every shift belongs to an unnamed ``off`` period starting at
    local midnight."""
    local = datetime.fromtimestamp(now, ZoneInfo(tz))
    best: tuple[str, float] | None = None
    for shift in shifts:
        for day in (local.date() - timedelta(days=1), local.date()):
            start = datetime.combine(day, time.fromisoformat(shift.start), local.tzinfo)
            end = datetime.combine(day, time.fromisoformat(shift.end), local.tzinfo)
            if end <= start:
                end += timedelta(days=1)
            if start <= local < end and (best is None or start.timestamp() > best[1]):
                best = (shift.name, start.timestamp())
    if best is not None:
        return best
    midnight = datetime.combine(local.date(), datetime.min.time(), local.tzinfo)
    return "off", midnight.timestamp()


@dataclass(slots=True)
class PatrolView:
    """One checkpoint. Before its first scan it counts from when Steward started watching."""

    th: PatrolThresholds
    params: PatrolParams
    last_scan_at: float
    previous_scan_at: float | None = None
    last: PatrolRecord | None = None
    """The latest scan (``rules.latest``)."""
    on_time: int = 0
    late: int = 0
    missed: int = 0
    """Compliance counters since start: on-time scans, late scans, missed intervals."""
    tz: str = "Asia/Shanghai"
    by_shift: dict[str, list[int]] = field(default_factory=dict)
    """Shift name → [on time, late, missed]."""

    def count(self, at: float, outcome: int) -> None:
        """outcome: 0 on time, 1 late, 2 missed."""
        name = current_shift(at, self.th.shifts, self.tz)[0]
        self.by_shift.setdefault(name, [0, 0, 0])[outcome] += 1

    @property
    def interval_s(self) -> float:
        return self.params.interval_min * 60.0

    def overdue_after(self, rounds: int) -> float:
        """Missed ``rounds`` in a row: each round may run ``tolerance_ratio`` long, so two
        slow rounds (2 × 2 h × 1.2 = 4.8 h) are not two misses."""
        return self.last_scan_at + self.interval_s * rounds * (1 + self.th.tolerance_ratio)

    def update(self, t: PatrolRecord, at: float) -> None:
        if at <= self.overdue_after(1):
            self.on_time += 1
            self.count(at, 0)
        else:
            self.late += 1
            self.count(at, 1)
        # before the first scan, last_scan_at is when watching started, not a scan
        self.previous_scan_at = self.last_scan_at if self.last is not None else None
        self.last_scan_at, self.last = at, t


def missed(v: PatrolView, now: float) -> float | None:
    return 0.0 if v.params.key_area and now > v.overdue_after(1) else None


def missed_repeatedly(v: PatrolView, now: float) -> float | None:
    return 0.0 if v.params.key_area and now > v.overdue_after(2) else None


def rescanned(v: PatrolView, _now: float) -> float | None:
    if v.last is None or v.previous_scan_at is None:
        return None
    return 0.0 if v.last_scan_at - v.previous_scan_at < v.th.rescan_min_s else None


@dataclass(slots=True)
class GuardView:
    guard_id: str
    th: PatrolThresholds
    tz: str
    last_scan_at: float
    checkpoint: str

    def update(self, at: float, checkpoint: str) -> None:
        self.last_scan_at, self.checkpoint = at, checkpoint


def guard_inactive(v: GuardView, now: float) -> float | None:
    same_shift = (
        current_shift(now, v.th.shifts, v.tz)[1]
        == current_shift(v.last_scan_at, v.th.shifts, v.tz)[1]
    )
    return 0.0 if same_shift and now - v.last_scan_at > v.th.guard_inactive_s else None


@dataclass(slots=True)
class SitePatrolView:
    """Misses per shift at one site."""

    th: PatrolThresholds
    tz: str
    misses: Counter[float] = field(default_factory=Counter)
    """Shift start → missed checkpoints in that shift."""

    def record_miss(self, at: float) -> None:
        self.misses[current_shift(at, self.th.shifts, self.tz)[1]] += 1


def shift_misses(v: SitePatrolView, now: float) -> float | None:
    start = current_shift(now, v.th.shifts, v.tz)[1]
    return 0.0 if v.misses.get(start, 0) >= v.th.shift_misses else None


_rule = functools.partial(make_rule, "patrol", category=Category.SERVICE, timed=True)

PATROL_RULES: tuple[Rule[PatrolView], ...] = (
    _rule(
        "missed_checkpoint",
        "missed",
        Priority.GENERAL,
        "Patrol checkpoint missed",
        "key-area checkpoint not scanned within interval_min × (1 + tolerance_ratio)",
        missed,
        auto_resolve=True,
        clear="the next scan",
        inputs=("ts", "params.key_area", "params.interval_min", "clock"),
        thresholds=("tolerance_ratio",),
        source="PAT-01; seed 一(一) every 2 h; ≤ 20 % tolerance",
    ),
    _rule(
        "missed_repeatedly",
        "missed",
        Priority.IMPORTANT,
        "Patrol checkpoint missed twice in a row",
        "key-area checkpoint not scanned within 2 × interval_min × (1 + tolerance_ratio)",
        missed_repeatedly,
        auto_resolve=True,
        clear="the next scan",
        inputs=("ts", "params.key_area", "params.interval_min", "clock"),
        thresholds=("tolerance_ratio",),
        source="PAT-01 [E]",
    ),
    _rule(
        "suspicious_rescan",
        "suspicious_rescan",
        Priority.GENERAL,
        "Checkpoint rescanned suspiciously fast",
        "two scans of one checkpoint less than rescan_min_s apart",
        rescanned,
        clear="the next scan ≥ rescan_min_s after the one before (recorded; a person reviews it)",
        inputs=("ts",),
        thresholds=("rescan_min_s",),
        source="PAT-04 [E]",
    ),
)
GUARD_RULES: tuple[Rule[GuardView], ...] = (
    _rule(
        "guard_inactive",
        "guard_inactive",
        Priority.IMPORTANT,
        "Guard on duty has not scanned any checkpoint",
        "no scan from a guard for guard_inactive_s within the shift of their last scan",
        guard_inactive,
        auto_resolve=True,
        clear="the guard scans, or the shift ends",
        scope=lambda v: "guard-" + re.sub(r"[^a-z0-9_-]+", "-", v.guard_id.lower()),
        inputs=("guard_id", "ts", "clock"),
        thresholds=("guard_inactive_s", "shifts"),
        source="PAT-05 [E]",
    ),
)
SITE_RULES: tuple[Rule[SitePatrolView], ...] = (
    _rule(
        "shift_misses",
        "shift_misses",
        Priority.IMPORTANT,
        "Several patrol checkpoints missed in one shift",
        "≥ shift_misses missed checkpoints at a site within one shift",
        shift_misses,
        auto_resolve=True,
        clear="the shift ends",
        scope=lambda _v: "site",
        inputs=("missed_checkpoints", "clock"),
        thresholds=("shift_misses", "shifts"),
        source="PAT-01 [E]",
    ),
)
