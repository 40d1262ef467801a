"""The ``dispatcher`` schema: deliveries (配信) and their history, sends (配信回) and their jobs, the test
group, templates and images. No resident appears here: recipients stay in segment-service's frozen list
and a job names positions in it; staff test phones' LINE user ids are sealed to their row."""

from __future__ import annotations

from cityline_common.manifest import EncryptedColumn, schema_tables
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata, plumbing = schema_tables("dispatcher")

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("department", String(64), nullable=False),
    Column("author_id", String(64), nullable=False),
    Column("last_editor_id", String(64), nullable=False),
    Column("title", String(200), nullable=False),
    Column("category_key", String(40), nullable=False),
    Column("messages", JSONB, nullable=False),
    Column("target", JSONB, nullable=False),
    Column("schedule", JSONB, nullable=True, comment="予約・定期 rule (domain/schedule.py); null: sent on 送信"),
    Column("status", String(24), nullable=False),
    Column("version", Integer, nullable=False),
    Column("send_at", DateTime(timezone=True), nullable=True, comment="when the next send is due"),
    Column("approvals", JSONB, nullable=False, server_default="[]"),
    Column("confirmations", JSONB, nullable=False, server_default="[]"),
    Column("pause_reason", Text, nullable=False, server_default=""),
    Column("reviewed", JSONB, nullable=True, comment="the content as last approved or rejected"),
    Column("aggregation_unit", String(30), nullable=True, comment="LINE customAggregationUnit for statistics"),
    Column("runs", Integer, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("deliveries_due", "send_at", postgresql_where="status = 'scheduled'"),
    Index("deliveries_department", "department", "updated_at"),
)

delivery_history = Table(
    "delivery_history",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("delivery_id", UUID(as_uuid=True), ForeignKey("dispatcher.deliveries.id", ondelete="CASCADE"),
           nullable=False),
    Column("from_status", String(24), nullable=False),
    Column("to_status", String(24), nullable=False),
    Column("action", String(24), nullable=False),
    Column("actor_id", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("comment", Text, nullable=False, server_default=""),
    Index("delivery_history_delivery", "delivery_id", "id"),
)

# One send (配信回) per start: a once-only delivery has one, a recurring one one per occurrence. Its id
# names the frozen recipient list in segment-service; its counters are what progress reads.
sends = Table(
    "sends",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("delivery_id", UUID(as_uuid=True), ForeignKey("dispatcher.deliveries.id", ondelete="CASCADE"),
           nullable=False),
    Column("run", Integer, nullable=False),
    Column("status", String(24), nullable=False, comment="sending | paused | sent | partly_failed | cancelled"),
    Column("recipients", Integer, nullable=False),
    Column("jobs", Integer, nullable=False),
    Column("jobs_settled", Integer, nullable=False, server_default="0"),
    Column("sent", Integer, nullable=False, server_default="0"),
    Column("failed", Integer, nullable=False, server_default="0"),
    Column("messages", JSONB, nullable=False, comment="the content as sent (URLs filled in)"),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("delivery_id", "run", name="sends_run_once"),
)

send_jobs = Table(
    "send_jobs",
    metadata,
    Column("send_id", UUID(as_uuid=True), ForeignKey("dispatcher.sends.id", ondelete="CASCADE"), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("first", Integer, nullable=False),
    Column("last", Integer, nullable=False),
    Column("retry_key", UUID(as_uuid=True), nullable=False),
    Column("status", String(12), nullable=False, server_default="pending", comment="pending | sent | failed"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("request_id", String(64), nullable=True, comment="LINE's x-line-request-id of the accepted send"),
    Column("error", Text, nullable=True, comment="LINE's reason when it failed"),
    Column("settled_at", DateTime(timezone=True), nullable=True),
    Index("send_jobs_pending", "send_id", "number", postgresql_where="status = 'pending'"),
)

test_recipients = Table(
    "test_recipients",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("department", String(64), nullable=False),
    Column("label", String(100), nullable=False),
    Column("line_user_id_ct", Text, nullable=False, comment="AES-GCM envelope token, bound to the row id"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

templates = Table(
    "templates",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("department", String(64), nullable=False),
    Column("name", String(100), nullable=False),
    Column("messages", JSONB, nullable=False),
    Column("updated_by", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

assets = Table(
    "assets",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("department", String(64), nullable=False),
    Column("content_type", String(20), nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("original", LargeBinary, nullable=False),
    Column("preview", LargeBinary, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Staff test phones (テスト配信): sealed to their row; never returned by the API.
TEST_RECIPIENT_LINE_USER_ID = EncryptedColumn(
    table="test_recipients",
    column="line_user_id_ct",
    context="dispatcher.test_recipients.line_user_id",
    id_column="id",
)
