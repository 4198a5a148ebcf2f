"""Rule dwells in progress, so a restart resumes them (steward/dwells.py).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 00:00:00

Frozen like 0001: types and names spelled out, no model imports.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rule_dwells",
        sa.Column("site", sa.String(length=63), nullable=False),
        sa.Column("device", sa.String(length=63), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("reading", sa.JSON(), nullable=False),
        sa.Column("since", sa.JSON(), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("site", "device", name=op.f("pk_rule_dwells")),
    )


def downgrade() -> None:
    op.drop_table("rule_dwells")
