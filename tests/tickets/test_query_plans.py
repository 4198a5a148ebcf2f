"""Reads that must take a site-scoped index on SQLite, which has no statistics to choose by.

Device ids and rules repeat from site to site, so an index led by the device or the rule
alone reads every site's tickets and drops the others'. These check SQLite's own plan for
the statement the code sends (PostgreSQL plans by its statistics; bench/api_load prints both
databases' plans on the 1M-ticket data)."""

from __future__ import annotations

from collections.abc import Iterator
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


def test_the_reports_inspection_section_reads_the_sites_tickets_of_its_rules(
    engine: Engine,
) -> None:
    """Not (site, opened_at): that is the site's whole history before the month's end."""
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
        sent.append((sql, params))

    start, end = report.month_window("2026-04", SitePolicy())
    window = report.Window("tower", start, end, datetime(2026, 5, 1, tzinfo=UTC))
    event.listen(engine, "before_cursor_execute", record)
    with Session(engine) as session:
        report._inspection(session, window, report.Fleet())
    event.remove(engine, "before_cursor_execute", record)
    [(sql, params)] = [(s, p) for s, p in sent if "DISTINCT" in s]
    steps = plan(engine, sql, params)
    assert "ix_tickets_site_rule_id" in steps, steps
