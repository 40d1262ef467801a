"""The ``segment`` schema. Personal data is stored encrypted; the blind index serves look-ups."""

from __future__ import annotations

from cityline_common.manifest import EncryptedColumn, schema_tables
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

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
    Column("origin", String(16), nullable=False, server_default="follow",
           comment="follow: a follow event; import: the follower-id import"),
    Column("followed_at", DateTime(timezone=True), nullable=True,
           comment="when the current friendship began (null: before we knew)"),
    Column("display_name_ct", Text, nullable=True, comment="AES-GCM envelope token, bound to the row id"),
    Column("language", String(16), nullable=True, comment="LINE profile language (BCP 47), e.g. ja, en"),
    Column("profile_fetched_at", DateTime(timezone=True), nullable=True),
    # The residents whose profile (display name, language) `fetch-profiles` has still to ask LINE for.
    Index("residents_profile_pending", "id", postgresql_where=text("profile_fetched_at IS NULL")),
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

# The LINE display name from the profile endpoint (import-followers --profiles / fetch-profiles): sealed
# to its row like the LINE user id, never looked up (no blind index). NULL until fetched.
DISPLAY_NAME = EncryptedColumn(
    table="residents",
    column="display_name_ct",
    context="segment.residents.display_name",
    id_column="id",
)

taxonomy_versions = Table(
    "taxonomy_versions",
    metadata,
    Column("version", Integer, primary_key=True),
    # Not unique since 0006: publishing an older version's content again makes it current as a new version.
    Column("content_sha256", String(64), nullable=False),
    Column("document", JSONB, nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("taxonomy_versions_content", "content_sha256"),
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

# Where each `import-followers` run is, so a killed run goes on from its last page (0005).
follower_imports = Table(
    "follower_imports",
    metadata,
    Column("id", String(40), primary_key=True, comment="one row per import run"),
    Column("next_page_token", Text, nullable=True, comment="LINE's `next`: where a resumed run goes on"),
    Column("pages_done", Integer, nullable=False, server_default="0"),
    Column("ids_seen", Integer, nullable=False, server_default="0"),
    Column("residents_added", Integer, nullable=False, server_default="0"),
    Column("started_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("finished_at", DateTime(timezone=True), nullable=True),
)

# The city's own words to residents (the greeting on follow and on re-follow), editable by staff.
account_texts = Table(
    "account_texts",
    metadata,
    Column("key", String(40), primary_key=True, comment="e.g. greeting, greeting_refollow"),
    Column("text", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_by", String(64), nullable=True, comment="staff id (admin-ui), never a name"),
)

# 受信設定 and segments (0006). See docs/architecture.md, "受信設定 and segments".
taxonomy_codes = Table(
    "taxonomy_codes",
    metadata,
    Column("dimension", String(16), primary_key=True),
    Column("key", String(40), primary_key=True),
    Column("code", SmallInteger, nullable=False),
    Column("first_version", Integer, nullable=False),
    Column("retired_version", Integer, nullable=True, comment="merged or retired in this version"),
    Column("merged_into", String(40), nullable=True),
    UniqueConstraint("dimension", "code", name="taxonomy_codes_code_once"),
)

# One narrow row per resident (kept in step with ``residents`` by a trigger for following/followed_at).
resident_answers = Table(
    "resident_answers",
    metadata,
    Column("resident_id", UUID(as_uuid=True), ForeignKey("segment.residents.id", ondelete="CASCADE"),
           primary_key=True),
    Column("categories", BigInteger, nullable=False, server_default="0", comment="bit n: the category whose code is n"),
    Column("followed_at", DateTime(timezone=True), nullable=True),
    Column("answered_at", DateTime(timezone=True), nullable=True, comment="null: never answered"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("taxonomy_version", Integer, nullable=True),
    Column("district", SmallInteger, nullable=True),
    Column("age_band", SmallInteger, nullable=True),
    Column("language", SmallInteger, nullable=True),
    Column("following", Boolean, nullable=False, server_default=false()),
    Column("child_birth_months", ARRAY(Integer), nullable=False, server_default="{}",
           comment="year*12 + month-1 of each child's birth"),
    Index("resident_answers_followed_at", "followed_at", postgresql_where=text("following")),
)

preference_changes = Table(
    "preference_changes",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("resident_id", UUID(as_uuid=True), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("source", String(8), nullable=False, comment="chat | liff | import | staff"),
    Column("taxonomy_version", Integer, nullable=True),
    Column("before", JSONB, nullable=True, comment="answers as keys; null: first answer"),
    Column("after", JSONB, nullable=False),
    Index("preference_changes_resident", "resident_id", "changed_at"),
)

segments = Table(
    "segments",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("department", String(100), nullable=False),
    Column("expression", JSONB, nullable=False),
    Column("taxonomy_version", Integer, nullable=False),
    Column("created_by", String(128), nullable=False, comment="staff id, never a name"),
    Column("updated_by", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("segments_department", "department", "name"),
)

recipient_lists = Table(
    "recipient_lists",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("delivery_id", String(64), nullable=False, unique=True),
    Column("expression", JSONB, nullable=False),
    Column("include_unanswered", Boolean, nullable=False),
    Column("evaluated_on", Date, nullable=False),
    Column("taxonomy_version", Integer, nullable=False),
    Column("members", Integer, nullable=False),
    Column("frozen_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

recipient_list_members = Table(
    "recipient_list_members",
    metadata,
    # No foreign key: members are written only by freezing, with the id of the list row made in the
    # same transaction; checking each of them again cost most of the freeze (migration 0007).
    Column("list_id", BigInteger, primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("resident_id", UUID(as_uuid=True), nullable=False),
)
