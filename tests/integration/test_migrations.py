"""Every service's Alembic history matches its SQLAlchemy tables, and downgrades cleanly."""

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cityline_common.manifest import registered_services
from cityline_common.migrations import downgrade, upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

pytestmark = pytest.mark.integration
SERVICES = registered_services()


def test_every_service_is_registered():
    assert {"segment", "richmenu", "dispatcher", "admin"} <= set(SERVICES)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_migrations_match_the_models(name, migrated_database_url):
    service = SERVICES[name]
    engine = create_engine(migrated_database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"include_schemas": True, "version_table_schema": service.schema,
                  "include_object": lambda obj, _n, type_, *_: type_ != "table" or obj.schema == service.schema},
        )
        differences = compare_metadata(context, service.metadata)
    engine.dispose()
    assert differences == [], f"{name}: models and migrations differ; add a migration"


def test_round_trip_on_a_fresh_database():
    from conftest import ADMIN_DATABASE_URL

    name = f"cityline_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_DATABASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(ADMIN_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    try:
        for service in SERVICES.values():
            upgrade(service, url)
            downgrade(service, url, "base")
            upgrade(service, url)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
