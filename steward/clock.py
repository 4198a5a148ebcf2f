"""Injected time. Rules and SLA logic never call ``time.time()`` themselves.

Times are float seconds since the Unix epoch (UTC) on the hot path; ``as_datetime`` converts at
the edges (database, API).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch, UTC."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class FakeClock:
    """A clock that moves only when told to: tests run a month in milliseconds."""

    def __init__(self, start: float | datetime = 1_767_225_600.0) -> None:  # 2026-01-01T00:00Z
        self._now = start.timestamp() if isinstance(start, datetime) else float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, when: float | datetime) -> None:
        with self._lock:
            self._now = when.timestamp() if isinstance(when, datetime) else float(when)


class AcceleratedClock:
    """Wall time sped up by ``factor`` from the moment it was created (demo and simulators)."""

    def __init__(self, factor: float = 1.0, start: float | None = None) -> None:
        if factor <= 0:
            raise ValueError("time factor must be positive")
        self.factor = factor
        self._start = time.time() if start is None else start
        self._mono0 = time.monotonic()

    def now(self) -> float:
        return self._start + (time.monotonic() - self._mono0) * self.factor


def as_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def iso(ts: float | None) -> str | None:
    return None if ts is None else as_datetime(ts).isoformat().replace("+00:00", "Z")
