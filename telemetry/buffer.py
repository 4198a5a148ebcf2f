"""The gateway's side of every sink: a bounded, non-blocking hand-off to one background
thread, which takes readings out in batches by size or by age."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

from gateway.reading import Reading

log = logging.getLogger("steward.telemetry")


class ReadingBuffer:
    """``add`` is for the gateway thread: an append and a length check, never a wait.

    ``next_batch`` is for the one consumer thread: it returns at most ``batch_size`` readings
    once that many are waiting, once the oldest has waited ``flush_interval_s``, or at once
    after ``hurry``; an empty list only after ``close``. The batch still counts as buffered
    until the consumer calls ``release`` (so a flush never sees a batch in nobody's hands).
    """

    def __init__(self, *, capacity: int, batch_size: int, flush_interval_s: float) -> None:
        if capacity < batch_size:
            raise ValueError("buffer capacity must hold at least one batch")
        self.capacity = capacity
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.received = 0
        self.overflowed = 0
        self._items: deque[Reading] = deque()
        self._carry: list[Reading] = []
        self._carry_since = 0.0
        self._in_hand = 0
        self._wake = threading.Event()
        self._urgent = threading.Event()
        self._closed = threading.Event()

    # -- producer (gateway thread) -------------------------------------------------------------
    def add(self, reading: Reading) -> bool:
        """False when full: the caller counts the reading as dropped."""
        self.received += 1
        items = self._items
        if len(items) >= self.capacity:
            self.overflowed += 1
            return False
        items.append(reading)
        if len(items) == self.batch_size:
            self._wake.set()
        return True

    # -- control (any thread) --------------------------------------------------------------------
    def hurry(self) -> None:
        """Hand out what is waiting now, without waiting for a full batch or its age."""
        self._urgent.set()
        self._wake.set()

    def calm(self) -> None:
        self._urgent.clear()

    def close(self) -> None:
        """No more waiting: ``next_batch`` hands out what is left, then empty lists."""
        self._closed.set()
        self.hurry()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def __len__(self) -> int:
        """Readings accepted and not yet released by the consumer."""
        return len(self._items) + len(self._carry) + self._in_hand

    # -- consumer (the sink's thread) ----------------------------------------------------------
    def next_batch(self) -> list[Reading]:
        while True:
            self._wake.clear()  # before draining: an add() after this wakes the wait below
            if not self._carry:
                self._carry_since = time.monotonic()
            room = self.batch_size - len(self._carry)
            pop = self._items.popleft
            for _ in range(min(room, len(self._items))):
                self._carry.append(pop())
            age = time.monotonic() - self._carry_since
            if (
                len(self._carry) >= self.batch_size
                or (self._carry and (age >= self.flush_interval_s or self._urgent.is_set()))
                or self._closed.is_set()
            ):
                self._in_hand = len(self._carry)
                batch, self._carry = self._carry, []
                return batch
            self._wake.wait(self.flush_interval_s - age if self._carry else self.flush_interval_s)

    def release(self) -> None:
        """The consumer has put the last batch somewhere safe (or counted it)."""
        self._in_hand = 0


class LoudDrops:
    """Dropping telemetry is an operator's problem: say so at ERROR at once, and then at most
    every ``every_s`` seconds while it goes on, with the running total."""

    def __init__(self, what: str, every_s: float = 10.0) -> None:
        self.what = what
        self.every_s = every_s
        self.count = 0
        self._last_log = -float("inf")
        self._lock = threading.Lock()

    def drop(self, n: int, why: str) -> None:
        with self._lock:
            self.count += n
            now = time.monotonic()
            if now - self._last_log < self.every_s:
                return
            self._last_log = now
            log.error(
                "%s: DROPPING TELEMETRY (%s): %d readings dropped so far",
                self.what,
                why,
                self.count,
            )
