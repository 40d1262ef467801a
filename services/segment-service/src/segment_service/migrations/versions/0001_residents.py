"""residents and the plumbing tables

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from cityline_common.migrations import create_plumbing_v1, drop_plumbing_v1

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_plumbing_v1("segment")
    op.create_table(
        "residents",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("line_user_id_ct", sa.Text, nullable=False, comment="AES-GCM envelope token"),
        sa.Column("line_user_id_bidx", sa.String(64), nullable=False, unique=True, comment="HMAC blind index"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_changed_at_ms", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema="segment",
    )


def downgrade() -> None:
    op.drop_table("residents", schema="segment")
    drop_plumbing_v1("segment")
