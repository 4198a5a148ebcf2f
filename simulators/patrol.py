"""A guard-tour checkpoint: a guard scans its tag every ``interval_min`` on the round.

Each scan is one message (``guard_id``, ``tag_id``). Rounds drift a few minutes around the
plan, within the 20 % tolerance of domain-rules-research.md §4; the day shift (08–20) and the
night shift have different guards. Incidents: missed rounds (PAT-01) and a suspicious rescan
(PAT-04).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import tzinfo

from gateway.topics import DeviceRef, Kind
from simulators.base import SHANGHAI, Payload, SimDevice, local_hour

ROUND_JITTER = 0.05
"""Standard deviation of a round's length, as a share of the interval (capped at 15 %)."""


class PatrolCheckpoint(SimDevice):
    kind = Kind.PATROL

    def __init__(
        self,
        ref: DeviceRef,
        *,
        rng: random.Random,
        start: float,
        interval_min: float = 120.0,
        guards: Sequence[str] = ("guard-01", "guard-02"),
        tag_id: str | None = None,
        tz: tzinfo = SHANGHAI,
    ) -> None:
        super().__init__(ref, rng=rng, start=start)
        if not guards:
            raise ValueError("a checkpoint needs at least one guard")
        self.interval_s = interval_min * 60.0
        self.guards = tuple(guards)
        self.tag_id = tag_id or f"tag-{ref.device}"[:64]
        self.tz = tz
        self.next_scan_at = start + rng.uniform(0.05, 0.9) * self.interval_s
        self._extra_scan_at = math.inf

    def first_report_at(self) -> float:
        return self.next_scan_at

    def _advance(self, now: float) -> None:
        """Scans happen when reported; nothing moves in between."""

    def _next_report(self, last: float) -> float:
        return min(self.next_scan_at, self._extra_scan_at)

    def guard_on_duty(self) -> str:
        day = 8 <= local_hour(self._t, self.tz) < 20
        return self.guards[0] if day else self.guards[1 % len(self.guards)]

    def _readings(self) -> Payload:
        if self._t >= self._extra_scan_at:
            self._extra_scan_at = math.inf
        elif self._t >= self.next_scan_at:
            self.next_scan_at = self._after_round(self._t)
        return {"guard_id": self.guard_on_duty(), "tag_id": self.tag_id}

    def _after_round(self, t: float) -> float:
        jitter = min(max(self.rng.gauss(0.0, ROUND_JITTER), -0.15), 0.15)
        return t + self.interval_s * (1.0 + jitter)

    # --- incidents --------------------------------------------------------------------------

    def miss_rounds(self, rounds: int = 1) -> None:
        """PAT-01: the guard skips this checkpoint on the next ``rounds`` rounds."""
        for _ in range(rounds):
            self.next_scan_at = self._after_round(self.next_scan_at)

    def rapid_rescan(self, after_s: float = 30.0) -> None:
        """PAT-04: the same tag scanned again ``after_s`` later (ticking the box)."""
        self._extra_scan_at = self._t + after_s
