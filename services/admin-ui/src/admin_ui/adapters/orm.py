"""The ``admin`` schema. Tables of this service's own domain join it as its issues land."""

from __future__ import annotations

from cityline_common.db import plumbing_tables
from cityline_common.migrations import ServiceSchema
from sqlalchemy import MetaData

metadata = MetaData(schema="admin")
plumbing = plumbing_tables(metadata)

SCHEMA = ServiceSchema(
    name="admin",
    schema="admin",
    metadata=metadata,
    tables=plumbing,
    migrations="admin_ui:migrations",
)
