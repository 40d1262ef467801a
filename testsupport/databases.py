"""Databases of a test's own: created, migrated to head, dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

ADMIN_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_ADMIN_URL", "postgresql+psycopg2://cityline:cityline@127.0.0.1:5432/postgres"
)


@contextmanager
def migrated_database(prefix: str, services: tuple[str, ...] | None = None) -> Iterator[str]:
    """The URL of a new database with ``services``' schemas (default: every installed one) at head."""
    from cityline_common.manifest import registered_services
    from cityline_common.migrations import upgrade

    name = f"cityline_{prefix}_{uuid.uuid4().hex[:10]}"
    # No pool: the drop at the end may come after another test restarted PostgreSQL (the outage drill).
    admin = create_engine(ADMIN_DATABASE_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(ADMIN_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    try:
        installed = registered_services()
        for service in services or tuple(installed):
            upgrade(installed[service], url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
