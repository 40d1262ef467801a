"""resident profiles (display name sealed, language), how each resident came, follower import progress,
the city's account texts (greeting)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26

Residents who were friends before this system existed never send a follow event: they come from
`segment-service-residents import-followers` (``origin = 'import'``). Their display name and language
come from LINE's profile endpoint; the name is personal data and is stored sealed to its row.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("residents", sa.Column("origin", sa.String(16), nullable=False, server_default="follow",
                                         comment="follow: a follow event; import: the follower-id import"),
                  schema="segment")
    op.add_column("residents", sa.Column("followed_at", sa.DateTime(timezone=True), nullable=True,
                                         comment="when the current friendship began (null: before we knew)"),
                  schema="segment")
    op.add_column("residents", sa.Column("display_name_ct", sa.Text, nullable=True,
                                         comment="AES-GCM envelope token, bound to the row id"),
                  schema="segment")
    op.add_column("residents", sa.Column("language", sa.String(16), nullable=True,
                                         comment="LINE profile language (BCP 47), e.g. ja, en"),
                  schema="segment")
    op.add_column("residents", sa.Column("profile_fetched_at", sa.DateTime(timezone=True), nullable=True),
                  schema="segment")
    op.create_index("residents_profile_pending", "residents", ["id"], schema="segment",
                    postgresql_where=sa.text("profile_fetched_at IS NULL"))
    op.create_table(
        "follower_imports",
        sa.Column("id", sa.String(40), primary_key=True, comment="one row per import run"),
        sa.Column("next_page_token", sa.Text, nullable=True, comment="LINE's `next`: where a resumed run goes on"),
        sa.Column("pages_done", sa.Integer, nullable=False, server_default="0"),
        sa.Column("ids_seen", sa.Integer, nullable=False, server_default="0"),
        sa.Column("residents_added", sa.Integer, nullable=False, server_default="0"),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        schema="segment",
    )
    op.create_table(
        "account_texts",
        sa.Column("key", sa.String(40), primary_key=True, comment="e.g. greeting, greeting_refollow"),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_by", sa.String(64), nullable=True, comment="staff id (admin-ui), never a name"),
        schema="segment",
    )


def downgrade() -> None:
    op.drop_table("account_texts", schema="segment")
    op.drop_table("follower_imports", schema="segment")
    op.drop_index("residents_profile_pending", table_name="residents", schema="segment")
    for column in ("profile_fetched_at", "language", "display_name_ct", "followed_at", "origin"):
        op.drop_column("residents", column, schema="segment")
