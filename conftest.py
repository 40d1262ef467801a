"""Fixtures every test directory shares: a throw-away database and a throw-away RabbitMQ vhost.

Tests talk to real PostgreSQL and RabbitMQ (the URLs come from TEST_DATABASE_ADMIN_URL and
TEST_AMQP_URL, defaulting to the local servers). Each pytest session gets its own database and its
own vhost, dropped at the end, so runs never see each other's rows or messages.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from testsupport import TEST_KEYS

ADMIN_DATABASE_URL = os.environ.get("TEST_DATABASE_ADMIN_URL", "postgresql+psycopg2://cityline:cityline@127.0.0.1:5432/postgres")

@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    name = f"cityline_test_{uuid.uuid4().hex[:10]}"
    # pre-ping: a test may restart PostgreSQL (the database outage drill) under this pool.
    admin = create_engine(ADMIN_DATABASE_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(ADMIN_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    """A fresh vhost (testsupport.vhosts)."""
    from testsupport.vhosts import own_vhost

    with own_vhost() as url:
        yield url


@pytest.fixture(scope="session")
def migrated_database_url(database_url: str) -> str:
    """The session database with every installed service's schema at head."""
    from cityline_common.manifest import registered_services
    from cityline_common.migrations import upgrade

    for service in registered_services().values():
        upgrade(service, database_url)
    return database_url


@pytest.fixture
def service_env(monkeypatch: pytest.MonkeyPatch, migrated_database_url: str, amqp_url: str) -> dict[str, str]:
    """Environment a service reads its settings from, pointing at the test database and vhost."""
    env = {"DATABASE_URL": migrated_database_url, "AMQP_URL": amqp_url, "LOG_FORMAT": "text", **TEST_KEYS}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env
