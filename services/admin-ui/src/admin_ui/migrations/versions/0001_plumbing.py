"""outbox and processed_messages

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""
from collections.abc import Sequence

from cityline_common.migrations import create_plumbing_v1, drop_plumbing_v1

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_plumbing_v1("admin")


def downgrade() -> None:
    drop_plumbing_v1("admin")
