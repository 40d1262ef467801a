"""deliveries (配信), their history, sends (配信回) and send jobs, the test group, templates and images

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

A delivery's content, target and schedule; every transition of its lifecycle; one send per start (a
recurring delivery has one per occurrence) whose id names the frozen recipient list in segment-service;
jobs of at most 500 positions of that list, each with its X-Line-Retry-Key. No resident is stored here.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "dispatcher"


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("author_id", sa.String(64), nullable=False),
        sa.Column("last_editor_id", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("category_key", sa.String(40), nullable=False),
        sa.Column("messages", JSONB, nullable=False),
        sa.Column("target", JSONB, nullable=False),
        sa.Column("schedule", JSONB, nullable=True, comment="予約・定期 rule (domain/schedule.py); null: sent on 送信"),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("send_at", sa.DateTime(timezone=True), nullable=True, comment="when the next send is due"),
        sa.Column("approvals", JSONB, nullable=False, server_default="[]"),
        sa.Column("confirmations", JSONB, nullable=False, server_default="[]"),
        sa.Column("pause_reason", sa.Text, nullable=False, server_default=""),
        sa.Column("reviewed", JSONB, nullable=True, comment="the content as last approved or rejected"),
        sa.Column("aggregation_unit", sa.String(30), nullable=True,
                  comment="LINE customAggregationUnit for statistics"),
        sa.Column("runs", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=S,
    )
    op.create_index("deliveries_due", "deliveries", ["send_at"], schema=S,
                    postgresql_where=sa.text("status = 'scheduled'"))
    op.create_index("deliveries_department", "deliveries", ["department", "updated_at"], schema=S)
    op.create_table(
        "delivery_history",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", UUID(as_uuid=True), sa.ForeignKey(f"{S}.deliveries.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("from_status", sa.String(24), nullable=False),
        sa.Column("to_status", sa.String(24), nullable=False),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("comment", sa.Text, nullable=False, server_default=""),
        schema=S,
    )
    op.create_index("delivery_history_delivery", "delivery_history", ["delivery_id", "id"], schema=S)
    op.create_table(
        "sends",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("delivery_id", UUID(as_uuid=True), sa.ForeignKey(f"{S}.deliveries.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("run", sa.Integer, nullable=False),
        sa.Column("status", sa.String(24), nullable=False,
                  comment="sending | paused | sent | partly_failed | cancelled"),
        sa.Column("recipients", sa.Integer, nullable=False),
        sa.Column("jobs", sa.Integer, nullable=False),
        sa.Column("jobs_settled", sa.Integer, nullable=False, server_default="0"),
        sa.Column("sent", sa.Integer, nullable=False, server_default="0"),
        sa.Column("failed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("messages", JSONB, nullable=False, comment="the content as sent (URLs filled in)"),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("delivery_id", "run", name="sends_run_once"),
        schema=S,
    )
    op.create_table(
        "send_jobs",
        sa.Column("send_id", UUID(as_uuid=True), sa.ForeignKey(f"{S}.sends.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("number", sa.Integer, primary_key=True),
        sa.Column("first", sa.Integer, nullable=False),
        sa.Column("last", sa.Integer, nullable=False),
        sa.Column("retry_key", UUID(as_uuid=True), nullable=False),
        sa.Column("status", sa.String(12), nullable=False, server_default="pending",
                  comment="pending | sent | failed"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("request_id", sa.String(64), nullable=True, comment="LINE's x-line-request-id of the accepted send"),
        sa.Column("error", sa.Text, nullable=True, comment="LINE's reason when it failed"),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        schema=S,
    )
    op.create_index("send_jobs_pending", "send_jobs", ["send_id", "number"], schema=S,
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_table(
        "test_recipients",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("line_user_id_ct", sa.Text, nullable=False, comment="AES-GCM envelope token, bound to the row id"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=S,
    )
    op.create_table(
        "templates",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("messages", JSONB, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=S,
    )
    op.create_table(
        "assets",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("content_type", sa.String(20), nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("original", sa.LargeBinary, nullable=False),
        sa.Column("preview", sa.LargeBinary, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=S,
    )


def downgrade() -> None:
    for table in ("assets", "templates", "test_recipients", "send_jobs", "sends", "delivery_history", "deliveries"):
        op.drop_table(table, schema=S)
