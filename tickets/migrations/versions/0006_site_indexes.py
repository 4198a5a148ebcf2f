"""(site, device, id) and (site, rule, id) indexes on tickets: one site's tickets of a
device or of a rule. On PostgreSQL, every column the monthly report reads in
``ix_tickets_site_opened_at``.

Device ids repeat from site to site (``lift-1`` at every compound), so ``(device, id)``
alone made ``?site=oak&device=lift-1`` read every site's ``lift-1`` tickets and drop the
others: 12 ms a page on SQLite at 1M tickets, and a p99 over a second at concurrency 16.
Rules are shared by all sites: the monthly report's inspection section (one site's
inspection tickets) read the site's whole history through ``(site, opened_at)`` on SQLite,
100 ms for the largest site of the same data.

The report's grouping pass also reads ``occurrences``, ``parent_id`` and ``reporter``, and its
outage pass ``id``, which 0003's INCLUDE list did not have: PostgreSQL then read the month
through ``ix_tickets_opened_at`` and fetched every site's rows from the table (218,000 of
them to keep 40,000). With them the passes are index-only: 174 -> 113 ms and 60 -> 33 ms.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 00:00:00

Frozen like 0001: types and names spelled out, no model imports.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

REPORT_COLUMNS = [
    "priority",
    "status",
    "source",
    "category",
    "kind",
    "device",
    "rule",
    "acknowledged_at",
    "onsite_at",
    "planned_at",
    "resolved_at",
    "followed_up_at",
    "condition_cleared_at",
    "respond_by",
    "onsite_by",
    "plan_by",
    "resolve_by",
    "follow_up_by",
    "satisfaction",
]
REPORT_COLUMNS_0006 = [*REPORT_COLUMNS, "occurrences", "parent_id", "reporter", "id"]

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_tickets_site_device_id"), "tickets", ["site", "device", "id"])
    op.create_index(op.f("ix_tickets_site_rule_id"), "tickets", ["site", "rule", "id"])
    _site_opened_at(REPORT_COLUMNS_0006)


def downgrade() -> None:
    _site_opened_at(REPORT_COLUMNS)
    op.drop_index(op.f("ix_tickets_site_rule_id"), table_name="tickets")
    op.drop_index(op.f("ix_tickets_site_device_id"), table_name="tickets")


def _site_opened_at(include: list[str]) -> None:
    """INCLUDE is PostgreSQL's; on SQLite the index is (site, opened_at) either way."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(op.f("ix_tickets_site_opened_at"), table_name="tickets")
    op.create_index(
        op.f("ix_tickets_site_opened_at"),
        "tickets",
        ["site", "opened_at"],
        postgresql_include=include,
    )
