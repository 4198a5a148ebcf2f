"""Delivery fixtures: a migrated database on SQLite and PostgreSQL, tickets, a receiver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from steward.clock import FakeClock
from tests.delivery.receiver import Receiver
from tickets.db import make_engine, migrate, session_factory
from tickets.service import TicketService


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    migrate(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def service(sessions: sessionmaker[Session], clock: FakeClock) -> TicketService:
    return TicketService(sessions, clock)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """Started; ``receiver.script`` decides the replies."""
    server = Receiver().start()
    try:
        yield server
    finally:
        server.stop()
