"""dispatcher's unit of work: the port its handlers see, and its PostgreSQL adapter."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Self

from cityline_common.db import SqlUnitOfWork
from cityline_common.unit_of_work import AbstractUnitOfWork, HasEvents
from sqlalchemy import Engine

from dispatcher.adapters.orm import plumbing
from dispatcher.adapters.repository import (
    AbstractDeliveryRepository,
    AbstractLibrary,
    AbstractSendRepository,
    SqlDeliveryRepository,
    SqlLibrary,
    SqlSendRepository,
)


class AbstractDispatcherUnitOfWork(AbstractUnitOfWork):
    deliveries: AbstractDeliveryRepository
    sends: AbstractSendRepository
    library: AbstractLibrary  # test group, templates, images: plain storage, no rules of their own

    def _aggregates(self) -> Iterable[HasEvents]:
        return ()


class SqlDispatcherUnitOfWork(AbstractDispatcherUnitOfWork, SqlUnitOfWork):
    def __init__(self, engine: Engine) -> None:
        SqlUnitOfWork.__init__(self, engine, plumbing)

    def __enter__(self) -> Self:
        super().__enter__()
        self.deliveries = SqlDeliveryRepository(self.connection)
        self.sends = SqlSendRepository(self.connection)
        self.library = SqlLibrary(self.connection)
        return self
