"""受信設定 answers, taxonomy codes, preference history, segments and frozen recipient lists

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26

* ``taxonomy_codes``: a stable small integer per (dimension, key), never reused.
* ``resident_answers``: one narrow row per resident (answers as codes, a category bitmask, children's
  birth months) plus the two resident facts segments need (``following``, ``followed_at``), so a
  segment count reads this table alone. A trigger on ``residents`` keeps those two facts (and the
  row's existence) in step with whatever writes residents: follows, blocks, the follower import.
* ``preference_changes``: every change with its time and source (chat, liff, import, staff).
* ``segments``: saved expressions per department; ``recipient_lists`` / ``recipient_list_members``:
  the members of a delivery, frozen once.

Taxonomy v2 drops ``child_stages``; no answers were stored under it (answers begin with this
revision), so there is nothing to convert in the data: published documents with ``child_stages``
still parse, and the section is dropped when such a document is published again.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOLLOWED_AT = "COALESCE(NEW.followed_at, CASE WHEN NEW.origin = 'follow' THEN NEW.created_at END)"


def upgrade() -> None:
    # Publishing an older version's content again (undoing a merge, say) makes it current as a new
    # version, so a content hash may now appear twice.
    op.drop_constraint("taxonomy_versions_content_sha256_key", "taxonomy_versions", schema="segment")
    op.create_index("taxonomy_versions_content", "taxonomy_versions", ["content_sha256"], schema="segment")
    op.create_table(
        "taxonomy_codes",
        sa.Column("dimension", sa.String(16), primary_key=True),
        sa.Column("key", sa.String(40), primary_key=True),
        sa.Column("code", sa.SmallInteger, nullable=False),
        sa.Column("first_version", sa.Integer, nullable=False),
        sa.Column("retired_version", sa.Integer, nullable=True, comment="merged or retired in this version"),
        sa.Column("merged_into", sa.String(40), nullable=True),
        sa.UniqueConstraint("dimension", "code", name="taxonomy_codes_code_once"),
        schema="segment",
    )
    op.create_table(
        "resident_answers",
        sa.Column("resident_id", UUID(as_uuid=True), sa.ForeignKey("segment.residents.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("categories", sa.BigInteger, nullable=False, server_default="0",
                  comment="bit n: the category whose code is n"),
        sa.Column("followed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True, comment="null: never answered"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("taxonomy_version", sa.Integer, nullable=True),
        sa.Column("district", sa.SmallInteger, nullable=True),
        sa.Column("age_band", sa.SmallInteger, nullable=True),
        sa.Column("language", sa.SmallInteger, nullable=True),
        sa.Column("following", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("child_birth_months", ARRAY(sa.Integer), nullable=False, server_default="{}",
                  comment="year*12 + month-1 of each child's birth"),
        schema="segment",
    )
    op.create_index("resident_answers_followed_at", "resident_answers", ["followed_at"], schema="segment",
                    postgresql_where=sa.text("following"))
    op.execute("""
        CREATE FUNCTION segment.resident_facts() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO segment.resident_answers (resident_id, following, followed_at)
            VALUES (NEW.id, NEW.status = 'following', """ + FOLLOWED_AT + """)
            ON CONFLICT (resident_id) DO UPDATE
                SET following = EXCLUDED.following, followed_at = EXCLUDED.followed_at
                WHERE resident_answers.following IS DISTINCT FROM EXCLUDED.following
                   OR resident_answers.followed_at IS DISTINCT FROM EXCLUDED.followed_at;
            RETURN NULL;
        END $$
    """)
    op.execute("""
        CREATE TRIGGER residents_facts AFTER INSERT OR UPDATE OF status, followed_at ON segment.residents
        FOR EACH ROW EXECUTE FUNCTION segment.resident_facts()
    """)
    op.execute("""
        INSERT INTO segment.resident_answers (resident_id, following, followed_at)
        SELECT id, status = 'following', COALESCE(followed_at, CASE WHEN origin = 'follow' THEN created_at END)
        FROM segment.residents
    """)
    op.create_table(
        "preference_changes",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("resident_id", UUID(as_uuid=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(8), nullable=False, comment="chat | liff | import | staff"),
        sa.Column("taxonomy_version", sa.Integer, nullable=True),
        sa.Column("before", JSONB, nullable=True, comment="answers as keys; null: first answer"),
        sa.Column("after", JSONB, nullable=False),
        schema="segment",
    )
    op.create_index("preference_changes_resident", "preference_changes", ["resident_id", "changed_at"],
                    schema="segment")
    op.create_table(
        "segments",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("department", sa.String(100), nullable=False),
        sa.Column("expression", JSONB, nullable=False),
        sa.Column("taxonomy_version", sa.Integer, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False, comment="staff id, never a name"),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema="segment",
    )
    op.create_index("segments_department", "segments", ["department", "name"], schema="segment")
    op.create_table(
        "recipient_lists",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("delivery_id", sa.String(64), nullable=False, unique=True),
        sa.Column("expression", JSONB, nullable=False),
        sa.Column("include_unanswered", sa.Boolean, nullable=False),
        sa.Column("evaluated_on", sa.Date, nullable=False),
        sa.Column("taxonomy_version", sa.Integer, nullable=False),
        sa.Column("members", sa.Integer, nullable=False),
        sa.Column("frozen_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema="segment",
    )
    op.create_table(
        "recipient_list_members",
        sa.Column("list_id", sa.BigInteger, sa.ForeignKey("segment.recipient_lists.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("resident_id", UUID(as_uuid=True), nullable=False),
        schema="segment",
    )


def downgrade() -> None:
    op.drop_table("recipient_list_members", schema="segment")
    op.drop_table("recipient_lists", schema="segment")
    op.drop_table("segments", schema="segment")
    op.drop_table("preference_changes", schema="segment")
    op.execute("DROP TRIGGER residents_facts ON segment.residents")
    op.execute("DROP FUNCTION segment.resident_facts()")
    op.drop_table("resident_answers", schema="segment")
    op.drop_table("taxonomy_codes", schema="segment")
    op.drop_index("taxonomy_versions_content", table_name="taxonomy_versions", schema="segment")
    op.create_unique_constraint("taxonomy_versions_content_sha256_key", "taxonomy_versions", ["content_sha256"],
                                schema="segment")
