"""dispatcher's unit of work: the port its handlers see, and its PostgreSQL adapter."""

from __future__ import annotations

from cityline_common.db import SqlUnitOfWork
from cityline_common.unit_of_work import AbstractUnitOfWork
from sqlalchemy import Engine

from dispatcher.adapters.orm import plumbing


class AbstractDispatcherUnitOfWork(AbstractUnitOfWork):
    """Repositories join here with this service's feature issue."""


class SqlDispatcherUnitOfWork(AbstractDispatcherUnitOfWork, SqlUnitOfWork):
    def __init__(self, engine: Engine) -> None:
        SqlUnitOfWork.__init__(self, engine, plumbing)
