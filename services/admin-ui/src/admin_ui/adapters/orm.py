"""The ``admin`` schema: departments (課), staff accounts and their roles, second factors, recovery
codes, sessions and sign-in throttles. The audit log's tables live in ``adapters/audit.py``."""

from __future__ import annotations

from cityline_common.manifest import EncryptedColumn, schema_tables
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID

metadata, plumbing = schema_tables("admin")

departments = Table(
    "departments",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

staff = Table(
    "staff",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("login_id", String(64), nullable=False, unique=True),
    Column("display_name", String(100), nullable=False),
    Column("password_hash", Text, nullable=False),  # argon2id, PHC string with its parameters
    Column("must_change_password", Boolean, nullable=False, server_default=text("false")),
    Column("disabled_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# A role in a department; システム管理者 ("admin") is held with department_code NULL.
staff_roles = Table(
    "staff_roles",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("staff_id", UUID(as_uuid=True), ForeignKey("admin.staff.id", ondelete="CASCADE"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("department_code", String(32), ForeignKey("admin.departments.code")),
    Index("ix_admin_staff_roles_staff", "staff_id"),
)

staff_totp = Table(
    "staff_totp",
    metadata,
    Column("staff_id", UUID(as_uuid=True), ForeignKey("admin.staff.id", ondelete="CASCADE"), primary_key=True),
    Column("secret_ct", Text, nullable=False),  # FieldCipher token bound to the staff id
    Column("confirmed", Boolean, nullable=False, server_default=text("false")),
    Column("last_step", BigInteger),
)

staff_recovery_codes = Table(
    "staff_recovery_codes",
    metadata,
    Column("staff_id", UUID(as_uuid=True), ForeignKey("admin.staff.id", ondelete="CASCADE"), primary_key=True),
    Column("code_sha256", String(64), primary_key=True),
    Column("used_at", DateTime(timezone=True)),
)

staff_sessions = Table(
    "staff_sessions",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("staff_id", UUID(as_uuid=True), ForeignKey("admin.staff.id", ondelete="CASCADE"), nullable=False),
    Column("stage", String(16), nullable=False),
    Column("signed_in_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Column("address", String(64), nullable=False),
    Column("user_agent", String(200), nullable=False),
    Index("ix_admin_staff_sessions_staff", "staff_id"),
)

sign_in_throttles = Table(
    "sign_in_throttles",
    metadata,
    Column("scope", String(8), primary_key=True),  # account | address
    Column("key", String(128), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure_at", DateTime(timezone=True)),
    Column("locked_until", DateTime(timezone=True)),
)

# The TOTP secret: encrypted and bound to its staff row; `cityline-keys` reports and rotates it.
TOTP_SECRET = EncryptedColumn(
    table="staff_totp", column="secret_ct", context="admin.staff_totp.secret", id_column="staff_id",
)
