"""Engines, migrations, sessions and readiness for the ticket store.

SQLite (the one-command default) and PostgreSQL (production, CI) behave the same to callers:

- SQLite runs in WAL mode with foreign keys on. Python's sqlite3 module issues its own BEGINs
  and breaks SAVEPOINT, so the driver is put in autocommit and SQLAlchemy emits BEGIN itself:
  ``BEGIN IMMEDIATE`` for write transactions (take the write lock up front instead of failing
  with "database is locked" when a read turns into a write), plain ``BEGIN`` for reads so
  readers never wait for writers.
- PostgreSQL goes through psycopg 3 with pre-ping, so a restarted server costs one retry of
  the pool, not an error.
- JSON columns are parsed with orjson (a page of tickets holds a few hundred JSON values).
"""

from __future__ import annotations

import json
import logging
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)
_PROBES: weakref.WeakKeyDictionary[Engine, threading.Thread] = weakref.WeakKeyDictionary()
_PROBES_LOCK = threading.Lock()

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000
POSTGRES_CONNECT_TIMEOUT_S = 5
POSTGRES_TCP = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 60_000,
}
"""libpq TCP settings: a server that vanished without closing the connection (a dead network,
a killed VM) is noticed within about a minute, idle (keepalives: 30 s + 3 × 10 s) or while
writing (``tcp_user_timeout``, ms), instead of the kernel's two hours or fifteen minutes:
until then the writer, the dispatcher and the sweeper would each wait on their connection."""
PING_TIMEOUT_S = 2.0
"""Readiness: a database that has not answered ``SELECT 1`` by then is not ready."""
MIGRATION_LOCK = 0x5354_5744  # "STWD": one migrating process at a time on PostgreSQL
WRITE = "steward_write"
"""Execution option marking a connection whose transaction will write."""


def make_engine(url: str) -> Engine:
    """An engine for ``sqlite:///path`` or ``postgresql://...`` (any postgresql driver suffix
    is replaced by psycopg 3, the one installed)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    if parsed.get_backend_name() == "postgresql":
        return create_engine(
            parsed.set(drivername="postgresql+psycopg"),
            json_serializer=json_dumps,
            json_deserializer=json_loads,
            pool_pre_ping=True,
            connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S, **POSTGRES_TCP},
        )
    raise ValueError(f"unsupported database URL {parsed!r}: use sqlite:///path or postgresql://")


def json_dumps(value: Any) -> str:
    """orjson (5-10x the standard library: evidence, history data, outbox payloads and rule
    dwells are all JSON columns), or the standard library for what orjson refuses (integers
    beyond 64 bits)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


def json_loads(text: str | bytes) -> Any:
    """orjson, or the standard library for what only it reads (``NaN``, ``Infinity``, which
    ``json.dumps`` writes by default)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _sqlite_engine(url: URL) -> Engine:
    if not url.database or url.database == ":memory:":
        # Each pooled connection would get its own empty database.
        raise ValueError("an in-memory SQLite database cannot be shared; give a file path")
    Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url.set(drivername="sqlite+pysqlite"),
        json_serializer=json_dumps,
        json_deserializer=json_loads,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )
    event.listen(engine, "connect", _configure_sqlite)
    event.listen(engine, "begin", _begin_sqlite)
    return engine


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, see _begin_sqlite
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable across crashes in WAL mode
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def _begin_sqlite(connection: Connection) -> None:
    writing = connection.get_execution_options().get(WRITE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")


def alembic_config() -> Config:
    """Built in code, so migrations run from an installed package without an alembic.ini."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent; safe to run at every start)."""
    config = alembic_config()
    with engine.connect().execution_options(**{WRITE: True}) as connection, connection.begin():
        if connection.dialect.name == "postgresql":
            # Two processes starting together must not both create the tables.
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    # Objects stay readable after commit: views are built from them after the transaction.
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def write_session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One write transaction: commits on success, rolls back on any exception."""
    with sessions() as session, session.begin():
        session.connection(execution_options={WRITE: True})
        yield session


@contextmanager
def read_session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as session, session.begin():
        yield session


def ping(engine: Engine, timeout_s: float = PING_TIMEOUT_S) -> bool:
    """Readiness: does the database answer a query within ``timeout_s``? Logs why not, once
    per failed check.

    A stopped server refuses at once, but a hung one (or a network that drops packets) would
    hold ``SELECT 1`` on a pooled connection until TCP gives up, minutes later. So the query
    runs in a probe thread of its own and an answer that is late counts as not ready; while a
    probe still hangs, later checks do not start another one."""
    url = engine.url.render_as_string(hide_password=True)
    answers: list[bool] = []
    with _PROBES_LOCK:
        hung = _PROBES.get(engine)
        if hung is not None and hung.is_alive():
            log.warning("database %s: the last readiness probe has not answered yet", url)
            return False
        probe = threading.Thread(
            target=lambda: answers.append(_select_one(engine, url)),
            name="steward-db-probe",
            daemon=True,  # a probe stuck on a dead connection must not hold the process
        )
        _PROBES[engine] = probe
        probe.start()
    probe.join(timeout_s)
    if not answers:
        log.warning("database %s did not answer within %.1fs", url, timeout_s)
        return False
    return answers[0]


def _select_one(engine: Engine, url: str) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        log.warning("database %s not reachable: %s", url, exc)
        return False
    return True
