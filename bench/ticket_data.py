"""A large, realistic ticket history for the API benchmark, bulk-loaded and cached.

The rows match the real schema (tickets/models.py, migrated by tickets/db.py ``migrate``): one
row per ticket and its history (``opened``, then ``acknowledged``, ``started``, ``progress``,
``resolved``, ``closed`` or ``cancelled`` as far as it got), as ``TicketService`` writes them.
Spread: ``SITES`` sites with Zipf-like weights (a few large estates, many small), a fleet per
site of elevators, water sensors, extinguishers and patrol checkpoints where a few devices
fail far more often than the rest, real rule ids with their own priority and category, 8 %
manual complaints, opening times spread over ``SPAN_DAYS`` days ending at load time with a
daytime peak. Old tickets are mostly closed; the last days hold the active ones (at most one
active ticket per condition, as the database enforces).

Loading bypasses the ORM (``executemany`` on SQLite, ``COPY`` on PostgreSQL) and is cached:
the SQLite file and the PostgreSQL database are named after the schema revision, the size,
the seed and ``DATA_VERSION``, and carry a ``bench_meta`` table written last, so a re-run
finds them complete and does not reload.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import orjson
import psycopg
from alembic.script import ScriptDirectory
from sqlalchemy import make_url

from rules.engine import RULES_BY_ID
from tickets.db import alembic_config, make_engine, migrate
from tickets.store import ticket_number

DATA_VERSION = 1
"""Bump when the generated data changes: cached databases are then rebuilt."""
SITES = 25
SPAN_DAYS = 120
CHUNK = 20_000
DEVICES_PER_SITE = {"elevator": 40, "water_pressure": 12, "extinguisher": 60, "patrol": 24}
MANUAL_SHARE = 0.08
RULE_WEIGHTS: dict[str, dict[str, float]] = {
    "elevator": {
        "elevator.door_fault": 22,
        "elevator.stopped_outside_door_zone": 10,
        "elevator.controller_fault": 8,
        "elevator.alarm_follow_up": 7,
        "elevator.alarm_button": 4,
        "elevator.entrapment": 3,
        "elevator.entrapment_at_landing": 1,
        "elevator.circuit_open": 3,
        "elevator.power_loss": 2,
        "elevator.speed_abnormal": 1,
        "elevator.long_inspection": 2,
        "elevator.fire_mode": 1,
        "elevator.maintenance_overdue": 2,
        "elevator.inspection_due": 1,
        "elevator.repeated_failure": 2,
        "device.offline": 4,
        "sensor.implausible": 1,
    },
    "water_pressure": {
        "water.low_pressure": 8,
        "water.high_pressure": 3,
        "water.outage": 2,
        "water.burst": 1,
        "water.fire_low_pressure": 2,
        "water.sensor_fault": 2,
        "sensor.stuck": 2,
        "device.offline": 3,
        "device.battery_low": 2,
    },
    "extinguisher": {
        "extinguisher.low_pressure": 6,
        "extinguisher.removed": 5,
        "extinguisher.discharged": 1,
        "extinguisher.inspection_overdue": 6,
        "device.offline": 3,
        "device.battery_low": 4,
    },
    "patrol": {
        "patrol.missed_checkpoint": 12,
        "patrol.missed_repeatedly": 3,
        "patrol.suspicious_rescan": 2,
        "patrol.guard_inactive": 1,
        "device.battery_low": 2,
    },
}
KIND_WEIGHTS = {"elevator": 55, "water_pressure": 12, "extinguisher": 18, "patrol": 15}
HOUR, DAY = 3600.0, 86400.0
SLA = {  # respond, onsite, plan, resolve (seconds; tickets/sla.py defaults)
    "emergency": (15 * 60.0, 2 * HOUR, None, None),
    "important": (2 * HOUR, 2 * HOUR, 24 * HOUR, 72 * HOUR),
    "general": (4 * HOUR, 24 * HOUR, 4 * HOUR, 24 * HOUR),
}
FOLLOW_UP_S = 2 * DAY
TICKET_COLUMNS = (
    *("id", "number", "site", "building", "device", "kind", "location", "rule", "category"),
    *("priority", "status", "title", "description", "source", "opened_at", "acknowledged_at"),
    *("resolved_at", "closed_at", "condition_cleared_at", "respond_by", "onsite_by", "plan_by"),
    *("resolve_by", "follow_up_by", "escalation_level", "occurrences", "last_occurrence_at"),
    *("dedup_key", "active_dedup_key", "owner", "evidence", "reporter", "idempotency_key"),
    *("request_hash", "onsite_at", "planned_at", "followed_up_at", "follow_up_result"),
    *("followed_up_by", "parent_number", "sweep_at", "sla_state", "parent_id", "satisfaction"),
)
EVENT_COLUMNS: tuple[str, ...] = ("id", "ticket_id", "at", "actor", "action", "from_status")
EVENT_COLUMNS += ("to_status", "note", "data")
TIME_COLUMNS = frozenset(
    c for c in TICKET_COLUMNS if c.endswith(("_at", "_by")) and c != "followed_up_by"
)
Progress = Callable[[str], None]


@dataclass(frozen=True)
class DataInfo:
    """What was loaded; kept in the database's ``bench_meta`` table."""

    key: str
    tickets: int
    events: int
    sites: list[str]
    start: float
    end: float
    """Epoch seconds of the oldest and newest opening."""
    by_status: dict[str, int]
    by_priority: dict[str, int]
    devices: int
    load_s: float

    @classmethod
    def from_json(cls, text: str) -> DataInfo:
        return cls(**json.loads(text))


def schema_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return head or "none"


def cache_key(tickets: int, seed: int) -> str:
    return f"r{schema_revision()}_n{tickets}_s{seed}_v{DATA_VERSION}"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "steward-bench"


# -- generation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Device:
    site: str
    building: str
    kind: str
    device: str
    weight: float


def fleet(rng: random.Random) -> tuple[list[str], list[Device]]:
    sites = [f"estate-{s + 1:02d}" for s in range(SITES)]
    devices = []
    for s, site in enumerate(sites):
        size = 1.0 / (s + 1) ** 0.6  # a few large estates, many small ones
        for kind, n in DEVICES_PER_SITE.items():
            for i in range(n):
                building = f"b{i % 8 + 1:02d}"
                short = {"elevator": "elv", "water_pressure": "water"}.get(kind, kind[:3])
                # a few devices fail far more often than the rest
                weight = size * KIND_WEIGHTS[kind] / n * rng.paretovariate(1.5)
                devices.append(Device(site, building, kind, f"{building}-{short}-{i + 1}", weight))
    return sites, devices


def _status(age_s: float, rng: random.Random) -> str:
    if age_s > 7 * DAY:
        return rng.choices(
            ("closed", "resolved", "cancelled", "in_progress", "acknowledged"),
            (85, 8, 5, 1, 1),
        )[0]
    if age_s > DAY:
        return rng.choices(
            ("closed", "resolved", "cancelled", "in_progress", "acknowledged", "open"),
            (55, 25, 4, 8, 5, 3),
        )[0]
    return rng.choices(
        ("closed", "resolved", "cancelled", "in_progress", "acknowledged", "open"),
        (10, 20, 3, 22, 20, 25),
    )[0]


def _opening_times(n: int, start: float, end: float, rng: random.Random) -> list[float]:
    """``n`` sorted times with a daytime peak (08:00-20:00 three times as busy)."""
    out: list[float] = []
    while len(out) < n:
        t = rng.uniform(start, end)
        hour = (t % DAY) / HOUR
        if 8 <= hour < 20 or rng.random() < 1 / 3:
            out.append(t)
    out.sort()
    return out


_Event = tuple[str, str, str | None, str | None, float]
"""actor, action, from_status, to_status, at"""


@dataclass
class _Generated:
    tickets: list[dict[str, Any]]
    events: list[dict[str, Any]]


class Generator:
    """Tickets in id order, chunk by chunk (ids and history ids are assigned here)."""

    def __init__(self, n: int, *, seed: int, end: float) -> None:
        self.rng = random.Random(seed)
        self.sites, self.devices = fleet(self.rng)
        self.weights = list(itertools.accumulate(d.weight for d in self.devices))
        self.end = end
        self.start = end - SPAN_DAYS * DAY
        self.times = _opening_times(n, self.start, end, self.rng)
        self.active: set[str] = set()
        self.event_id = 0
        self.by_status: dict[str, int] = {}
        self.by_priority: dict[str, int] = {}

    def chunks(self, size: int = CHUNK) -> Iterator[_Generated]:
        for begin in range(0, len(self.times), size):
            chunk = _Generated([], [])
            for i in range(begin, min(begin + size, len(self.times))):
                self._ticket(i + 1, self.times[i], chunk)
            yield chunk

    def _ticket(self, pk: int, opened: float, out: _Generated) -> None:
        rng = self.rng
        number = ticket_number(pk)
        status = _status(self.end - opened, rng)
        manual = rng.random() < MANUAL_SHARE
        subject = self._complaint(number) if manual else self._condition(opened)
        evidence = subject.pop("evidence")
        active = status in ("open", "acknowledged", "in_progress")
        dedup_key = subject["dedup_key"]
        if active and dedup_key in self.active:
            status, active = "resolved", False  # one active ticket per condition
        if active:
            self.active.add(dedup_key)
        priority = subject["priority"]
        respond, onsite, plan, resolve = SLA[priority]
        t: dict[str, Any] = dict.fromkeys(TICKET_COLUMNS)
        t.update(
            subject,
            id=pk,
            number=number,
            status=status,
            description="",
            opened_at=opened,
            respond_by=opened + respond,
            onsite_by=opened + onsite,
            plan_by=None if plan is None else opened + plan,
            resolve_by=None if resolve is None else opened + resolve,
            escalation_level=0,
            occurrences=1 + (int(rng.expovariate(1.0)) if not manual else 0),
            last_occurrence_at=opened,
            active_dedup_key=dedup_key if active else None,
            evidence=orjson.dumps(evidence).decode(),
            sla_state="{}",
        )
        events: list[_Event] = [
            ("steward" if not manual else "api", "opened", None, "open", opened)
        ]
        self._lifecycle(t, status, opened, manual, events)
        out.tickets.append(t)
        opened_data = {"rule": t["rule"], "detected_at": _iso(opened), "evidence": evidence}
        for actor, action, before, after, at in events:
            self.event_id += 1
            out.events.append(
                {
                    "id": self.event_id,
                    "ticket_id": pk,
                    "at": at,
                    "actor": actor,
                    "action": action,
                    "from_status": before,
                    "to_status": after,
                    "note": None if action == "opened" else "bench",
                    "data": orjson.dumps(opened_data if action == "opened" else {}).decode(),
                }
            )
        self.by_status[status] = self.by_status.get(status, 0) + 1
        self.by_priority[priority] = self.by_priority.get(priority, 0) + 1

    def _complaint(self, number: str) -> dict[str, Any]:
        """An owner's manual ticket: no device, rule or evidence; a reporter."""
        rng = self.rng
        site = self.sites[min(int(rng.paretovariate(1.2)) - 1, SITES - 1)]
        priority = rng.choices(("general", "important", "emergency"), (85, 12, 3))[0]
        category = rng.choices(("facility", "service", "fee", "other"), (60, 25, 10, 5))[0]
        title = "Owner complaint: " + rng.choice(_COMPLAINTS)
        reporter = {
            "room": f"{rng.randint(1, 30)}-{rng.randint(1, 30) * 100 + rng.randint(1, 4)}",
            "name": "Owner",
            "phone": f"1380000{rng.randint(0, 9999):04d}",
            "channel": rng.choice(("phone", "app", "front_desk")),
        }
        return {
            "site": site,
            "building": None,
            "device": None,
            "kind": None,
            "rule": None,
            "priority": priority,
            "category": category,
            "title": title,
            "source": "manual",
            "dedup_key": f"manual/{number}",
            "reporter": orjson.dumps(reporter).decode(),
            "evidence": {},
        }

    def _condition(self, opened: float) -> dict[str, Any]:
        """A rule's ticket on a device (the failure-prone ones more often)."""
        rng = self.rng
        d = rng.choices(self.devices, cum_weights=self.weights)[0]
        rules = RULE_WEIGHTS[d.kind]
        rule = rng.choices(list(rules), list(rules.values()))[0]
        spec = RULES_BY_ID[rule]
        return {
            "site": d.site,
            "building": d.building,
            "device": d.device,
            "kind": d.kind,
            "rule": rule,
            "priority": spec.priority.value,
            "category": spec.category.value,
            "title": spec.title,
            "source": "rule",
            "dedup_key": f"{d.site}/{d.kind}/{d.device}/{spec.group}",
            "reporter": None,
            "evidence": {
                "condition": spec.condition[:80],
                "condition_since": _iso(opened - rng.uniform(0, 120)),
                "reading": {"seq": rng.randint(1, 10**6)},
            },
        }

    def _lifecycle(
        self,
        t: dict[str, Any],
        status: str,
        opened: float,
        manual: bool,
        events: list[_Event],
    ) -> None:
        """Timestamps and history up to ``status``; the SLA is met most of the time."""
        rng, now = self.rng, self.end
        owner = f"tech-{rng.randint(1, 60):02d}"
        if status == "cancelled":
            at = min(now, opened + rng.expovariate(1 / 1800))
            events.append((owner, "cancelled", "open", "cancelled", at))
            t["closed_at"] = at
            return
        if status == "open":
            t["sweep_at"] = t["respond_by"]
            return
        ack = min(now, opened + rng.expovariate(1 / (t["respond_by"] - opened) * 3))
        t.update(acknowledged_at=ack, owner=owner)
        events.append((owner, "acknowledged", "open", "acknowledged", ack))
        if status == "acknowledged":
            t["sweep_at"] = t["onsite_by"]
            return
        start = min(now, ack + rng.expovariate(1 / (t["onsite_by"] - opened) * 3))
        t.update(onsite_at=start)
        events.append((owner, "started", "acknowledged", "in_progress", start))
        if t["priority"] == "emergency" and rng.random() < 0.5:
            events.append((owner, "progress", None, None, min(now, start + HOUR / 2)))
        if status == "in_progress":
            t["sweep_at"] = t["resolve_by"] or start + HOUR
            return
        limit = t["resolve_by"] or opened + 4 * HOUR
        resolved = min(now, start + rng.expovariate(1 / (limit - opened) * 2))
        t.update(resolved_at=resolved, condition_cleared_at=None if manual else resolved)
        if t["plan_by"] is not None:
            t["planned_at"] = min(resolved, start + rng.uniform(0, t["plan_by"] - opened))
        events.append((owner, "resolved", "in_progress", "resolved", resolved))
        if manual:
            t["follow_up_by"] = resolved + FOLLOW_UP_S
        if status == "resolved":
            return
        closed = min(now, resolved + rng.expovariate(1 / DAY))
        t["closed_at"] = closed
        if manual and rng.random() < 0.9:
            t.update(
                followed_up_at=min(closed, resolved + rng.uniform(0, FOLLOW_UP_S)),
                followed_up_by="desk",
                follow_up_result="satisfied",
                satisfaction=rng.choices((5, 4, 3, 2, 1), (50, 30, 10, 6, 4))[0],
            )
        events.append((owner, "closed", "resolved", "closed", closed))


_COMPLAINTS = (
    "corridor light out",
    "lift noisy",
    "water pressure low on upper floors",
    "parking gate stuck",
    "noise from neighbours",
    "management fee question",
    "leak in the ceiling",
)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


# -- loading -------------------------------------------------------------------------------------


_DAYS: dict[int, str] = {}


def _stamp(epoch: float, suffix: str) -> str:
    """``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC, without a datetime per value (millions here)."""
    micros = round(epoch * 1_000_000)
    day, rest = divmod(micros, 86_400_000_000)
    date = _DAYS.get(day)
    if date is None:
        date = _DAYS[day] = datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%d")
    seconds, us = divmod(rest, 1_000_000)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    return f"{date} {hours:02d}:{minutes:02d}:{seconds:02d}.{us:06d}{suffix}"


def _sqlite_time(epoch: float | None) -> str | None:
    """How SQLAlchemy stores a naive-UTC DateTime on SQLite."""
    return None if epoch is None else _stamp(epoch, "")


def _pg_time(epoch: float | None) -> str | None:
    """timestamptz as COPY text."""
    return None if epoch is None else _stamp(epoch, "+00")


def _rows(
    items: list[dict[str, Any]], columns: Sequence[str], stamp: Callable[[float | None], Any]
) -> list[tuple[Any, ...]]:
    times = [c in TIME_COLUMNS or c == "at" for c in columns]
    return [
        tuple(
            stamp(row[c]) if is_time else row[c] for c, is_time in zip(columns, times, strict=True)
        )
        for row in items
    ]


@dataclass
class Loaded:
    backend: str
    url: str
    info: DataInfo
    reused: bool


class _Target(Protocol):
    backend: str
    url: str

    def cached(self) -> DataInfo | None: ...
    def begin(self) -> None: ...
    def write(self, chunk: _Generated) -> None: ...
    def finish(self, info: DataInfo) -> None: ...


class SqliteTarget:
    """A file in the cache directory; loaded under another name and renamed when complete."""

    backend = "sqlite"

    def __init__(self, directory: Path, key: str) -> None:
        self.path = directory / f"api_load-{key}.db"
        self.loading = self.path.with_suffix(".loading")
        self.url = f"sqlite:///{self.path}"
        self._db: sqlite3.Connection | None = None

    def cached(self) -> DataInfo | None:
        if not self.path.exists():
            return None
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            row = db.execute("SELECT info FROM bench_meta").fetchone()
        except sqlite3.Error:
            return None
        finally:
            db.close()
        return None if row is None else DataInfo.from_json(row[0])

    def begin(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for base in (self.path, self.loading):
            for suffix in ("", "-wal", "-shm"):
                base.with_name(base.name + suffix).unlink(missing_ok=True)
        engine = make_engine(f"sqlite:///{self.loading}")
        migrate(engine)
        engine.dispose()
        db = self._db = sqlite3.connect(self.loading, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-262144")
        db.execute("BEGIN")

    def write(self, chunk: _Generated) -> None:
        assert self._db is not None
        tickets = _insert_sql("tickets", TICKET_COLUMNS)
        self._db.executemany(tickets, _rows(chunk.tickets, TICKET_COLUMNS, _sqlite_time))
        events = _insert_sql("ticket_events", EVENT_COLUMNS)
        self._db.executemany(events, _rows(chunk.events, EVENT_COLUMNS, _sqlite_time))

    def finish(self, info: DataInfo) -> None:
        assert self._db is not None
        db, self._db = self._db, None
        try:
            db.execute("CREATE TABLE bench_meta (info TEXT NOT NULL)")
            db.execute("INSERT INTO bench_meta VALUES (?)", (json.dumps(asdict(info)),))
            db.execute("COMMIT")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            db.close()
        self.loading.rename(self.path)


def _insert_sql(table: str, columns: Sequence[str]) -> str:
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"


class PostgresTarget:
    """Database ``steward_bench_api_<key>`` on the server of ``server_url``; the
    ``bench_meta`` table, written last, marks it complete."""

    backend = "postgresql"

    def __init__(self, server_url: str, key: str) -> None:
        self.name = postgres_database(key)
        base = make_url(server_url)
        self.url = base.set(database=self.name).render_as_string(hide_password=False)
        self.admin = _conninfo(base.set(database="postgres").render_as_string(hide_password=False))
        self._conn: psycopg.Connection[Any] | None = None

    def cached(self) -> DataInfo | None:
        with psycopg.connect(self.admin, autocommit=True) as conn:
            query = "SELECT 1 FROM pg_database WHERE datname = %s"
            if conn.execute(query, (self.name,)).fetchone() is None:
                return None
        try:
            with psycopg.connect(_conninfo(self.url)) as conn:
                row = conn.execute("SELECT info FROM bench_meta").fetchone()
        except psycopg.Error:
            return None
        return None if row is None else DataInfo.from_json(row[0])

    def begin(self) -> None:
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.name}"')
        engine = make_engine(self.url)
        migrate(engine)
        engine.dispose()
        self._conn = psycopg.connect(_conninfo(self.url))

    def write(self, chunk: _Generated) -> None:
        assert self._conn is not None
        with self._conn.cursor() as cur:
            for table, columns, items in (
                ("tickets", TICKET_COLUMNS, chunk.tickets),
                ("ticket_events", EVENT_COLUMNS, chunk.events),
            ):
                with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in _rows(items, columns, _pg_time):
                        copy.write_row(row)

    def finish(self, info: DataInfo) -> None:
        assert self._conn is not None
        conn, self._conn = self._conn, None
        with conn:
            # COPY with explicit ids leaves the id sequences behind: new rows must follow.
            for table in ("tickets", "ticket_events"):
                conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {table}))"
                )
            conn.commit()
        with psycopg.connect(_conninfo(self.url), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")  # what autovacuum does after a bulk load
            conn.execute("CREATE TABLE bench_meta (info TEXT NOT NULL)")
            conn.execute("INSERT INTO bench_meta VALUES (%s)", (json.dumps(asdict(info)),))


def postgres_database(key: str) -> str:
    return f"steward_bench_api_{key}".lower()


def _conninfo(url: str) -> str:
    """psycopg takes ``postgresql://``, not SQLAlchemy's ``postgresql+psycopg://``."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def load(
    *,
    tickets: int,
    seed: int,
    sqlite_dir: Path | None,
    postgres_url: str | None,
    reload: bool,
    progress: Progress,
) -> list[Loaded]:
    """The cached databases, loading those missing (or all with ``reload``) in one pass: the
    same generated tickets go to each."""
    key = cache_key(tickets, seed)
    targets: list[_Target] = []
    if sqlite_dir is not None:
        targets.append(SqliteTarget(sqlite_dir, key))
    if postgres_url is not None:
        targets.append(PostgresTarget(postgres_url, key))
    out: dict[str, Loaded] = {}
    todo: list[_Target] = []
    for target in targets:
        info = None if reload else target.cached()
        if info is None:
            todo.append(target)
        else:
            progress(
                f"{target.backend}: cached {target.url} holds {info.tickets:,} tickets "
                f"(loaded in {info.load_s:.0f}s); not reloading (--reload rebuilds)"
            )
            out[target.backend] = Loaded(target.backend, target.url, info, reused=True)
    if todo:
        names = " and ".join(t.backend for t in todo)
        progress(f"loading {tickets:,} tickets ({SPAN_DAYS} days, {SITES} sites) into {names}")
        started = time.perf_counter()
        gen = Generator(tickets, seed=seed, end=time.time())
        for target in todo:
            target.begin()
        done = 0
        for chunk in gen.chunks():
            for target in todo:
                target.write(chunk)
            done += len(chunk.tickets)
            if done % 100_000 < CHUNK or done == tickets:
                elapsed = time.perf_counter() - started
                progress(f"loading: {done:,}/{tickets:,} tickets ({elapsed:.0f}s)")
        info = _info(key, gen, gen.event_id, time.perf_counter() - started)
        for target in todo:
            target.finish(info)
            out[target.backend] = Loaded(target.backend, target.url, info, reused=False)
        progress(
            f"loaded {info.tickets:,} tickets and {info.events:,} history rows in "
            f"{time.perf_counter() - started:.0f}s"
        )
    return [out[t.backend] for t in targets]


def _info(key: str, gen: Generator, events: int, load_s: float) -> DataInfo:
    return DataInfo(
        key=key,
        tickets=len(gen.times),
        events=events,
        sites=gen.sites,
        start=gen.times[0] if gen.times else gen.start,
        end=gen.times[-1] if gen.times else gen.end,
        by_status=dict(sorted(gen.by_status.items())),
        by_priority=dict(sorted(gen.by_priority.items())),
        devices=len(gen.devices),
        load_s=round(load_s, 1),
    )


def drop_postgres(server_url: str, tickets: int, seed: int) -> str:
    target = PostgresTarget(server_url, cache_key(tickets, seed))
    with psycopg.connect(target.admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{target.name}" WITH (FORCE)')
    return target.name


def month_of(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m")
