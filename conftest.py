"""Fixtures every test directory shares: a throw-away database and a throw-away RabbitMQ vhost.

Tests talk to real PostgreSQL and RabbitMQ (the URLs come from TEST_DATABASE_ADMIN_URL and
TEST_AMQP_URL, defaulting to the local servers). Each pytest session gets its own database and its
own vhost, dropped at the end, so runs never see each other's rows or messages.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from testsupport import TEST_KEYS

ADMIN_DATABASE_URL = os.environ.get("TEST_DATABASE_ADMIN_URL", "postgresql+psycopg2://cityline:cityline@127.0.0.1:5432/postgres")
AMQP_BASE = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672")


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


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
    """A fresh vhost (needs rabbitmqctl, as on the dev machines and CI); else the default vhost."""
    if shutil.which("rabbitmqctl") is None:
        yield f"{AMQP_BASE}/%2F"
        return
    vhost = f"cityline_test_{uuid.uuid4().hex[:10]}"
    _rabbitmqctl("add_vhost", vhost)
    user = make_url(AMQP_BASE.replace("amqp://", "postgresql://")).username or "guest"
    _rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
    yield f"{AMQP_BASE}/{quote(vhost, safe='')}"
    _rabbitmqctl("delete_vhost", vhost)


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
