"""(site, device, id) and (site, rule, id) indexes on tickets: one site's tickets of a
device or of a rule.

Device ids repeat from site to site (``lift-1`` at every compound), so ``(device, id)``
alone made ``?site=oak&device=lift-1`` read every site's ``lift-1`` tickets and drop the
others: 12 ms a page on SQLite at 1M tickets, and a p99 over a second at concurrency 16.
Rules are shared by all sites: the monthly report's inspection section (one site's
inspection tickets) read the site's whole history through ``(site, opened_at)`` on SQLite,
100 ms for the largest site of the same data.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 00:00:00

Frozen like 0001: types and names spelled out, no model imports.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_tickets_site_device_id"), "tickets", ["site", "device", "id"])
    op.create_index(op.f("ix_tickets_site_rule_id"), "tickets", ["site", "rule", "id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_tickets_site_rule_id"), table_name="tickets")
    op.drop_index(op.f("ix_tickets_site_device_id"), table_name="tickets")
