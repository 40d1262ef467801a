"""A throw-away schema with the plumbing tables and an ``effects`` table handlers write to."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from cityline_common.amqp.messages import InboundMessage
from cityline_common.amqp.topology import CITY_COMMANDS, Binding, Queue
from cityline_common.contracts import Contract, ContractInfo
from cityline_common.db import SqlUnitOfWork, make_engine, plumbing_tables
from sqlalchemy import Column, Engine, MetaData, String, Table, Text, func, select, text
from sqlalchemy.dialects.postgresql import insert


class Happened(Contract):
    """A test message on ``city.commands``, routed by its ``key``."""

    contract = ContractInfo("test.Happened", 1, CITY_COMMANDS, "{key}", binding="#")
    key: str
    n: int = 0
    text: str = ""


def make_schema(schema: str):  # type: ignore[no-untyped-def]
    metadata = MetaData(schema=schema)
    plumbing = plumbing_tables(metadata)
    effects = Table(
        "effects", metadata,
        Column("message_id", String(200), primary_key=True),  # a second effect would violate this
        Column("body", Text, nullable=False),
    )
    return metadata, plumbing, effects


@contextmanager
def scratch_schema(database_url: str, prefix: str) -> Iterator[tuple[str, Engine, Table, Table]]:
    """Create ``make_schema``'s tables in a schema of their own; drop it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    metadata, plumbing, effects = make_schema(name)
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{name}"'))
    metadata.create_all(engine)
    try:
        yield name, engine, plumbing, effects
    finally:
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        engine.dispose()


def work_queue(name: str | None = None, delivery_limit: int = 3) -> Queue:
    name = name or f"test.work.{uuid.uuid4().hex[:8]}"
    return Queue(name, (Binding(CITY_COMMANDS, name),), delivery_limit=delivery_limit)


def record_effect(effects: Table):  # type: ignore[no-untyped-def]
    def handler(message: InboundMessage, uow: SqlUnitOfWork) -> None:
        uow.connection.execute(insert(effects).values(message_id=message.message_id, body=message.body.decode()))

    return handler


def count_effects(engine, effects) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(effects)).scalar_one())
