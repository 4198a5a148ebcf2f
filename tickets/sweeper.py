"""The clock side of the ticket store in a thread of its own: ``TicketService.sweep`` every
``interval_s``, so deadlines escalate and windows end with no request in flight and without
the gateway's network thread ever waiting on the database.

A failed sweep is logged once with its reason, counted, and retried on the next tick: what it
did not record is still due (``sweep_at`` stays), so nothing is lost.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from tickets.service import TicketService

log = logging.getLogger("steward.sweeper")


@dataclass
class SweeperStats:
    sweeps: int = 0
    changed: int = 0
    """Tickets the sweeps changed (escalated, reminded, opened from a window)."""
    failures: int = 0
    last_error: str = ""


class Sweeper:
    def __init__(self, service: TicketService, *, interval_s: float = 1.0) -> None:
        if interval_s <= 0:
            raise ValueError("the sweep interval must be positive")
        self._service = service
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stats = SweeperStats()

    def run_once(self) -> int:
        """One sweep; the number of tickets it changed (0 when it failed)."""
        try:
            changed = len(self._service.sweep())
        except SQLAlchemyError as exc:  # database away or a lock conflict: next tick retries
            self._failed(f"database: {exc.__class__.__name__}: {exc}".splitlines()[0])
            return 0
        except Exception as exc:  # one bad sweep must not stop the clock
            log.exception("ticket sweep failed")
            self._failed(repr(exc))
            return 0
        self.stats.sweeps += 1
        self.stats.changed += changed
        return changed

    def _failed(self, reason: str) -> None:
        if reason != self.stats.last_error:
            log.warning("ticket sweep failed (%s); retrying every %.1fs", reason, self._interval_s)
        self.stats.failures += 1
        self.stats.last_error = reason

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="steward-sweeper", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.run_once()
