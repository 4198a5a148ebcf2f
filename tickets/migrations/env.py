"""Alembic environment: runs on the connection ``tickets.db.migrate`` hands over.

No alembic.ini, no URL here: the service owns its engine (and its SQLite pragmas), and
migrations run inside the caller's transaction. Offline (SQL script) mode is not supported.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import delivery.models  # noqa: F401  (its tables join Base.metadata)
import tickets.api_keys  # noqa: F401  (so does the API keys table)
from tickets.models import Base

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise TypeError("run migrations through tickets.db.migrate(engine), which passes a connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    compare_type=True,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
)
with context.begin_transaction():
    context.run_migrations()
