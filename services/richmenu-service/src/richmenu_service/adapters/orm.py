"""The ``richmenu`` schema: menus (sets of tabs) with their images and designs, what we created on LINE,
表示ルール, the per-resident links we made, mass changes and what LINE shows now.

Residents appear only in ``resident_links``, by opaque resident id, with their LINE user id sealed to the row
(a mass change unlinks them without asking segment-service again)."""

from __future__ import annotations

from cityline_common.manifest import EncryptedColumn, schema_tables
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata, plumbing = schema_tables("richmenu")

menus = Table(
    "menus",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("title", String(100), nullable=False),
    Column("department", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("tabs", JSONB, nullable=False, comment="the console's Tab JSON (API.md), each with its design if any"),
    Column("created_by", String(64), nullable=False),
    Column("updated_by", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

tab_images = Table(
    "tab_images",
    metadata,
    Column("menu_id", UUID(as_uuid=True), ForeignKey("richmenu.menus.id", ondelete="CASCADE"), primary_key=True),
    Column("alias_id", String(32), primary_key=True),
    Column("data", LargeBinary, nullable=False),
    Column("format", String(8), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("source", String(16), nullable=False, comment="upload | template"),
)

publications = Table(
    "publications",
    metadata,
    Column("menu_id", UUID(as_uuid=True), ForeignKey("richmenu.menus.id", ondelete="CASCADE"), primary_key=True),
    Column("version", Integer, nullable=False, comment="the menu version on LINE (or being put there)"),
    Column("status", String(16), nullable=False, comment="published | pending (LINE's create limit: retried)"),
    Column("tabs", JSONB, nullable=False, comment='[{"aliasId", "richMenuId", "sha256"}] in tab order'),
    Column("published_by", String(64), nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("error", Text, nullable=False, server_default=""),
)

line_menus = Table(
    "line_menus",
    metadata,
    Column("rich_menu_id", String(100), primary_key=True),
    Column("menu_id", UUID(as_uuid=True), nullable=False),
    Column("version", Integer, nullable=False),
    Column("alias_id", String(32), nullable=False),
    Column("request", JSONB, nullable=False, comment="the RichMenuRequest we sent (reconcile compares)"),
    Column("image", LargeBinary, nullable=False, comment="the image we uploaded (reconcile puts it back)"),
    Column("image_format", String(8), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("retired_at", DateTime(timezone=True), nullable=True, comment="replaced; deleted on LINE when unused"),
    Index("line_menus_menu", "menu_id", "version"),
)

rules = Table(
    "rules",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("kind", String(16), nullable=False, comment="default | segment | period | disaster"),
    Column("menu_id", UUID(as_uuid=True), ForeignKey("richmenu.menus.id"), nullable=False),
    Column("segment_id", UUID(as_uuid=True), nullable=True, comment="a saved segment of segment-service"),
    Column("starts_at", DateTime(timezone=True), nullable=True),
    Column("ends_at", DateTime(timezone=True), nullable=True),
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("enabled", Boolean, nullable=False, server_default="true"),
    Column("created_by", String(64), nullable=False),
    Column("updated_by", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

resident_links = Table(
    "resident_links",
    metadata,
    Column("resident_id", UUID(as_uuid=True), primary_key=True),
    Column("line_user_id_ct", Text, nullable=False),
    Column("rich_menu_id", String(100), nullable=True, comment="linked on LINE; null: LINE's default applies"),
    Column("menu_id", UUID(as_uuid=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("resident_links_linked", "rich_menu_id", postgresql_where="rich_menu_id IS NOT NULL"),
)

changes = Table(
    "changes",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("reason", String(24), nullable=False),
    Column("status", String(16), nullable=False, comment="pending | running | done | failed"),
    Column("requested_by", String(80), nullable=False),
    Column("residents", Integer, nullable=False, server_default="0"),
    Column("linked", Integer, nullable=False, server_default="0"),
    Column("unlinked", Integer, nullable=False, server_default="0"),
    Column("method", String(16), nullable=False, server_default="none"),
    Column("error", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Index("changes_pending", "created_at", postgresql_where="status IN ('pending', 'running')"),
)

line_state = Table(
    "line_state",
    metadata,
    Column("id", Integer, primary_key=True, comment="always 1"),
    Column("default_rich_menu_id", String(100), nullable=True, comment="LINE's default as we last set it"),
    Column("default_menu_id", UUID(as_uuid=True), nullable=True),
    Column("applied_at", DateTime(timezone=True), nullable=True,
           comment="the moment the rules were last applied to everyone (period boundaries after it are due)"),
    Column("rules_digest", String(64), nullable=False, server_default="",
           comment="the rules and publications as last applied: a change of it is a mass change"),
)

batch_requests = Table(
    "batch_requests",
    metadata,
    Column("request_id", String(100), primary_key=True),
    Column("requested_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

RESIDENT_LINE_USER_ID = EncryptedColumn(
    table="resident_links",
    column="line_user_id_ct",
    context="richmenu.resident_links.line_user_id",
    id_column="resident_id",
)
