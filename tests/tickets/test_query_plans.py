"""Reads that must take a site-scoped index, checked against the database's own plan for the
statement the code sends (bench/api_load prints both databases' plans on the 1M-ticket data).

On SQLite, which has no statistics to choose by: device ids and rules repeat from site to
site, so an index led by the device or the rule alone reads every site's tickets and drops
the others'. On PostgreSQL: the monthly report's passes over a site's month read
``ix_tickets_site_opened_at`` alone, which holds every column they need."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from tickets import report
from tickets.db import make_engine, migrate
from tickets.listing import TicketFilter, encode_cursor, page_statement
from tickets.policy import SitePolicy


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'plans.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


def plan(engine: Engine, sql: str, params: Any) -> str:
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()
    return " | ".join(str(row[-1]) for row in rows)


def test_a_list_by_site_and_device_reads_its_own_index(engine: Engine) -> None:
    where = TicketFilter(site="tower", device="lift-1")
    statement, params = page_statement(where, limit=50, cursor=encode_cursor(1_000))
    compiled = statement.compile(engine)
    values = compiled.construct_params(params)
    steps = plan(engine, str(compiled), tuple(values[k] for k in compiled.positiontup or ()))
    assert "ix_tickets_site_device_id" in steps, steps
    assert "TEMP B-TREE" not in steps, steps  # newest first straight from the index


def sent_by(engine: Engine, read: Callable[[Session], object]) -> list[tuple[str, Any]]:
    """The SELECT statements ``read`` sends, with their parameters."""
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
        if sql.lstrip().upper().startswith(("SELECT", "WITH")):
            sent.append((sql, params))

    event.listen(engine, "before_cursor_execute", record)
    try:
        with Session(engine) as session, session.begin():
            read(session)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return sent


START, END = report.month_window("2026-04", SitePolicy())
WINDOW = report.Window("tower", START, END, datetime(2026, 5, 1, tzinfo=UTC))


def test_the_reports_inspection_section_reads_the_sites_tickets_of_its_rules(
    engine: Engine,
) -> None:
    """Not (site, opened_at): that is the site's whole history before the month's end."""
    [(sql, params)] = sent_by(engine, lambda s: report._inspection(s, WINDOW, report.Fleet()))
    steps = plan(engine, sql, params)
    assert "ix_tickets_site_rule_id" in steps, steps


@pytest.mark.postgres
def test_the_reports_passes_over_the_month_can_read_the_index_alone_on_postgresql(
    postgres_url: str,
) -> None:
    """Every column a pass reads is in ``ix_tickets_site_opened_at`` as migrated, so
    PostgreSQL can answer it with an index-only scan. Before 0006, ``reporter``,
    ``occurrences``, ``parent_id`` and ``id`` were not, and on the 1M-ticket data the planner
    read the month through ``ix_tickets_opened_at`` plus every site's rows from the table."""
    engine = make_engine(postgres_url)
    migrate(engine)
    try:
        with engine.connect() as connection:
            definition = connection.exec_driver_sql(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_tickets_site_opened_at'"
            ).scalar_one()
        indexed = set(re.findall(r"\w+", definition.split("USING btree", 1)[1]))
        passes = {
            "groups": lambda s: report._groups(s, WINDOW),
            "p90s": lambda s: report._p90s(s, WINDOW),
            "outages": lambda s: report._progress(s, WINDOW, SitePolicy()),
        }
        for name, read in passes.items():
            sql, _params = sent_by(engine, read)[0]
            read_columns = set(re.findall(r"\btickets\.(\w+)", sql))
            assert read_columns, (name, sql)
            assert read_columns <= indexed, (name, sorted(read_columns - indexed))
    finally:
        engine.dispose()
