"""The ``segment`` schema. Personal data is stored encrypted; the blind index serves look-ups."""

from __future__ import annotations

from cityline_common.manifest import schema_tables
from sqlalchemy import BigInteger, Column, DateTime, Integer, String, Table, Text, func
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata, plumbing = schema_tables("segment")

residents = Table(
    "residents",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("line_user_id_ct", Text, nullable=False, comment="AES-GCM envelope token"),
    Column("line_user_id_bidx", String(64), nullable=False, unique=True, comment="HMAC blind index"),
    Column("status", String(16), nullable=False),
    Column("status_changed_at_ms", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

taxonomy_versions = Table(
    "taxonomy_versions",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("content_sha256", String(64), nullable=False, unique=True),
    Column("document", JSONB, nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
