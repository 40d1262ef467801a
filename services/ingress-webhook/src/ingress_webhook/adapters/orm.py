"""The ``ingress`` schema: which webhook events were already taken, and the spool (an outbox)."""

from __future__ import annotations

from cityline_common.db import plumbing_tables
from cityline_common.migrations import ServiceSchema
from sqlalchemy import Column, DateTime, Index, MetaData, String, Table, func

metadata = MetaData(schema="ingress")
plumbing = plumbing_tables(metadata)

webhook_events_seen = Table(
    "webhook_events_seen",
    metadata,
    Column("webhook_event_id", String(64), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("ix_ingress_webhook_events_seen_received_at", webhook_events_seen.c.received_at)

SCHEMA = ServiceSchema(
    name="ingress",
    schema="ingress",
    metadata=metadata,
    tables=plumbing,
    migrations="ingress_webhook:migrations",
)
