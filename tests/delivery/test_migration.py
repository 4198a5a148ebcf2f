"""Revision 0002 creates the delivery tables and takes them away again; at head the models
and the migrations agree."""

from __future__ import annotations

from collections.abc import Callable

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

import delivery.models  # noqa: F401  (the tables compared below)
from tickets.db import WRITE, alembic_config, make_engine, migrate
from tickets.models import Base

TABLES = {"delivery_endpoints", "deliveries", "delivery_attempts"}


def _version(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _alembic(engine: Engine, step: Callable[[Config, str], None], revision: str) -> None:
    config = alembic_config()
    with engine.connect().execution_options(**{WRITE: True}) as connection, connection.begin():
        config.attributes["connection"] = connection
        step(config, revision)


def test_0002_up_down_and_the_models_at_head(database_url: str) -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    assert scripts.get_revision("0002").down_revision == "0001"
    engine = make_engine(database_url)
    try:
        _alembic(engine, command.upgrade, "0002")
        assert set(inspect(engine).get_table_names()) >= TABLES
        _alembic(engine, command.downgrade, "0001")
        assert _version(engine) == "0001"
        assert not TABLES & set(inspect(engine).get_table_names())
        migrate(engine)
        assert _version(engine) == scripts.get_current_head()
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()
