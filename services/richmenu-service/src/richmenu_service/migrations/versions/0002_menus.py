"""menus, their images and LINE rich menus, 表示ルール, resident links, mass changes, LINE's state

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "richmenu"


def _timestamps() -> list[sa.Column]:
    return [sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())]


def upgrade() -> None:
    op.create_table(
        "menus",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("tabs", JSONB, nullable=False,
                  comment="the console's Tab JSON (API.md), each with its design if any"),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        *_timestamps(),
        schema=S,
    )
    op.create_table(
        "tab_images",
        sa.Column("menu_id", UUID(as_uuid=True), sa.ForeignKey(f"{S}.menus.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("alias_id", sa.String(32), primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False, comment="upload | template"),
        schema=S,
    )
    op.create_table(
        "publications",
        sa.Column("menu_id", UUID(as_uuid=True), sa.ForeignKey(f"{S}.menus.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False, comment="the menu version on LINE (or being put there)"),
        sa.Column("status", sa.String(16), nullable=False,
                  comment="published | pending (LINE's create limit: retried)"),
        sa.Column("tabs", JSONB, nullable=False, comment='[{"aliasId", "richMenuId", "sha256"}] in tab order'),
        sa.Column("published_by", sa.String(64), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text, nullable=False, server_default=""),
        schema=S,
    )
    op.create_table(
        "line_menus",
        sa.Column("rich_menu_id", sa.String(100), primary_key=True),
        sa.Column("menu_id", UUID(as_uuid=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("alias_id", sa.String(32), nullable=False),
        sa.Column("request", JSONB, nullable=False, comment="the RichMenuRequest we sent (reconcile compares)"),
        sa.Column("image", sa.LargeBinary, nullable=False, comment="the image we uploaded (reconcile puts it back)"),
        sa.Column("image_format", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True,
                  comment="replaced; deleted on LINE when unused"),
        schema=S,
    )
    op.create_index("line_menus_menu", "line_menus", ["menu_id", "version"], schema=S)
    op.create_table(
        "rules",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False, comment="default | segment | period | disaster"),
        sa.Column("menu_id", UUID(as_uuid=True), sa.ForeignKey(f"{S}.menus.id"), nullable=False),
        sa.Column("segment_id", UUID(as_uuid=True), nullable=True, comment="a saved segment of segment-service"),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default="true"),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        *_timestamps(),
        schema=S,
    )
    op.create_table(
        "resident_links",
        sa.Column("resident_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("line_user_id_ct", sa.Text, nullable=False),
        sa.Column("rich_menu_id", sa.String(100), nullable=True,
                  comment="linked on LINE; null: LINE's default applies"),
        sa.Column("menu_id", UUID(as_uuid=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=S,
    )
    op.create_index("resident_links_linked", "resident_links", ["rich_menu_id"], schema=S,
                    postgresql_where=sa.text("rich_menu_id IS NOT NULL"))
    op.create_table(
        "changes",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("reason", sa.String(24), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, comment="pending | running | done | failed"),
        sa.Column("requested_by", sa.String(80), nullable=False),
        sa.Column("residents", sa.Integer, nullable=False, server_default="0"),
        sa.Column("linked", sa.Integer, nullable=False, server_default="0"),
        sa.Column("unlinked", sa.Integer, nullable=False, server_default="0"),
        sa.Column("method", sa.String(16), nullable=False, server_default="none"),
        sa.Column("error", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        schema=S,
    )
    op.create_index("changes_pending", "changes", ["created_at"], schema=S,
                    postgresql_where=sa.text("status IN ('pending', 'running')"))
    op.create_table(
        "line_state",
        sa.Column("id", sa.Integer, primary_key=True, comment="always 1"),
        sa.Column("default_rich_menu_id", sa.String(100), nullable=True,
                  comment="LINE's default as we last set it"),
        sa.Column("default_menu_id", UUID(as_uuid=True), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True,
                  comment="the moment the rules were last applied to everyone (period boundaries after it are due)"),
        sa.Column("rules_digest", sa.String(64), nullable=False, server_default="",
                  comment="the rules and publications as last applied: a change of it is a mass change"),
        schema=S,
    )
    op.create_table(
        "batch_requests",
        sa.Column("request_id", sa.String(100), primary_key=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=S,
    )


def downgrade() -> None:
    for table in ("batch_requests", "line_state", "changes", "resident_links", "rules", "line_menus",
                  "publications", "tab_images", "menus"):
        op.drop_table(table, schema=S)
