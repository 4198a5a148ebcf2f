"""Delivery endpoints, deliveries and their attempts (the delivery log).

Revision ID: 0002
Revises: 0001
Create Date: 2026-02-01 00:00:00

Frozen like 0001: types and names spelled out, no model imports.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, *, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "delivery_endpoints",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=500), nullable=False),
        sa.Column("outbox_cursor", sa.Integer(), nullable=False),
        _time("created_at", nullable=False),
        _time("disabled_at", nullable=True),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_delivery_endpoints")),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("endpoint", sa.String(length=64), nullable=False),
        sa.Column("outbox_pk", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        _time("created_at", nullable=False),
        _time("next_attempt_at", nullable=False),
        _time("retry_since", nullable=True),
        _time("last_attempt_at", nullable=True),
        _time("delivered_at", nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_reason", sa.String(length=32), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')", name=op.f("ck_deliveries_status")
        ),
        sa.ForeignKeyConstraint(
            ["endpoint"],
            ["delivery_endpoints.name"],
            name=op.f("fk_deliveries_endpoint_delivery_endpoints"),
        ),
        sa.ForeignKeyConstraint(
            ["outbox_pk"], ["outbox_events.id"], name=op.f("fk_deliveries_outbox_pk_outbox_events")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("endpoint", "outbox_pk", name=op.f("uq_deliveries_endpoint_outbox_pk")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_deliveries_endpoint_status_next_attempt_at"),
        "deliveries",
        ["endpoint", "status", "next_attempt_at"],
    )
    op.create_index(
        op.f("ix_deliveries_endpoint_ticket_id_status_outbox_pk"),
        "deliveries",
        ["endpoint", "ticket_id", "status", "outbox_pk"],
    )
    op.create_index(op.f("ix_deliveries_event_id"), "deliveries", ["event_id"])
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        _time("at", nullable=False),
        sa.Column("worker", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_delivery_attempts_delivery_id_deliveries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempts")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_delivery_attempts_delivery_id"), "delivery_attempts", ["delivery_id"])


def downgrade() -> None:
    op.drop_table("delivery_attempts")
    op.drop_table("deliveries")
    op.drop_table("delivery_endpoints")
