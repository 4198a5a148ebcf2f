"""Guard tours: a guard walks a route of checkpoints every ``interval_min`` and scans each tag.

A ``PatrolRoute`` is the guard's schedule: rounds start every interval with a few minutes of
jitter (a normal round is at most 12 % late or early, inside the 20 % tolerance of
domain-rules-research.md §4), and within a round the checkpoints are scanned in route order a
few minutes apart. Each ``PatrolCheckpoint`` is one tag on the route; each scan is one message
(``guard_id``, ``tag_id``). The day shift (08–20) and the night shift have different guards.

Incidents are planned on the round *after* the next one, so the rules always measure them from
a real scan: a checkpoint skipped (PAT-01), a whole round slept through (PAT-05), a round
started late, a tag scanned twice in a row (PAT-04).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import tzinfo

from gateway.topics import DeviceRef, Kind
from simulators.base import SHANGHAI, Payload, SimDevice, local_hour

ROUND_JITTER = 0.05
"""Standard deviation of a round's length, as a share of the interval (capped at 12 %)."""
ROUND_JITTER_CAP = 0.12
WALK_S = 180.0
"""Walking time between two checkpoints of a route."""
SCAN_JITTER_S = 20.0
"""Standard deviation of a scan around its planned time in the round (capped at 45 s)."""
GUARDS = ("guard-01", "guard-02")


class PatrolRoute:
    """One guard's rounds over a route: when round ``k`` starts (drawn lazily, repeatable),
    which rounds are slept through and which start late."""

    def __init__(
        self,
        name: str,
        *,
        rng: random.Random,
        start: float,
        interval_min: float = 120.0,
        guards: Sequence[str] = GUARDS,
        tz: tzinfo = SHANGHAI,
    ) -> None:
        if not guards:
            raise ValueError("a route needs at least one guard")
        self.name = name
        self.rng = rng
        self.interval_s = interval_min * 60.0
        self.guards = tuple(guards)
        self.tz = tz
        self.stops = 0
        """Checkpoints on the route (each takes the next position)."""
        self.slept: set[int] = set()
        self._starts = [start + rng.uniform(0.05, 0.5) * self.interval_s]
        self._delays: dict[int, float] = {}
        self._on_plan: set[int] = set()
        """Rounds that start exactly one interval after the previous one (around an
        incident the rhythm holds, so a skipped round is one missed round, no more)."""

    def join(self) -> float:
        """A checkpoint joins the route: its offset from the start of a round."""
        offset = self.stops * WALK_S
        self.stops += 1
        return offset

    def round_start(self, k: int) -> float:
        while len(self._starts) <= k:
            n = len(self._starts)
            if n in self._delays:  # a late round: exactly that late, then the rhythm resumes
                length = self.interval_s + self._delays[n]
            elif n in self._on_plan:
                length = self.interval_s
            else:
                jitter = self.rng.gauss(0.0, ROUND_JITTER)
                cap = ROUND_JITTER_CAP
                length = self.interval_s * (1.0 + min(max(jitter, -cap), cap))
            self._starts.append(self._starts[-1] + length)
        return self._starts[k]

    def guard_at(self, t: float) -> str:
        day = 8 <= local_hour(t, self.tz) < 20
        return self.guards[0] if day else self.guards[1 % len(self.guards)]

    def upcoming(self, now: float, after: int = 1) -> int:
        """The index of the round ``after`` rounds past the next one to start after ``now``."""
        k = 0
        while self.round_start(k) <= now:
            k += 1
        return k + after

    # --- incidents --------------------------------------------------------------------------

    def sleep_through(self, now: float, rounds: int = 1, after: int = 1) -> None:
        """PAT-05: the guard sleeps through ``rounds`` rounds, starting with the round after
        the next one: no checkpoint of the route is scanned."""
        first = self.upcoming(now, after)
        self.slept.update(range(first, first + rounds))
        self.keep_plan(first, rounds)

    def keep_plan(self, first: int, rounds: int) -> None:
        """Rounds ``first`` .. ``first + rounds`` start on the plan (no jitter): a checkpoint
        missed on ``rounds`` rounds goes exactly ``rounds + 1`` intervals unscanned."""
        self._on_plan.update(range(first, first + rounds + 1))

    def delay(self, now: float, minutes: float, after: int = 1) -> None:
        """The round after the next one starts ``minutes`` late (a break, an incident to
        attend); the rounds after it keep their rhythm from there."""
        k = self.upcoming(now, after)
        if len(self._starts) > k:
            raise ValueError(f"round {k} of route {self.name} is already planned")
        self._delays[k] = minutes * 60.0


class PatrolCheckpoint(SimDevice):
    kind = Kind.PATROL

    def __init__(
        self,
        ref: DeviceRef,
        *,
        rng: random.Random,
        start: float,
        interval_min: float = 120.0,
        guards: Sequence[str] = GUARDS,
        tag_id: str | None = None,
        tz: tzinfo = SHANGHAI,
        route: PatrolRoute | None = None,
    ) -> None:
        super().__init__(ref, rng=rng, start=start)
        if route is None:
            route = PatrolRoute(
                f"{ref.device}-round", rng=rng, start=start, interval_min=interval_min,
                guards=guards, tz=tz,
            )  # fmt: skip
        self.route = route
        self.offset_s = route.join()
        self.tag_id = tag_id or f"tag-{ref.device}"[:64]
        self.key_area = True
        """Whether the rules watch it (a key area); from the site file."""
        self.skipped: set[int] = set()
        self._round = 0
        self._extra_scan_at = math.inf
        self._rescan_after_next: float | None = None
        self.next_scan_at = self._scan_time()

    @property
    def interval_s(self) -> float:
        return self.route.interval_s

    @property
    def guards(self) -> tuple[str, ...]:
        return self.route.guards

    def first_report_at(self) -> float:
        return self.next_scan_at

    def _advance(self, now: float) -> None:
        """Scans happen when reported; nothing moves in between."""

    def _next_report(self, last: float) -> float:
        return min(self.next_scan_at, self._extra_scan_at)

    def _scan_time(self) -> float:
        """When this checkpoint is next scanned: its place in the next round it is on."""
        while self._round in self.skipped or self._round in self.route.slept:
            self._round += 1
        jitter = min(max(self.rng.gauss(0.0, SCAN_JITTER_S), -45.0), 45.0)
        return self.route.round_start(self._round) + self.offset_s + jitter

    def guard_on_duty(self) -> str:
        return self.route.guard_at(self._t)

    def _readings(self) -> Payload:
        if self._t >= self._extra_scan_at:
            self._extra_scan_at = math.inf
        elif self._t >= self.next_scan_at:
            self._round += 1
            self.next_scan_at = self._scan_time()
            if self._rescan_after_next is not None:
                self._extra_scan_at = self._t + self._rescan_after_next
                self._rescan_after_next = None
        return {"guard_id": self.guard_on_duty(), "tag_id": self.tag_id}

    # --- incidents --------------------------------------------------------------------------

    def miss_rounds(self, rounds: int = 1) -> None:
        """PAT-01: the guard skips this checkpoint on its next ``rounds`` rounds."""
        self._plan_skip(self._round, rounds)

    def skip(self, rounds: int = 1, after: int = 1) -> None:
        """PAT-01: on the round after the next one (and ``rounds - 1`` more) the guard walks
        past this checkpoint without scanning it; those rounds keep to the plan."""
        first = self.route.upcoming(self._t, after)
        self.route.keep_plan(first, rounds)
        self._plan_skip(first, rounds)

    def _plan_skip(self, first: int, rounds: int) -> None:
        self.skipped.update(range(first, first + rounds))
        if self._round in self.skipped:  # the pending scan itself is off
            self.next_scan_at = self._scan_time()

    def rapid_rescan(self, after_s: float = 30.0) -> None:
        """PAT-04: the same tag scanned again ``after_s`` from now (ticking the box)."""
        self._extra_scan_at = self._t + after_s

    def rescan_after_next(self, after_s: float = 30.0) -> None:
        """PAT-04: at its next scan the guard scans this tag a second time ``after_s`` later."""
        self._rescan_after_next = after_s
