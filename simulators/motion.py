"""Car motion between two heights: a trapezoidal speed profile, or a constant creep."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Motion:
    """One run of the car from ``start_m`` to ``end_m`` starting at ``start_t``.

    With ``accel`` the car accelerates to ``top_speed`` (or less on a short run), cruises and
    decelerates; without it the car moves at ``top_speed`` throughout (an uncontrolled creep).
    """

    start_t: float
    start_m: float
    end_m: float
    top_speed: float
    accel: float | None = None

    def __post_init__(self) -> None:
        if self.top_speed <= 0 or (self.accel is not None and self.accel <= 0):
            raise ValueError("speed and acceleration must be positive")

    @property
    def distance(self) -> float:
        return abs(self.end_m - self.start_m)

    @property
    def sign(self) -> int:
        return 1 if self.end_m >= self.start_m else -1

    @property
    def peak_speed(self) -> float:
        if self.accel is None:
            return self.top_speed
        return min(self.top_speed, math.sqrt(self.accel * self.distance))

    @property
    def duration(self) -> float:
        v = self.peak_speed
        if self.accel is None:
            return self.distance / v
        # accelerate and decelerate take v/a each and cover v²/a together; cruise the rest
        return (self.distance - v * v / self.accel) / v + 2 * v / self.accel if v else 0.0

    @property
    def end_t(self) -> float:
        return self.start_t + self.duration

    def at(self, t: float) -> tuple[float, float]:
        """(height in m, speed in m/s) at ``t``."""
        total = self.duration
        tau = min(max(t - self.start_t, 0.0), total)
        travelled, speed = self._profile(tau, total)
        if tau >= total:
            travelled, speed = self.distance, 0.0
        return self.start_m + self.sign * travelled, speed

    def _profile(self, tau: float, total: float) -> tuple[float, float]:
        v = self.peak_speed
        a = self.accel
        if a is None:
            return v * tau, v
        ramp = v / a
        if tau < ramp:
            return 0.5 * a * tau * tau, a * tau
        left = total - tau
        if left < ramp:
            return self.distance - 0.5 * a * left * left, a * left
        return 0.5 * a * ramp * ramp + v * (tau - ramp), v
