"""Engines, migrations and the invariants the database itself enforces."""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from steward.clock import FakeClock
from tests.tickets.helpers import ENTRAPMENT_KEY, fire
from tickets.db import (
    POSTGRES_TCP,
    alembic_config,
    make_engine,
    migrate,
    ping,
    read_session,
    write_session,
)
from tickets.models import Base, Ticket
from tickets.service import TicketService


def test_postgres_urls_use_psycopg_3() -> None:
    for url in ("postgresql://u@db:5432/steward", "postgresql+psycopg2://u@db/steward"):
        engine = make_engine(url)
        assert engine.url.drivername == "postgresql+psycopg"
        assert engine.url.database == "steward"
        engine.dispose()


@pytest.mark.parametrize("url", ["mysql://u@h/db", "sqlite://", "sqlite:///:memory:"])
def test_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match=r"SQLite|unsupported"):
        make_engine(url)


def test_sqlite_creates_its_folder_and_sets_its_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/var/data/steward.db")
    try:
        with engine.connect() as connection:
            pragmas = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            }
        assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 10_000}
        assert (tmp_path / "var" / "data" / "steward.db").exists()
    finally:
        engine.dispose()


def test_sqlite_writers_take_the_lock_up_front_and_readers_do_not(tmp_path: Path) -> None:
    path = tmp_path / "steward.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    sessions = sessionmaker(engine)
    other = sqlite3.connect(path, timeout=0.05, isolation_level=None)
    try:
        with read_session(sessions) as session:
            session.execute(select(Ticket.id)).all()
            other.execute("BEGIN IMMEDIATE")  # a reader does not stand in a writer's way
            other.execute("ROLLBACK")
        with write_session(sessions), pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")  # before the writer has written anything
    finally:
        other.close()
        engine.dispose()


def test_ping(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    assert ping(engine) is True
    dead = make_engine("postgresql://postgres@127.0.0.1:1/nowhere")
    with caplog.at_level(logging.WARNING, logger="tickets.db"):
        assert ping(dead) is False
    assert "not reachable" in caplog.text
    dead.dispose()


def test_migrations_match_the_models(engine: Engine) -> None:
    migrate(engine)  # a second run is a no-op
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert version == head


def test_times_come_back_as_aware_utc(
    service: TicketService, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    service.apply(decisions=[fire(clock)])
    with sessions() as session:
        ticket = session.scalars(select(Ticket)).one()
        assert ticket.opened_at == datetime(2026, 1, 1, tzinfo=UTC)
        assert ticket.opened_at.utcoffset() is not None
        ticket.closed_at = datetime(2026, 1, 1)  # naive: refused rather than guessed at
        with pytest.raises(StatementError, match="naive"):
            session.flush()


def test_the_database_refuses_a_second_active_ticket_for_one_condition(
    service: TicketService, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    service.apply(decisions=[fire(clock)])
    with sessions() as session:
        original = session.scalars(select(Ticket)).one()
        clone = Ticket(
            **{
                column.key: getattr(original, column.key)
                for column in Ticket.__table__.columns
                if column.key not in {"id", "number"}
            },
            number="ST-clone",
        )
        session.add(clone)
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()
        # Nor may a ticket claim a key while closed, or an active one hold another's key.
        original = session.scalars(select(Ticket)).one()
        original.status = "closed"
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()
        original = session.scalars(select(Ticket)).one()
        original.active_dedup_key = ENTRAPMENT_KEY + "/other"
        with pytest.raises(IntegrityError):
            session.flush()


@pytest.mark.postgres
def test_postgres_connections_notice_a_vanished_server_within_a_minute(postgres_url: str) -> None:
    """TCP keepalives and a user timeout on every connection (a dead network must not hold
    the writer for the kernel's default hours): libpq reports the settings it connected with."""
    engine = make_engine(postgres_url)
    try:
        with engine.connect() as connection:
            raw = connection.connection.driver_connection
            assert raw is not None
            given = raw.info.get_parameters()
    finally:
        engine.dispose()
    assert {k: int(given[k]) for k in POSTGRES_TCP} == POSTGRES_TCP
    assert POSTGRES_TCP["keepalives_idle"] + 3 * POSTGRES_TCP["keepalives_interval"] <= 60
