"""API keys: hashed secrets with a role and an optional site scope (access control).

Revision ID: 0004
Revises: 0003
Create Date: 2026-04-01 00:00:00

Frozen like 0001: types and names spelled out, no model imports. Only a SHA-256 of each
token is stored; the token itself is shown once, when the key is created.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, *, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("site", sa.String(length=63), nullable=True),
        _time("created_at", nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        _time("revoked_at", nullable=True),
        _time("last_used_at", nullable=True),
        sa.CheckConstraint(
            "role IN ('viewer', 'operator', 'admin', 'integration')",
            name=op.f("ck_api_keys_role"),
        ),
        sa.CheckConstraint(
            "role != 'admin' OR site IS NULL", name=op.f("ck_api_keys_admin_all_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("api_keys")
