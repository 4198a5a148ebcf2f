"""Decisions → committed tickets, in a thread of its own so the gateway never waits on the
database. Batches what has queued up into one transaction; when the database is away it keeps
the batch (and the QoS 1 acks behind it) and retries with backoff: nothing is dropped."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from gateway.mqtt import Ack, backoff_delay
from rules.decision import Decision
from tickets.outbox import Attempts
from tickets.schemas import TicketView

log = logging.getLogger("steward.writer")


class Batch:
    """One batch of decisions through its retries: each write step it takes keeps its
    ``Attempts``, so a step that committed although its COMMIT seemed to fail is not
    applied again (``tickets.outbox.Attempts``)."""

    def __init__(self) -> None:
        self._steps: dict[str, Attempts] = {}

    def step(self, name: str) -> Attempts:
        return self._steps.setdefault(name, Attempts())


Apply = Callable[[list[Decision], Batch], list[TicketView]]


@dataclass
class WriterStats:
    batches: int = 0
    decisions: int = 0
    failures: int = 0
    healthy: bool = True
    last_error: str = ""


class DecisionWriter:
    def __init__(
        self,
        apply: Apply,
        *,
        max_batch: int = 500,
        on_committed: Callable[[list[Decision], list[TicketView]], None] | None = None,
    ) -> None:
        self._apply = apply
        self._max_batch = max_batch
        self._on_committed = on_committed
        self._queue: queue.Queue[tuple[list[Decision], Ack | None]] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._idle = threading.Event()
        self._idle.set()
        self.stats = WriterStats()

    def submit(self, decisions: list[Decision], ack: Ack | None) -> None:
        self._queue.put((decisions, ack))
        self._idle.clear()  # after put: the writer's idle check can only err towards busy

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="steward-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Drain what is queued (while the database answers), then stop."""
        self.flush(timeout)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted so far is committed."""
        return self._idle.wait(timeout)

    def pending(self) -> int:
        return self._queue.qsize()

    def _take_batch(self) -> list[tuple[list[Decision], Ack | None]]:
        try:
            batch = [self._queue.get(timeout=0.1)]
        except queue.Empty:
            if self._queue.empty():
                self._idle.set()
            return []
        while len(batch) < self._max_batch:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        while not self._stop.is_set():
            batch = self._take_batch()
            if batch:
                self._commit(batch)

    def _commit(self, batch: list[tuple[list[Decision], Ack | None]]) -> None:
        decisions = [d for ds, _ in batch for d in ds]
        retried = Batch()
        attempt = 0
        while True:
            try:
                views = self._apply(decisions, retried)
                break
            except Exception as exc:  # database away: keep the batch, retry, say so
                self.stats.failures += 1
                self.stats.healthy = False
                self.stats.last_error = repr(exc)
                delay = backoff_delay(attempt, base=0.2, cap=10.0)
                attempt += 1
                log.warning(
                    "committing %d decisions failed (%s); retry in %.1fs",
                    len(decisions),
                    exc,
                    delay,
                )
                if self._stop.wait(delay):
                    log.exception(
                        "stopping with %d uncommitted decisions (not acknowledged; "
                        "QoS 1 messages will be redelivered)",
                        len(decisions),
                    )
                    return
        self.stats.healthy = True
        self.stats.batches += 1
        self.stats.decisions += len(decisions)
        for _, ack in batch:
            if ack is not None:
                ack()
        if self._on_committed is not None:
            self._on_committed(decisions, views)
        if self._queue.empty():
            self._idle.set()
