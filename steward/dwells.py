"""Rule dwells survive a restart, a SIGKILL included.

A duration rule (an entrapment: stopped, door closed, occupied for 30 s) keeps in memory since
when its condition has held. Killed mid-dwell, a new process would start counting again from
the next message, late by the whole outage. ``DwellSaver`` keeps the running dwells in the
database (table ``rule_dwells``: one row per device, written when a dwell starts or changes,
deleted when it ends) and, on start, ``load_dwells`` hands them back to the engine
(``RulesEngine.resume``) so they fire at their own time.

A QoS 1 reading that starts a dwell is acknowledged only once that dwell is saved: killed
before the save, the broker redelivers the reading and the dwell starts from it again.

A dwell started by a QoS 0 reading is written once it has run ``SAVE_AFTER_S`` (5 s). Most
dwells end sooner: a door open at a landing is an 80 s ``door_fault`` dwell, and a busy estate
opens thousands of doors a minute. Writing each of them, then deleting it a second or two
later, took 16 % of the process's GIL time at 10,000 msg/s and held SQLite's write lock while
emergencies waited to commit. The price: a SIGKILL loses a QoS 0 dwell younger than that (it
starts again from the device's next message after the restart). A clean stop saves them all.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from gateway.payloads import SCHEMAS
from gateway.reading import Reading
from gateway.topics import DeviceRef, Kind
from rules.engine import Dwell, RulesEngine
from steward.clock import Clock, as_datetime
from tickets.db import read_session, write_session
from tickets.models import RuleDwell

log = logging.getLogger("steward.dwells")

Ack = Callable[[], None]
SAVE_AFTER_S = 5.0
"""How long a dwell nobody waits on (started by a QoS 0 reading) runs before it is saved."""


def reading_to_json(reading: Reading) -> dict[str, Any]:
    return {
        "telemetry": reading.telemetry.model_dump(mode="json", exclude_unset=True),
        "received_at": reading.received_at,
        "observed_at": reading.observed_at,
        "flags": sorted(reading.flags),
        "registered": reading.registered,
    }


def reading_from_json(ref: DeviceRef, data: dict[str, Any]) -> Reading:
    telemetry: Any = SCHEMAS[ref.kind].model_validate(data["telemetry"])
    return Reading(
        ref=ref,
        telemetry=telemetry,
        received_at=float(data["received_at"]),
        observed_at=float(data["observed_at"]),
        flags=frozenset(data.get("flags", ())),
        registered=bool(data.get("registered", True)),
    )


def load_dwells(sessions: sessionmaker[Session]) -> list[Dwell]:
    """The saved dwells; a row that no longer parses (a schema change) is logged and skipped:
    its dwell starts again from the device's next message, as it would have without a save."""
    out = []
    with read_session(sessions) as session:
        rows = session.scalars(select(RuleDwell)).all()
    for row in rows:
        try:
            ref = DeviceRef(row.site, Kind(row.kind), row.device)
            since = {str(rule): float(at) for rule, at in row.since.items()}
            memo = row.reading.get("view_memo") or {}
            out.append(Dwell(reading_from_json(ref, row.reading), since, dict(memo)))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("saved dwell of %s/%s not resumed: %s", row.site, row.device, exc)
    return out


@dataclass
class DwellStats:
    saves: int = 0
    rows_written: int = 0
    rows_deleted: int = 0
    failures: int = 0
    healthy: bool = True
    last_error: str = ""


class DwellSaver:
    """Saves the engine's running dwells: soon after a QoS 1 reading starts one (``submit``),
    and every ``interval_s`` the others that have run ``save_after_s``, the changes of those
    saved, and the ends."""

    def __init__(
        self,
        engine: RulesEngine,
        sessions: sessionmaker[Session],
        clock: Clock,
        *,
        interval_s: float = 1.0,
        min_gap_s: float = 0.05,
        save_after_s: float = SAVE_AFTER_S,
        saved: list[Dwell] | None = None,
    ) -> None:
        self.engine = engine
        self.sessions = sessions
        self.clock = clock
        self.interval_s = interval_s
        self.min_gap_s = min_gap_s
        self.save_after_s = save_after_s
        self.stats = DwellStats()
        self._saved: dict[str, dict[str, float]] = {
            d.reading.ref.key: dict(d.since) for d in saved or ()
        }
        self._acks: list[Ack] = []
        self._urgent: set[str] = set()
        """Devices whose new dwell a QoS 1 reading waits on: saved at the next save."""
        self._urgent_all = False
        """A submit named no device: the next save writes every change, young ones too."""
        self._first_seen: dict[str, float] = {}
        """Dwells not saved yet: when a save first saw them."""
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def submit(self, ack: Ack, key: str | None = None) -> None:
        """A QoS 1 reading started a dwell of device ``key`` (``site/device``; None: any
        device's): save it soon, whatever its age, then acknowledge the reading. (QoS 0
        dwells, with nothing to hold back, wait for the periodic save and ``save_after_s``.)"""
        with self._lock:
            self._acks.append(ack)
            if key is not None:
                self._urgent.add(key)
            else:
                self._urgent_all = True
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="steward-dwells", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.save(everything=True)  # the last word: a clean stop resumes exactly

    def save(self, *, everything: bool = False) -> bool:
        """Write what changed since the last save (``everything``: young dwells included),
        then release the acks taken before it. False (acks kept for the next try) when the
        database is away."""
        with self._lock:
            acks, self._acks = self._acks, []
            urgent, self._urgent = self._urgent, set()
            urgent_all, self._urgent_all = self._urgent_all, False
        everything = everything or urgent_all
        now = self.clock.now()
        with self.engine.lock:
            starts = self.engine.dwell_starts()
            changed = {}
            for key, since in starts.items():
                saved = self._saved.get(key)
                if saved == since:
                    continue
                young = saved is None and not everything and key not in urgent
                if young and now - self._first_seen.setdefault(key, now) < self.save_after_s:
                    continue  # most end before they matter
                dwell = self.engine.dwell(key)
                if dwell is not None:
                    changed[key] = dwell
        for key in [key for key in self._first_seen if key not in starts]:
            del self._first_seen[key]  # ended before it was saved: nothing to write
        gone = [key for key in self._saved if key not in starts]
        try:
            if changed or gone:
                self._write(changed, gone, now)
        except SQLAlchemyError as exc:
            with self._lock:
                self._acks[:0] = acks
                self._urgent |= urgent
                self._urgent_all |= urgent_all
            self.stats.failures += 1
            self.stats.healthy = False
            self.stats.last_error = f"{type(exc).__name__}: {exc}"[:500]
            log.warning("saving rule dwells failed, will retry: %s", self.stats.last_error)
            return False
        for key in gone:
            del self._saved[key]
        for key, dwell in changed.items():
            self._saved[key] = dict(dwell.since)
            self._first_seen.pop(key, None)
        self.stats.saves += 1
        self.stats.rows_written += len(changed)
        self.stats.rows_deleted += len(gone)
        self.stats.healthy = True
        for ack in acks:
            ack()
        return True

    def _write(self, changed: dict[str, Dwell], gone: list[str], now: float) -> None:
        # Rows are built before the transaction and written with Core (one executemany): a
        # busy estate starts and ends thousands of dwells a second (a door open at a landing
        # is one), and on SQLite the decision writer waits while this holds the write lock.
        saved_at = as_datetime(now)
        rows = [
            {
                "site": d.reading.ref.site,
                "device": d.reading.ref.device,
                "kind": d.reading.ref.kind.value,
                "reading": {**reading_to_json(d.reading), "view_memo": d.memo},
                "since": d.since,
                "saved_at": saved_at,
            }
            for d in changed.values()
        ]
        # a device key is "site/device" (ids cannot hold a "/"); deleted per site, which
        # PostgreSQL finds by the primary key (a (site, device) IN list of pairs it did not:
        # 0.6 s for 5,000 pairs)
        by_site: dict[str, list[str]] = {}
        for key in [*gone, *changed]:
            site, device = key.split("/", 1)
            by_site.setdefault(site, []).append(device)
        table = cast(Table, RuleDwell.__table__)
        with write_session(self.sessions) as session:
            for site, devices in by_site.items():
                for start in range(0, len(devices), 500):
                    session.execute(
                        delete(table).where(
                            table.c.site == site, table.c.device.in_(devices[start : start + 500])
                        )
                    )
            if rows:
                session.execute(insert(table), rows)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            self._wake.wait(self.interval_s)
            # gather what else starts meanwhile into the same write (acks wait this long)
            self._stop.wait(self.min_gap_s)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                ok = self.save()
            except Exception:  # the saver must outlive any one bad save
                log.exception("saving rule dwells failed")
                ok = False
            failures = 0 if ok else failures + 1
            if failures:
                self._stop.wait(min(30.0, 0.5 * 2**failures))
