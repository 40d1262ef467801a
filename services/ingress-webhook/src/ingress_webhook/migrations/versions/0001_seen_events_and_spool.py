"""webhook event de-duplication record and the outbox used as a durable spool

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from cityline_common.migrations import create_plumbing_v1, drop_plumbing_v1

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_plumbing_v1("ingress")
    op.create_table(
        "webhook_events_seen",
        sa.Column("webhook_event_id", sa.String(64), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema="ingress",
    )
    op.create_index("ix_ingress_webhook_events_seen_received_at", "webhook_events_seen", ["received_at"],
                    schema="ingress")


def downgrade() -> None:
    op.drop_table("webhook_events_seen", schema="ingress")
    drop_plumbing_v1("ingress")
