"""What every simulated device shares: a device reference, its own time, ``seq``, online state.

A device is driven by explicit time: ``step(now)`` advances its state to ``now`` (epoch
seconds, simulated), ``telemetry(now)`` is the contract §2 payload at that instant and
``next_report_at(last)`` says when it wants to report again. No wall clock, no sleeps: a
seeded ``random.Random`` makes every run repeatable.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import ClassVar
from zoneinfo import ZoneInfo

from gateway.topics import DeviceRef, Kind

Payload = dict[str, object]
SHANGHAI = ZoneInfo("Asia/Shanghai")
MIN_REPORT_GAP_S = 0.05
"""Two reports of one device are at least this far apart (keeps ``ts`` strictly increasing)."""
FIRST_REPORT_SPREAD_S = 2.0
"""First reports are spread over this long, so a big fleet does not start in one burst."""


def epoch_ms(now: float) -> int:
    return round(now * 1000)


def local_hour(now: float, tz: tzinfo) -> float:
    """Hour of day (0–24, fractional) at ``now`` in the site's time zone."""
    local = datetime.fromtimestamp(now, tz=tz)
    return local.hour + local.minute / 60 + local.second / 3600


def peak_factor(hour: float) -> float:
    """Residential demand through the day: night lull, morning 07–09 and evening 17–20 peaks."""
    if hour < 6:
        return 0.15
    if 7 <= hour < 9 or 17 <= hour < 20:
        return 3.0
    if hour >= 22:
        return 0.4
    return 1.0


PEAK_FACTOR_MAX = 3.0


class SimDevice(ABC):
    """A simulated device; subclasses model one kind and add incident injections."""

    kind: ClassVar[Kind]

    def __init__(self, ref: DeviceRef, *, rng: random.Random, start: float) -> None:
        if ref.kind is not self.kind:
            raise ValueError(f"{type(self).__name__} simulates {self.kind}, not {ref.kind}")
        self.ref = ref
        self.rng = rng
        self.building: str | None = None
        """The building it is in, when it comes from a site file."""
        self.online = True
        """False while the device is cut off (its broker connection dropped: Last Will)."""
        self.quiet_until = -math.inf
        """Online but not reporting before this (simulated) time: no Last Will, just silence."""
        self._t = start
        self._seq = 0  # the device announces ``online`` first, so counting from 0 is accepted
        self._dirty = False
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._timer_ids = itertools.count()
        self._flood_until = -math.inf
        self._flood_gap_s = 1.0

    @property
    def now(self) -> float:
        """The simulated instant the device's state is at."""
        return self._t

    def step(self, now: float) -> None:
        """Advance the state to ``now``; an earlier ``now`` is ignored (time never goes back).
        Timers (``after``) due on the way run at their own instant."""
        while True:
            if self._timers and self._timers[0][0] <= now:
                at, _, action = heapq.heappop(self._timers)
                if at > self._t:
                    self._advance(at)
                    self._t = at
                action()
            elif now > self._t:
                self._advance(now)
                self._t = now
            else:
                return

    def after(self, delay_s: float, action: Callable[[], None]) -> None:
        """Run ``action`` ``delay_s`` simulated seconds from now (the end of an incident); the
        device reports at that instant."""
        heapq.heappush(self._timers, (self._t + max(delay_s, 0.0), next(self._timer_ids), action))

    def telemetry(self, now: float) -> Payload:
        """The contract §2 payload at ``now``; each call takes the next ``seq``."""
        self.step(now)
        payload: Payload = {"ts": epoch_ms(self._t), "seq": self._seq}
        self._seq += 1
        self._dirty = False
        payload.update(self._readings())
        return payload

    def first_report_at(self) -> float:
        return self._t + self.rng.uniform(0.0, FIRST_REPORT_SPREAD_S)

    def next_report_at(self, last: float) -> float:
        """When the device reports next, given its last report at ``last`` (simulated): at once
        after an injected change, else at the kind's own pace."""
        due = self._t if self._dirty else self._next_report(last)
        if self._timers:
            due = min(due, max(self._timers[0][0], self._t))
        if last + self._flood_gap_s < self._flood_until:  # a flood ignores the usual pace
            return min(due, last + self._flood_gap_s)
        return max(due, last + MIN_REPORT_GAP_S)

    def _changed(self) -> None:
        """Something was injected: report the new state straight away."""
        self._dirty = True

    def drop_connection(self) -> None:
        """Sensor dropout: the device goes silent and its Last Will says ``offline``."""
        self.online = False

    def reconnect(self) -> None:
        self.online = True
        self._changed()

    def flood(self, per_s: float, duration_s: float) -> None:
        """A firmware bug or a reconnect that flushes a buffer: the device reports ``per_s``
        times a second for ``duration_s`` (a genuine reading each time)."""
        self._flood_gap_s = 1.0 / per_s
        self._flood_until = self._t + duration_s
        self._changed()

    def go_quiet(self, duration_s: float) -> None:
        """The device stops reporting for ``duration_s`` without dropping its connection (a
        firmware update, a stalled modem): no Last Will, only silence."""
        self.quiet_until = self._t + duration_s

    @abstractmethod
    def _next_report(self, last: float) -> float:
        """The kind's own reporting pace (interval, or the next change of state)."""

    @abstractmethod
    def _advance(self, now: float) -> None:
        """Move the model from ``self._t`` to ``now``."""

    @abstractmethod
    def _readings(self) -> Payload:
        """The kind's fields at ``self._t`` (everything but ``ts`` and ``seq``)."""
