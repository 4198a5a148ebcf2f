"""Revision 0002 creates exactly the delivery models, and goes down and up again cleanly."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

import delivery.models  # noqa: F401  (the tables compared below)
from tickets.db import WRITE, alembic_config, migrate
from tickets.models import Base

TABLES = {"delivery_endpoints", "deliveries", "delivery_attempts"}


def _version(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def test_0002_matches_the_models_and_downgrades(engine: Engine) -> None:
    assert _version(engine) == "0002"
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    config = alembic_config()
    with engine.connect().execution_options(**{WRITE: True}) as connection, connection.begin():
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
    assert _version(engine) == "0001"
    assert not TABLES & set(inspect(engine).get_table_names())
    migrate(engine)
    assert set(inspect(engine).get_table_names()) >= TABLES
