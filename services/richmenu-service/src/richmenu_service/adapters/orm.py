"""The ``richmenu`` schema. Tables of this service's own domain join it as its issues land."""

from __future__ import annotations

from cityline_common.db import plumbing_tables
from cityline_common.migrations import ServiceSchema
from sqlalchemy import MetaData

metadata = MetaData(schema="richmenu")
plumbing = plumbing_tables(metadata)

SCHEMA = ServiceSchema(
    name="richmenu",
    schema="richmenu",
    metadata=metadata,
    tables=plumbing,
    migrations="richmenu_service:migrations",
)
