"""PostgreSQL plumbing: engines, the per-schema outbox and processed-message tables, the unit of work.

Each service owns one schema in the shared database and never reads another's tables. The
plumbing tables below are added to every service's own ``MetaData`` so they live in its schema.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    func,
    insert,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert

from cityline_common.tracing import inject_headers
from cityline_common.unit_of_work import AbstractUnitOfWork, OutgoingMessage


def make_engine(
    url: str,
    *,
    pool_size: int = 5,
    max_overflow: int = 10,
    echo: bool = False,
    connect_args: dict[str, Any] | None = None,
    pre_ping: bool = True,
) -> Engine:
    """``pre_ping`` costs a round trip per checkout; hot paths that survive a stale connection
    (the error invalidates it and the next checkout gets a fresh one) turn it off."""
    engine = create_engine(
        url, pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=pre_ping, echo=echo,
        pool_recycle=1800, connect_args=connect_args or {},
    )
    try:
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        SQLAlchemyInstrumentor().instrument(engine=engine)
    except Exception:  # tracing is an aid, not a dependency
        logging.getLogger(__name__).warning("sqlalchemy instrumentation unavailable", exc_info=True)
    return engine


def check_schema(engine: Engine, schema: str) -> None:
    """Readiness: the database answers and this service's schema has been migrated."""
    with engine.connect() as connection:
        found = connection.execute(
            text("SELECT to_regclass(:table)"), {"table": f"{schema}.alembic_version"}
        ).scalar()
    if found is None:
        raise RuntimeError(f"schema {schema!r} is not migrated")


@dataclass(frozen=True)
class PlumbingTables:
    outbox: Table
    processed_messages: Table


def plumbing_tables(metadata: MetaData) -> PlumbingTables:
    """Define the outbox and processed_messages tables in ``metadata``'s schema."""
    outbox = Table(
        "outbox",
        metadata,
        Column("id", UUID(as_uuid=True), primary_key=True),
        # The AMQP message_id consumers de-duplicate on: the row id, or an id the event already has
        # (a LINE webhookEventId spooled by ingress-webhook).
        Column("message_id", String(200), nullable=False),
        Column("exchange", String(200), nullable=False),
        Column("routing_key", String(255), nullable=False),
        Column("type", String(200), nullable=False),
        Column("payload", JSONB, nullable=False),
        # W3C trace context captured when the row was written.
        Column("headers", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("available_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("attempts", Integer, nullable=False, server_default=text("0")),
        Column("last_error", Text),
        Column("published_at", DateTime(timezone=True)),
    )
    Index(
        f"ix_{metadata.schema}_outbox_pending",
        outbox.c.available_at,
        outbox.c.created_at,
        postgresql_where=outbox.c.published_at.is_(None),
    )
    processed = Table(
        "processed_messages",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("message_id", String(200), primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    return PlumbingTables(outbox=outbox, processed_messages=processed)


class SqlUnitOfWork(AbstractUnitOfWork):
    """The PostgreSQL unit of work: one transaction on one connection of a service's own schema.

    Services subclass it to add repositories (``self.connection`` is theirs to use; SQLAlchemy Core,
    no ORM session: the domain model is plain Python and repositories map it explicitly). Messages for
    other services go through :meth:`emit`, never straight to the broker: the relay publishes them
    after commit, so a message exists if and only if the change that caused it does.

    The connection is taken from the pool on first use, so a handler that never touches the
    database (or survives its absence, like ingress-webhook's) does not fail on entering.
    """

    def __init__(self, engine: Engine, plumbing: PlumbingTables) -> None:
        self._engine = engine
        self._plumbing = plumbing
        self._connection: Connection | None = None

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            self._connection = self._engine.connect()
        return self._connection

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._connection is not None:
            try:
                self._connection.rollback()  # a no-op after commit; undoes everything otherwise
            finally:
                self._connection.close()
                self._connection = None

    def commit(self) -> None:
        if self._connection is not None:
            self._connection.commit()

    def rollback(self) -> None:
        if self._connection is not None:
            self._connection.rollback()

    def _add_outgoing(self, message: OutgoingMessage) -> None:
        contract = message.contract
        values: dict[str, Any] = {
            "id": uuid.uuid4(),
            "message_id": message.message_id,
            "exchange": contract.contract.exchange,
            "routing_key": contract.routing_key(),
            "type": contract.message_type(),
            "payload": contract.payload(),
            "headers": inject_headers(message.headers),
        }
        if message.available_at is not None:
            values["available_at"] = message.available_at
        self.connection.execute(insert(self._plumbing.outbox).values(**values))

    def claim_message(self, consumer: str, message_id: str) -> bool:
        """Record that ``consumer`` handles ``message_id`` in this transaction.

        Returns False when it was already handled (the caller skips and acks). Concurrent
        handlers of the same id serialise on the primary key; the loser sees False after the
        winner commits.
        """
        inserted = self.connection.execute(
            pg_insert(self._plumbing.processed_messages)
            .values(consumer=consumer, message_id=message_id)
            .on_conflict_do_nothing()
            .returning(self._plumbing.processed_messages.c.message_id)
        ).first()
        return inserted is not None
