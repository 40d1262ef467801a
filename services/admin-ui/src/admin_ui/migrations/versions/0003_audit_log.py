"""操作ログ: append-only, hash-chained audit log

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24

The application connects as the role that owns these tables (it runs the migrations too). An owner
holds every privilege on its table and may grant itself back any it lost, so REVOKE alone cannot make
the table append-only for it. Triggers do: any UPDATE, DELETE or TRUNCATE of ``admin.audit_log``
raises. Getting round them takes ``ALTER TABLE … DISABLE TRIGGER`` (owner or superuser) — an
attacker with that much power can also recompute the hashes, which is why ``admin-ui-audit verify``
prints the chain head for keeping outside the database. PUBLIC loses UPDATE, DELETE and TRUNCATE all
the same, so a read-only or reporting role granted on the schema later never gets them by default.

``admin.audit_chain`` is the chain's own counter: one row holding the last sequence number and hash.
Only the insert trigger of ``audit_log`` may move it (``pg_trigger_depth() > 1``), one step at a time,
and only to the row being inserted; so the chain cannot fork, sequence numbers have no gaps (a
rolled-back insert rolls the counter back with it), and rows deleted at the end still show.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = "0" * 64


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text),
        sa.Column("actor_login", sa.Text),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("target", sa.Text),
        sa.Column("department", sa.Text),
        sa.Column("source", sa.Text),
        sa.Column("before", JSONB),
        sa.Column("after", JSONB),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
        schema="admin",
    )
    op.create_index("ix_admin_audit_log_occurred_at", "audit_log", ["occurred_at"], schema="admin")
    op.create_index("ix_admin_audit_log_actor_login", "audit_log", ["actor_login", "seq"], schema="admin")
    op.create_index("ix_admin_audit_log_department", "audit_log", ["department", "seq"], schema="admin")
    op.create_index("ix_admin_audit_log_action", "audit_log", ["action", "seq"], schema="admin")
    op.create_table(
        "audit_chain",
        sa.Column("id", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name="audit_chain_one_row"),
        schema="admin",
    )
    op.execute(f"INSERT INTO admin.audit_chain (id, seq, row_hash) VALUES (1, 0, '{GENESIS_HASH}')")

    # Append-only: refuse every UPDATE, DELETE and TRUNCATE (statement level, so TRUNCATE is covered).
    op.execute("""
        CREATE FUNCTION admin.audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'admin.audit_log is append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$
    """)
    op.execute("""
        CREATE TRIGGER audit_log_append_only
            BEFORE UPDATE OR DELETE OR TRUNCATE ON admin.audit_log
            FOR EACH STATEMENT EXECUTE FUNCTION admin.audit_log_refuse_change()
    """)

    # Each new row must follow the chain head; the head then moves to it (same transaction).
    op.execute("""
        CREATE FUNCTION admin.audit_log_follow_chain() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            head admin.audit_chain%ROWTYPE;
        BEGIN
            SELECT * INTO head FROM admin.audit_chain WHERE id = 1 FOR UPDATE;
            IF NEW.seq IS DISTINCT FROM head.seq + 1 OR NEW.prev_hash IS DISTINCT FROM head.row_hash THEN
                RAISE EXCEPTION 'admin.audit_log: entry % does not follow the chain head (seq %)', NEW.seq, head.seq
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            UPDATE admin.audit_chain SET seq = NEW.seq, row_hash = NEW.row_hash WHERE id = 1;
            RETURN NEW;
        END $$
    """)
    op.execute("""
        CREATE TRIGGER audit_log_follow_chain
            BEFORE INSERT ON admin.audit_log
            FOR EACH ROW EXECUTE FUNCTION admin.audit_log_follow_chain()
    """)

    # The head moves only from the insert trigger above (trigger depth 2), never by hand.
    op.execute("""
        CREATE FUNCTION admin.audit_chain_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' AND pg_trigger_depth() > 1 THEN
                RETURN NULL;
            END IF;
            RAISE EXCEPTION 'admin.audit_chain moves only with admin.audit_log: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$
    """)
    op.execute("""
        CREATE TRIGGER audit_chain_guard
            BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON admin.audit_chain
            FOR EACH STATEMENT EXECUTE FUNCTION admin.audit_chain_guard()
    """)

    op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON admin.audit_log, admin.audit_chain FROM PUBLIC")


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_chain_guard ON admin.audit_chain")
    op.execute("DROP TRIGGER audit_log_follow_chain ON admin.audit_log")
    op.execute("DROP TRIGGER audit_log_append_only ON admin.audit_log")
    op.execute("DROP FUNCTION admin.audit_chain_guard()")
    op.execute("DROP FUNCTION admin.audit_log_follow_chain()")
    op.execute("DROP FUNCTION admin.audit_log_refuse_change()")
    op.drop_table("audit_chain", schema="admin")
    op.drop_index("ix_admin_audit_log_action", table_name="audit_log", schema="admin")
    op.drop_index("ix_admin_audit_log_department", table_name="audit_log", schema="admin")
    op.drop_index("ix_admin_audit_log_actor_login", table_name="audit_log", schema="admin")
    op.drop_index("ix_admin_audit_log_occurred_at", table_name="audit_log", schema="admin")
    op.drop_table("audit_log", schema="admin")
