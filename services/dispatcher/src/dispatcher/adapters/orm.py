"""The ``dispatcher`` schema. Tables of this service's own domain join it as its issues land."""

from __future__ import annotations

from cityline_common.db import plumbing_tables
from cityline_common.migrations import ServiceSchema
from sqlalchemy import MetaData

metadata = MetaData(schema="dispatcher")
plumbing = plumbing_tables(metadata)

SCHEMA = ServiceSchema(
    name="dispatcher",
    schema="dispatcher",
    metadata=metadata,
    tables=plumbing,
    migrations="dispatcher:migrations",
)
