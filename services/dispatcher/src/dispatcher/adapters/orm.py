"""The ``dispatcher`` schema. Tables of this service's own domain join it as its issues land."""

from __future__ import annotations

from cityline_common.manifest import schema_tables

metadata, plumbing = schema_tables("dispatcher")
