"""The dispatcher: drains the outbox into every endpoint, one pipeline step after tickets.

``run_once`` does one pass (tests drive it step by step with a ``FakeClock``); ``start``
runs one thread per endpoint, each in its own error boundary, so a slow or broken receiver
never holds up the others. Any number of dispatchers may run against one PostgreSQL
database (rows are claimed ``FOR UPDATE SKIP LOCKED``); on SQLite run one.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
import uuid
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from delivery import store
from delivery.config import EventFilter
from delivery.connector import AttemptResult, Connector, Message
from delivery.models import DeliveryStatus
from delivery.policy import OUTAGE_REASONS, Outcome, Reason, RetryPolicy, settle
from steward.clock import Clock, as_datetime
from tickets.db import read_session, write_session

log = logging.getLogger("steward.delivery")


@dataclass(frozen=True)
class Route:
    """An endpoint: its name in the log, what it wants, and the connector that reaches it."""

    name: str
    target: str
    filter: EventFilter
    connector: Connector

    @property
    def spec(self) -> store.EndpointSpec:
        return store.EndpointSpec(self.name, self.connector.kind, self.target)


@dataclass
class DispatcherStats:
    """Attempts by (endpoint, reason), and passes that failed before sending anything."""

    attempts: Counter[tuple[str, str]] = field(default_factory=Counter)
    errors: Counter[tuple[str, str]] = field(default_factory=Counter)
    last_error: str = ""


class Dispatcher:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        routes: Sequence[Route],
        *,
        policy: RetryPolicy | None = None,
        batch_size: int = 100,
        fan_out_batch: int = 500,
        max_in_flight: int = 8,
        poll_interval_s: float = 0.2,
        rng: random.Random | None = None,
        worker: str | None = None,
    ) -> None:
        if len({r.name for r in routes}) != len(routes):
            raise ValueError("endpoint names must be unique")
        self._sessions = sessions
        self._clock = clock
        self.routes = tuple(routes)
        self.policy = policy or RetryPolicy()
        self._batch_size = batch_size
        self._fan_out_batch = fan_out_batch
        self._max_in_flight = max_in_flight
        self._poll_interval_s = poll_interval_s
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not secrecy)
        self.worker = worker or f"{socket.gethostname()}-{uuid.uuid4().hex[:6]}"[:64]
        self._lock_rows = sessions.kw["bind"].dialect.name == "postgresql"
        self.stats = DispatcherStats()
        self._stats_lock = threading.Lock()
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._outage: set[str] = set()
        self._failing: dict[str, str] = {}
        """Endpoint → why its last pass failed (logged once per reason)."""
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._open = False
        with write_session(sessions) as session:
            store.register(session, [r.spec for r in self.routes], now=clock.now())

    # -- lifecycle ----------------------------------------------------------------------------
    def open(self) -> None:
        """Connect the connectors (``run_once`` does it on first use)."""
        if self._open:
            return
        for route in self.routes:
            route.connector.start()
            self._pools[route.name] = ThreadPoolExecutor(
                self._max_in_flight, thread_name_prefix=f"steward-delivery-{route.name}"
            )
        self._open = True

    def start(self) -> None:
        self.open()
        self._stop.clear()
        for route in self.routes:
            thread = threading.Thread(
                target=self._run,
                args=(route,),
                name=f"steward-dispatch-{route.name}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        log.info(
            "delivery: %d endpoint(s): %s",
            len(self.routes),
            ", ".join(f"{r.name} ({r.target})" for r in self.routes) or "none",
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the sends in flight (each bounded by its timeout), then close."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
        for pool in self._pools.values():
            pool.shutdown(wait=True)
        self._pools.clear()
        for route in self.routes:
            route.connector.close()
        self._open = False

    def __enter__(self) -> Dispatcher:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def wake(self) -> None:
        """New events were committed in this process: look now rather than at the next poll."""
        self._wake.set()

    # -- work ---------------------------------------------------------------------------------
    def run_once(self) -> int:
        """One pass over every endpoint: queue new events, then send one batch of what is due.
        Returns the number of attempts made."""
        self.open()
        return sum(self.step(route) for route in self.routes)

    def step(self, route: Route) -> int:
        try:
            with read_session(self._sessions) as session:
                state = store.endpoint_state(session, route.name)
            made = 0
            if not state.idle(as_datetime(self._clock.now())):  # idle: the usual poll
                self._fan_out(route, state)
                made = self._send_due(route, state)
        except Exception as exc:  # database away, or a bug: count it, say it once, go on
            self._pass_failed(route, exc)
            return 0
        if self._failing.pop(route.name, None) is not None:
            log.info("delivery to %s: passes succeed again", route.name)
        return made

    def _pass_failed(self, route: Route, exc: Exception) -> None:
        """Counted every time, logged when the reason changes: a database outage is one
        warning per endpoint, not a traceback every poll interval."""
        reason = f"{exc.__class__.__name__}: {exc}".splitlines()[0]
        with self._stats_lock:
            self.stats.errors[(route.name, Reason.INTERNAL_ERROR.value)] += 1
            self.stats.last_error = f"{route.name}: {exc!r}"
            repeated = self._failing.get(route.name) == reason
            self._failing[route.name] = reason
        if repeated:
            return
        if isinstance(exc, SQLAlchemyError):
            log.warning("delivery to %s: pass failed, database: %s; retrying", route.name, reason)
        else:
            log.exception("delivery to %s: pass failed", route.name)

    def _run(self, route: Route) -> None:
        while not self._stop.is_set():
            if self.step(route) == 0:
                self._wake.wait(self._poll_interval_s)
                self._wake.clear()

    def _fan_out(self, route: Route, state: store.EndpointState) -> None:
        if state.outbox_top <= state.cursor:
            return
        while True:
            with write_session(self._sessions) as session:
                read = store.fan_out(
                    session,
                    route.name,
                    route.filter,
                    now=self._clock.now(),
                    limit=self._fan_out_batch,
                )
            if read < self._fan_out_batch:
                return

    def _send_due(self, route: Route, state: store.EndpointState) -> int:
        """``state``: as the pass read it first; PostgreSQL reads it again under its lock."""
        now = self._clock.now()
        if self._lock_rows:  # PostgreSQL: hold the claimed rows until their results commit
            with write_session(self._sessions) as session:
                if store.endpoint_state(session, route.name).disabled:
                    return 0
                batch = store.due(session, route.name, now=now, limit=self._batch_size, lock=True)
                results = self._send_all(route, batch, now)
                self._record(session, route, batch, results, started=now)
            return len(batch)
        if state.disabled:  # SQLite: read at the pass's start, unlocked, as a re-read would be
            return 0
        with read_session(self._sessions) as session:  # SQLite: never hold the write lock
            batch = store.due(session, route.name, now=now, limit=self._batch_size, lock=False)
        if not batch:
            return 0
        results = self._send_all(route, batch, now)
        with write_session(self._sessions) as session:
            self._record(session, route, batch, results, started=now)
        return len(batch)

    def _send_all(
        self, route: Route, batch: Sequence[store.Due], now: float
    ) -> list[AttemptResult]:
        def send(item: store.Due) -> AttemptResult:
            message = Message(
                item.delivery_id, item.event_id, item.site, item.event_type, item.payload
            )
            try:
                return route.connector.send(message, now=now)
            except Exception as exc:  # a connector bug must not stop the others
                log.exception("delivery %d to %s: connector raised", item.delivery_id, route.name)
                return AttemptResult.from_error(
                    Reason.INTERNAL_ERROR, latency_ms=0.0, detail=repr(exc)
                )

        if len(batch) <= 1:
            return [send(item) for item in batch]
        return list(self._pools[route.name].map(send, batch))

    def _record(
        self,
        session: Session,
        route: Route,
        batch: Sequence[store.Due],
        results: Sequence[AttemptResult],
        *,
        started: float,
    ) -> None:
        now = self._clock.now()
        for item, result in zip(batch, results, strict=True):
            values, attempt = self._settlement(item, result, started=started, now=now)
            store.record_attempt(
                session, delivery_id=item.delivery_id, values=values, attempt=attempt
            )
            with self._stats_lock:
                self.stats.attempts[(route.name, attempt["reason"])] += 1
            if result.outcome is Outcome.GONE:
                store.disable(session, route.name, now=now, reason=f"HTTP 410 for {item.event_id}")
                log.warning("endpoint %s answered 410 Gone: disabled", route.name)
        reasons = {r.reason for r in results}
        if reasons & OUTAGE_REASONS:
            self._outage.add(route.name)
        elif route.name in self._outage and Reason.OK in reasons:
            self._outage.discard(route.name)
            store.retry_now(session, route.name, now=now)

    def _settlement(
        self, item: store.Due, result: AttemptResult, *, started: float, now: float
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        settled = settle(
            result.outcome,
            result.reason,
            failures=item.failures,
            retry_since=None if item.retry_since is None else item.retry_since.timestamp(),
            retry_after=result.retry_after_s,
            now=now,
            policy=self.policy,
            rng=self._rng,
        )
        values: dict[str, Any] = {
            "status": settled.status,
            "attempts": item.attempts + 1,
            "failures": settled.failures,
            "next_attempt_at": as_datetime(settled.next_attempt_at),
            "retry_since": None
            if settled.retry_since is None
            else as_datetime(settled.retry_since),
            "last_attempt_at": as_datetime(started),
            "last_status_code": result.status_code,
            "last_reason": settled.reason.value,
        }
        if settled.status == DeliveryStatus.DELIVERED:
            values["delivered_at"] = as_datetime(now)
        attempt = {
            "number": item.attempts + 1,
            "at": as_datetime(started),
            "worker": self.worker,
            "outcome": (
                Outcome.FAILED if settled.reason is Reason.RETRIES_EXHAUSTED else result.outcome
            ).value,
            "reason": settled.reason.value,
            "status_code": result.status_code,
            "latency_ms": result.latency_ms,
            "detail": result.detail,
        }
        return values, attempt
