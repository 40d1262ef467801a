"""admin-ui's unit of work: the port its handlers see, and its PostgreSQL adapter (its own schema)."""

from __future__ import annotations

from cityline_common.db import SqlUnitOfWork
from cityline_common.unit_of_work import AbstractUnitOfWork
from sqlalchemy import Engine

from admin_ui.adapters.orm import plumbing


class AbstractAdminUnitOfWork(AbstractUnitOfWork):
    """Staff accounts, sessions and the audit log join here with their issue."""


class SqlAdminUnitOfWork(AbstractAdminUnitOfWork, SqlUnitOfWork):
    def __init__(self, engine: Engine) -> None:
        SqlUnitOfWork.__init__(self, engine, plumbing)
