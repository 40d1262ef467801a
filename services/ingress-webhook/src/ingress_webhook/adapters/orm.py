"""The ``ingress`` schema: which webhook events were already taken, and the spool (an outbox)."""

from __future__ import annotations

from cityline_common.manifest import schema_tables
from sqlalchemy import Column, DateTime, Index, String, Table, func

metadata, plumbing = schema_tables("ingress")

webhook_events_seen = Table(
    "webhook_events_seen",
    metadata,
    Column("webhook_event_id", String(64), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("ix_ingress_webhook_events_seen_received_at", webhook_events_seen.c.received_at)
