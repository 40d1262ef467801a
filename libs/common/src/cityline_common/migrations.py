"""Alembic per service schema.

Each service's manifest (:mod:`cityline_common.manifest`) names its schema and migrations; its
Alembic ``env.py`` is two lines calling :func:`run_env`. ``cityline-migrate`` (``make migrate``)
creates the database if missing and upgrades every registered service's schema.
"""

from __future__ import annotations

import argparse
import logging

from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from cityline_common.manifest import ServiceManifest, registered_services

log = logging.getLogger(__name__)


def ensure_database(database_url: str) -> None:
    """Create the database named in the URL when it does not exist yet (local and test set-ups)."""
    url = make_url(database_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}
            ).scalar()
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{url.database}"'))
                log.info("created database", extra={"database": url.database})
    finally:
        admin.dispose()


def alembic_config(service: ServiceManifest, database_url: str) -> Config:

    config = Config()
    config.set_main_option("script_location", service.migrations)
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["service"] = service
    return config


def upgrade(service: ServiceManifest, database_url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(service, database_url), revision)


def downgrade(service: ServiceManifest, database_url: str, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(service, database_url), revision)


def run_env(service: ServiceManifest) -> None:
    """Body of every service's Alembic ``env.py`` (online mode only: we always have a database)."""
    from alembic import context

    config = context.config
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{service.schema}"'))
        connection.commit()

        def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
            schema = getattr(obj, "schema", None)
            return type_ != "table" or schema == service.schema

        context.configure(
            connection=connection,
            target_metadata=service.metadata,
            version_table_schema=service.schema,
            include_schemas=True,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def main(argv: list[str] | None = None) -> None:
    """``cityline-migrate [SERVICE …]``: create the database if needed and upgrade schemas to head."""
    from cityline_common.settings import CommonSettings, load_settings_or_exit

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("services", nargs="*")
    parser.add_argument("--downgrade", metavar="REVISION", help="downgrade instead (e.g. base)")
    args = parser.parse_args(argv)
    settings = load_settings_or_exit(CommonSettings)
    services = registered_services()
    chosen = args.services or sorted(services)
    unknown = [name for name in chosen if name not in services]
    if unknown:
        raise SystemExit(f"unknown service(s): {', '.join(unknown)}; installed: {', '.join(sorted(services))}")
    ensure_database(settings.database_url)
    for name in chosen:
        if args.downgrade:
            downgrade(services[name], settings.database_url, args.downgrade)
            print(f"{name}: schema {services[name].schema} downgraded to {args.downgrade}")
        else:
            upgrade(services[name], settings.database_url)
            print(f"{name}: schema {services[name].schema} at head")


def create_plumbing_v1(schema: str) -> None:
    """Migration step shared by every service's first revision: the outbox and processed_messages
    tables at version 1. Frozen here: later changes get a ``*_v2`` step, never an edit."""
    import sqlalchemy as sa
    from alembic import op
    from sqlalchemy.dialects.postgresql import JSONB, UUID

    op.create_table(
        "outbox",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("exchange", sa.String(200), nullable=False),
        sa.Column("routing_key", sa.String(255), nullable=False),
        sa.Column("type", sa.String(200), nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("headers", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("last_error", sa.Text),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        schema=schema,
    )
    op.create_index(
        f"ix_{schema}_outbox_pending", "outbox", ["available_at", "created_at"], schema=schema,
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "processed_messages",
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("message_id", sa.String(200), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=schema,
    )


def drop_plumbing_v1(schema: str) -> None:
    from alembic import op

    op.drop_table("processed_messages", schema=schema)
    op.drop_index(f"ix_{schema}_outbox_pending", table_name="outbox", schema=schema)
    op.drop_table("outbox", schema=schema)
