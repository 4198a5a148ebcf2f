"""The service standard: on-site, plan and follow-up records, linked tickets, the SLA sweep,
silences and suppressed conditions, and the monthly report's index.

Revision ID: 0003
Revises: 0002
Create Date: 2026-03-01 00:00:00

Frozen like 0001: types and names spelled out, no model imports. Tickets that exist before
this revision are swept only if active, so an upgrade does not chase last year's follow-up
calls.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

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


def _time(name: str, *, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    for column in (
        _time("onsite_at", nullable=True),
        _time("planned_at", nullable=True),
        _time("followed_up_at", nullable=True),
        sa.Column("follow_up_result", sa.Text(), nullable=True),
        sa.Column("followed_up_by", sa.String(length=100), nullable=True),
        sa.Column("parent_number", sa.String(length=40), nullable=True),
        _time("sweep_at", nullable=True),
        sa.Column("sla_state", sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
    ):
        op.add_column("tickets", column)
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its constraints inline; a batch rebuild of the table
        # would lose AUTOINCREMENT (ticket numbers must never be reused).
        op.execute(
            "ALTER TABLE tickets ADD COLUMN parent_id INTEGER"
            " CONSTRAINT fk_tickets_parent_id_tickets REFERENCES tickets (id)"
        )
        op.execute(
            "ALTER TABLE tickets ADD COLUMN satisfaction INTEGER"
            " CONSTRAINT ck_tickets_satisfaction CHECK (satisfaction BETWEEN 1 AND 5)"
        )
    else:
        op.add_column("tickets", sa.Column("parent_id", sa.Integer(), nullable=True))
        op.add_column("tickets", sa.Column("satisfaction", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f("fk_tickets_parent_id_tickets"), "tickets", "tickets", ["parent_id"], ["id"]
        )
        op.create_check_constraint(
            op.f("ck_tickets_satisfaction"), "tickets", "satisfaction BETWEEN 1 AND 5"
        )
    # Active tickets are someone's job now: the first sweep looks at them (and escalates
    # the ones already late, once, to the level they have reached).
    op.execute(
        "UPDATE tickets SET sweep_at = last_occurrence_at"
        " WHERE status IN ('open', 'acknowledged', 'in_progress')"
    )
    op.create_index(op.f("ix_tickets_parent_id"), "tickets", ["parent_id"])
    op.create_index(
        op.f("ix_tickets_sweep_at"),
        "tickets",
        ["sweep_at"],
        postgresql_where=sa.text("sweep_at IS NOT NULL"),
        sqlite_where=sa.text("sweep_at IS NOT NULL"),
    )
    op.create_index(
        op.f("ix_tickets_site_opened_at"),
        "tickets",
        ["site", "opened_at"],
        postgresql_include=REPORT_COLUMNS,
    )

    op.create_table(
        "silences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(length=63), nullable=False),
        sa.Column("building", sa.String(length=64), nullable=True),
        sa.Column("device", sa.String(length=63), nullable=True),
        sa.Column("rule", sa.String(length=100), nullable=True),
        _time("starts_at", nullable=False),
        _time("ends_at", nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=False),
        _time("created_at", nullable=False),
        sa.Column("ended_by", sa.String(length=100), nullable=True),
        _time("released_at", nullable=True),
        sa.CheckConstraint("ends_at >= starts_at", name=op.f("ck_silences_window")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_silences")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_silences_site_ends_at"), "silences", ["site", "ends_at"])

    op.create_table(
        "suppressed_conditions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedup_key", sa.String(length=255), nullable=False),
        sa.Column("active_dedup_key", sa.String(length=255), nullable=True),
        sa.Column("site", sa.String(length=63), nullable=False),
        sa.Column("building", sa.String(length=64), nullable=True),
        sa.Column("device", sa.String(length=63), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("rule", sa.String(length=100), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("silence_id", sa.Integer(), nullable=True),
        sa.Column("root_ticket_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("ticket_number", sa.String(length=40), nullable=True),
        _time("first_at", nullable=False),
        _time("last_at", nullable=False),
        _time("cleared_at", nullable=True),
        _time("released_at", nullable=True),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("decision", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "state IN ('silenced', 'inhibited', 'cleared', 'released')",
            name=op.f("ck_suppressed_conditions_state"),
        ),
        sa.ForeignKeyConstraint(
            ["silence_id"],
            ["silences.id"],
            name=op.f("fk_suppressed_conditions_silence_id_silences"),
        ),
        sa.ForeignKeyConstraint(
            ["root_ticket_id"],
            ["tickets.id"],
            name=op.f("fk_suppressed_conditions_root_ticket_id_tickets"),
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_suppressed_conditions_ticket_id_tickets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppressed_conditions")),
        sa.UniqueConstraint(
            "active_dedup_key", name=op.f("uq_suppressed_conditions_active_dedup_key")
        ),
        sqlite_autoincrement=True,
    )
    for column in ("silence_id", "root_ticket_id", "state"):
        op.create_index(
            op.f(f"ix_suppressed_conditions_{column}"), "suppressed_conditions", [column]
        )


def downgrade() -> None:
    op.drop_table("suppressed_conditions")
    op.drop_table("silences")
    op.drop_index(op.f("ix_tickets_site_opened_at"), table_name="tickets")
    op.drop_index(op.f("ix_tickets_sweep_at"), table_name="tickets")
    op.drop_index(op.f("ix_tickets_parent_id"), table_name="tickets")
    with op.batch_alter_table("tickets", table_kwargs={"sqlite_autoincrement": True}) as batch:
        for column in (
            "sla_state",
            "sweep_at",
            "parent_number",
            "parent_id",
            "followed_up_by",
            "satisfaction",
            "follow_up_result",
            "followed_up_at",
            "planned_at",
            "onsite_at",
        ):
            batch.drop_column(column)
