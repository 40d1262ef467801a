"""The ``segment`` schema. Personal data is stored encrypted; the blind index serves look-ups."""

from __future__ import annotations

from cityline_common.manifest import EncryptedColumn, schema_tables
from sqlalchemy import BigInteger, Column, Date, DateTime, Integer, SmallInteger, String, Table, Text, func
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata, plumbing = schema_tables("segment")

residents = Table(
    "residents",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("line_user_id_ct", Text, nullable=False, comment="AES-GCM envelope token, bound to the row id"),
    # "<index key id>:<64 hex>" (bare hex under the legacy key k0). Unique: one row per index under a
    # key; look-ups match the indexes under every key of the ring (see the repository).
    Column("line_user_id_bidx", String(100), nullable=False, unique=True, comment="HMAC blind index <kid>:<hex>"),
    Column("status", String(16), nullable=False),
    Column("status_changed_at_ms", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# The LINE user id: encrypted and bound to its resident's row, found through its blind index. Declared
# in the manifest, so `cityline-keys` reports and rotates it.
LINE_USER_ID = EncryptedColumn(
    table="residents",
    column="line_user_id_ct",
    context="segment.residents.line_user_id",
    id_column="id",
    blind_index_column="line_user_id_bidx",
    blind_index_purpose="line_user_id",
)

taxonomy_versions = Table(
    "taxonomy_versions",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("content_sha256", String(64), nullable=False, unique=True),
    Column("document", JSONB, nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# 友だち追加 and ブロック per city calendar day (domain/friends.py): counters only, no personal data.
# A day's counts are spread over a few rows (``shard``, picked by the resident id) so consumers counting
# the same day at once do not all wait on one row lock; readers add them up.
friend_changes_daily = Table(
    "friend_changes_daily",
    metadata,
    Column("day", Date, primary_key=True, comment="the city's calendar day of the LINE event"),
    Column("shard", SmallInteger, primary_key=True),
    Column("follows", Integer, nullable=False, server_default="0"),
    Column("unfollows", Integer, nullable=False, server_default="0"),
)
