"""friend_changes_daily: follows and blocks per city calendar day (counters, no personal data)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26

Nothing is back-filled: a resident's row keeps only their latest status change, which cannot say
how many follows and blocks each earlier day had. Counting starts with this release; the dashboard
says from which day (the earliest day with a count).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "friend_changes_daily",
        sa.Column("day", sa.Date, primary_key=True, comment="the city's calendar day of the LINE event"),
        sa.Column("shard", sa.SmallInteger, primary_key=True),
        sa.Column("follows", sa.Integer, nullable=False, server_default="0"),
        sa.Column("unfollows", sa.Integer, nullable=False, server_default="0"),
        schema="segment",
    )


def downgrade() -> None:
    op.drop_table("friend_changes_daily", schema="segment")
