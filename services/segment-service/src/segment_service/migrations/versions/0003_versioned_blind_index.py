"""versioned blind index: line_user_id_bidx holds "<key id>:<hex>"

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

Existing indexes stay as they are: bare hex is the index under the legacy key id ``k0`` (a bare
BLIND_INDEX_KEY), which look-ups and ``cityline-keys`` understand, so no row is rewritten here and
pods of the previous release, still running while this one rolls out, keep finding what they wrote.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column(
        "residents", "line_user_id_bidx", schema="segment",
        type_=sa.String(100), existing_type=sa.String(64), existing_nullable=False,
        comment="HMAC blind index <kid>:<hex>", existing_comment="HMAC blind index",
    )
    op.alter_column(
        "residents", "line_user_id_ct", schema="segment",
        existing_type=sa.Text, existing_nullable=False,
        comment="AES-GCM envelope token, bound to the row id", existing_comment="AES-GCM envelope token",
    )


def downgrade() -> None:
    # Fails once an index is "<kid>:<hex>" (it does not fit). The previous release reads neither
    # those indexes nor row-bound (v2) tokens: going back means rotating back to a bare key as well.
    op.alter_column(
        "residents", "line_user_id_ct", schema="segment",
        existing_type=sa.Text, existing_nullable=False,
        comment="AES-GCM envelope token", existing_comment="AES-GCM envelope token, bound to the row id",
    )
    op.alter_column(
        "residents", "line_user_id_bidx", schema="segment",
        type_=sa.String(64), existing_type=sa.String(100), existing_nullable=False,
        comment="HMAC blind index", existing_comment="HMAC blind index <kid>:<hex>",
    )
