"""staff accounts, departments, roles, second factors, sessions, sign-in throttles

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "admin"


def upgrade() -> None:
    op.create_table(
        "departments",
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=S,
    )
    op.create_table(
        "staff",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("login_id", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("must_change_password", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("disabled_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=S,
    )
    op.create_table(
        "staff_roles",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("staff_id", UUID(as_uuid=True), sa.ForeignKey("admin.staff.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("department_code", sa.String(32), sa.ForeignKey("admin.departments.code")),
        schema=S,
    )
    op.create_index("ix_admin_staff_roles_staff", "staff_roles", ["staff_id"], schema=S)
    op.create_table(
        "staff_totp",
        sa.Column("staff_id", UUID(as_uuid=True), sa.ForeignKey("admin.staff.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("secret_ct", sa.Text, nullable=False),
        sa.Column("confirmed", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("last_step", sa.BigInteger),
        schema=S,
    )
    op.create_table(
        "staff_recovery_codes",
        sa.Column("staff_id", UUID(as_uuid=True), sa.ForeignKey("admin.staff.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("code_sha256", sa.String(64), primary_key=True),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        schema=S,
    )
    op.create_table(
        "staff_sessions",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("staff_id", UUID(as_uuid=True), sa.ForeignKey("admin.staff.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("signed_in_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("user_agent", sa.String(200), nullable=False),
        schema=S,
    )
    op.create_index("ix_admin_staff_sessions_staff", "staff_sessions", ["staff_id"], schema=S)
    op.create_table(
        "sign_in_throttles",
        sa.Column("scope", sa.String(8), primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True)),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        schema=S,
    )


def downgrade() -> None:
    for table in ("sign_in_throttles", "staff_sessions", "staff_recovery_codes", "staff_totp", "staff_roles",
                  "staff", "departments"):
        op.drop_table(table, schema=S)
