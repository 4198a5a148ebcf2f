"""The embedded telemetry store: one SQLite file, no servers (the default without InfluxDB).

Layout: a table per kind and UTC day (``elevator_20260101``), one row per reading with a
column per field (``telemetry.fields``), indexed by (device, time). Day tables make
retention exact and cheap: a day whose every reading is older than the retention is dropped
whole, and compaction (``incremental_vacuum``, then a WAL checkpoint) gives the pages back to
the file system. Data is kept at least ``retention_s`` and at most a day longer.

Table and column names in the SQL come only from ``telemetry.fields`` and ``partition_name``
(never from a request), hence the ``noqa: S608`` on the statements that name them.

One background thread writes batches (one transaction each); the gateway thread only appends
to the ``ReadingBuffer``. Queries are ``telemetry.embedded_query``'s, each on a read-only
connection of its own. Retention runs on the injected clock: tests move a month in a call.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gateway.mqtt import backoff_delay
from gateway.reading import Reading
from gateway.topics import DeviceRef, Kind
from steward.clock import Clock
from telemetry.buffer import LoudDrops, ReadingBuffer
from telemetry.daytables import DAY_MS, KINDS, SQL_TYPES, partition_day, partition_name
from telemetry.embedded_query import EmbeddedReader
from telemetry.fields import FIELDS, field_row
from telemetry.lineproto import BuildingOf
from telemetry.query import DeviceSeries
from telemetry.sink import SinkStats

log = logging.getLogger("steward.telemetry")

DEFAULT_RETENTION_S = 30 * 86400.0


@dataclass(frozen=True)
class RetentionReport:
    dropped: list[str]
    """Day tables dropped."""
    freed_pages: int
    """Pages given back to the file system by compaction."""


class EmbeddedStore:
    def __init__(
        self,
        path: Path,
        *,
        clock: Clock,
        building_of: BuildingOf | None = None,
        retention_s: float = DEFAULT_RETENTION_S,
        retention_every_s: float = 3600.0,
        batch_size: int = 5000,
        flush_interval_s: float = 1.0,
        buffer_readings: int = 200_000,
    ) -> None:
        self.path = path
        self.clock = clock
        self.building_of = building_of
        self.retention_s = retention_s
        self.retention_every_s = retention_every_s
        self.description = f"embedded store {path} (retention {retention_s / 86400:g} days)"
        self.buffer = ReadingBuffer(
            capacity=buffer_readings, batch_size=batch_size, flush_interval_s=flush_interval_s
        )
        self._drops = LoudDrops(f"telemetry store {path}")
        self._cond = threading.Condition()
        self._write_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._devices: dict[DeviceRef, tuple[int, str | None]] = {}
        self._partitions: set[str] = set()
        self._names: dict[tuple[Kind, int], str] = {}
        self._next_retention = 0.0
        self._written = 0
        self._expired = 0
        self._rejected = 0
        self._failures = 0
        self._healthy = True
        self._last_error = ""
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = self._open()
        self._open_db = True
        self._reader = EmbeddedReader(path)

    # -- schema ------------------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        if db.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
            # only takes effect on a new file, or after a VACUUM (cheap while it is small)
            db.execute("PRAGMA auto_vacuum=INCREMENTAL")
            db.execute("VACUUM")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA cache_size=-65536")
        db.execute(
            "CREATE TABLE IF NOT EXISTS devices (id INTEGER PRIMARY KEY, site TEXT NOT NULL, "
            "kind TEXT NOT NULL, device TEXT NOT NULL, building TEXT, "
            "UNIQUE (site, device, kind))"
        )
        for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'"):
            parsed = partition_day(name)
            if parsed is not None:
                self._partitions.add(name)
                self._add_missing_columns(db, name, parsed[0])
        self._load_devices(db)
        return db

    def _load_devices(self, db: sqlite3.Connection) -> None:
        self._devices.clear()
        for row_id, site, kind, device, building in db.execute(
            "SELECT id, site, kind, device, building FROM devices"
        ):
            if kind in KINDS:
                self._devices[DeviceRef(site, KINDS[kind], device)] = (row_id, building)

    @staticmethod
    def _add_missing_columns(db: sqlite3.Connection, table: str, kind: Kind) -> None:
        """A field added to the contract after a day table was made: add its column."""
        have = {row[1] for row in db.execute(f'PRAGMA table_info("{table}")')}
        for spec in FIELDS[kind]:
            if spec.name not in have:
                db.execute(f'ALTER TABLE "{table}" ADD COLUMN "{spec.name}" {SQL_TYPES[spec.type]}')

    def _partition(self, kind: Kind, day: int) -> str:
        name = self._names.get((kind, day))
        if name is None:
            name = self._names[kind, day] = partition_name(kind, day)
        if name not in self._partitions:
            columns = ", ".join(f'"{s.name}" {SQL_TYPES[s.type]}' for s in FIELDS[kind])
            self._db.execute(
                f'CREATE TABLE IF NOT EXISTS "{name}" '
                f"(device_id INTEGER NOT NULL, ts INTEGER NOT NULL, {columns})"
            )
            self._db.execute(
                f'CREATE INDEX IF NOT EXISTS "{name}_device_ts" ON "{name}" (device_id, ts)'
            )
            self._partitions.add(name)
        return name

    def _device_id(self, ref: DeviceRef) -> int:
        building = self.building_of(ref) if self.building_of else None
        known = self._devices.get(ref)
        if known is not None and known[1] == building:
            return known[0]
        self._db.execute(
            "INSERT INTO devices (site, kind, device, building) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (site, device, kind) DO UPDATE SET building = excluded.building",
            (ref.site, ref.kind.value, ref.device, building),
        )
        (row_id,) = self._db.execute(
            "SELECT id FROM devices WHERE site = ? AND device = ? AND kind = ?",
            (ref.site, ref.device, ref.kind.value),
        ).fetchone()
        self._devices[ref] = (row_id, building)
        return int(row_id)

    # -- the gateway's entry point ---------------------------------------------------------------
    def add(self, reading: Reading) -> None:
        if not self.buffer.add(reading):
            self._drops.drop(1, "in-memory buffer full: the store is not keeping up")

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="steward-telemetry", daemon=True)
        self._thread.start()
        log.info("telemetry to %s", self.description)

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self.buffer.close()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        with self._write_lock:
            if self._open_db:
                self._open_db = False
                self._db.execute("PRAGMA optimize")
                self._db.close()

    def flush(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        self.buffer.hurry()
        try:
            with self._cond:
                while len(self.buffer):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._cond.wait(min(remaining, 0.05))
            return True
        finally:
            self.buffer.calm()

    # -- state -------------------------------------------------------------------------------------
    @property
    def healthy(self) -> bool:
        return self._healthy

    @property
    def stats(self) -> SinkStats:
        return SinkStats(
            received=self.buffer.received,
            written=self._written,
            buffered=len(self.buffer),
            dropped=self._drops.count,
            rejected=self._rejected,
            expired=self._expired,
            failures=self._failures,
            healthy=self._healthy,
            last_error=self._last_error,
        )

    def partitions(self) -> list[str]:
        return sorted(self._partitions)

    # -- writer thread -----------------------------------------------------------------------------
    def _run(self) -> None:
        attempt = 0
        while True:
            batch = self.buffer.next_batch()
            while batch:
                try:
                    self.insert(batch)
                    attempt = 0
                    break
                except sqlite3.Error as exc:  # disk full, file locked: keep the batch, retry
                    self._failures += 1
                    self._healthy = False
                    self._last_error = f"{type(exc).__name__}: {exc}"
                    log.warning("telemetry store write failed (%s); retrying", exc)
                    if self._stopping.is_set():
                        self._drops.drop(len(batch), f"store unwritable at shutdown: {exc}")
                        break
                    self._stopping.wait(backoff_delay(attempt, cap=10.0))
                    attempt += 1
                except Exception as exc:  # a batch we cannot store must not stop the thread
                    log.exception("telemetry batch of %d readings could not be stored", len(batch))
                    self._rejected += len(batch)
                    self._last_error = f"{type(exc).__name__}: {exc}"
                    break
            self._maybe_enforce_retention()
            with self._cond:
                self.buffer.release()
                self._cond.notify_all()
            if not batch and self.buffer.closed:
                return

    def insert(self, readings: Sequence[Reading]) -> int:
        """Store readings in one transaction; returns how many were kept (not expired)."""
        cutoff_ms = round((self.clock.now() - self.retention_s) * 1000)
        groups: dict[str, list[tuple[object, ...]]] = defaultdict(list)
        expired = 0
        with self._write_lock:
            self._db.execute("BEGIN")
            try:
                for reading in readings:
                    ts = round(reading.observed_at * 1000)
                    if ts < cutoff_ms:
                        expired += 1
                        continue
                    kind = reading.ref.kind
                    table = self._partition(kind, ts // DAY_MS)
                    groups[table].append(
                        (self._device_id(reading.ref), ts, *field_row(kind, reading.telemetry))
                    )
                for table, rows in groups.items():
                    width = len(rows[0])
                    self._db.executemany(
                        f'INSERT INTO "{table}" VALUES ({", ".join("?" * width)})',  # noqa: S608
                        rows,
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                self._load_devices(self._db)  # ids made in the rolled-back transaction are gone
                raise
        self._written += len(readings) - expired
        self._expired += expired
        self._healthy = True
        return len(readings) - expired

    # -- retention and compaction ------------------------------------------------------------------
    def _maybe_enforce_retention(self) -> None:
        now = self.clock.now()
        if now < self._next_retention:
            return
        self._next_retention = now + self.retention_every_s
        try:
            self.enforce_retention(now)
        except sqlite3.Error:
            log.exception("telemetry retention failed; will try again")

    def enforce_retention(self, now: float | None = None) -> RetentionReport:
        """Drop the day tables whose every reading is older than the retention, then compact."""
        now = self.clock.now() if now is None else now
        cutoff_ms = (now - self.retention_s) * 1000
        dropped = []
        with self._write_lock:
            for name in sorted(self._partitions):
                parsed = partition_day(name)
                if parsed is not None and (parsed[1] + 1) * DAY_MS <= cutoff_ms:
                    self._db.execute(f'DROP TABLE IF EXISTS "{name}"')
                    self._partitions.discard(name)
                    dropped.append(name)
            freed = 0
            if dropped:
                before = self._db.execute("PRAGMA freelist_count").fetchone()[0]
                # executescript steps it to the end (execute would free a single page)
                self._db.executescript("PRAGMA incremental_vacuum;")
                after = self._db.execute("PRAGMA freelist_count").fetchone()[0]
                freed = int(before) - int(after)
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
                log.info(
                    "telemetry retention: dropped %d day tables older than %g days, freed %d pages",
                    len(dropped),
                    self.retention_s / 86400,
                    freed,
                )
        return RetentionReport(dropped, freed)

    # -- queries (API threads) -------------------------------------------------------------------
    def readings(
        self,
        *,
        site: str,
        device: str,
        start: float,
        end: float,
        fields: Sequence[str] | None = None,
        step_s: float | None = None,
        limit: int = 10_000,
    ) -> DeviceSeries:
        return self._reader.readings(
            site=site,
            device=device,
            start=start,
            end=end,
            fields=fields,
            step_s=step_s,
            limit=limit,
        )
