"""Tickets, their history, and the outbox.

Revision ID: 0001
Revises:
Create Date: 2026-01-01 00:00:00

Frozen on purpose: it spells out its types and constraint values instead of importing the
models, so a later model change cannot silently rewrite history.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = "'open', 'acknowledged', 'in_progress'"


def _time(name: str, *, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("site", sa.String(length=63), nullable=False),
        sa.Column("building", sa.String(length=64), nullable=True),
        sa.Column("device", sa.String(length=63), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("location", sa.String(length=200), nullable=True),
        sa.Column("rule", sa.String(length=100), nullable=True),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        _time("opened_at", nullable=False),
        _time("acknowledged_at", nullable=True),
        _time("resolved_at", nullable=True),
        _time("closed_at", nullable=True),
        _time("condition_cleared_at", nullable=True),
        _time("respond_by", nullable=False),
        _time("onsite_by", nullable=False),
        _time("plan_by", nullable=True),
        _time("resolve_by", nullable=True),
        _time("follow_up_by", nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        _time("last_occurrence_at", nullable=False),
        sa.Column("dedup_key", sa.String(length=255), nullable=False),
        sa.Column("active_dedup_key", sa.String(length=255), nullable=True),
        sa.Column("owner", sa.String(length=100), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("reporter", sa.JSON(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            f"(status IN ({ACTIVE}) AND active_dedup_key = dedup_key)"
            f" OR (status NOT IN ({ACTIVE}) AND active_dedup_key IS NULL)",
            name=op.f("ck_tickets_active_dedup_key"),
        ),
        sa.CheckConstraint(
            "category IN ('facility', 'service', 'fee', 'other')", name=op.f("ck_tickets_category")
        ),
        sa.CheckConstraint(
            "priority IN ('emergency', 'important', 'general')", name=op.f("ck_tickets_priority")
        ),
        sa.CheckConstraint("source IN ('rule', 'manual')", name=op.f("ck_tickets_source")),
        sa.CheckConstraint(
            "status IN ('open', 'acknowledged', 'in_progress', 'resolved', 'closed', 'cancelled')",
            name=op.f("ck_tickets_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
        sa.UniqueConstraint("active_dedup_key", name=op.f("uq_tickets_active_dedup_key")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_tickets_idempotency_key")),
        sa.UniqueConstraint("number", name=op.f("uq_tickets_number")),
        sqlite_autoincrement=True,
    )
    for columns in (
        ["status", "id"],
        ["priority", "id"],
        ["site", "id"],
        ["device", "id"],
        ["rule", "id"],
        ["opened_at"],
        ["dedup_key"],
    ):
        op.create_index(op.f(f"ix_tickets_{'_'.join(columns)}"), "tickets", columns)

    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        _time("at", nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_events_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_events")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_ticket_events_ticket_id"), "ticket_events", ["ticket_id"])

    op.create_table(
        "outbox_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(length=63), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        _time("created_at", nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_outbox_events_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_events_event_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_outbox_events_ticket_id"), "outbox_events", ["ticket_id"])


def downgrade() -> None:
    op.drop_table("outbox_events")
    op.drop_table("ticket_events")
    op.drop_table("tickets")
