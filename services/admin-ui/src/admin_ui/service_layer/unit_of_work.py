"""admin-ui's unit of work: the port its handlers see, and its PostgreSQL adapter (its own schema)."""

from __future__ import annotations

from typing import Self

from cityline_common.crypto import FieldCipher
from cityline_common.db import SqlUnitOfWork
from cityline_common.unit_of_work import AbstractUnitOfWork
from sqlalchemy import Engine

from admin_ui.adapters.audit import AbstractAuditLog, SqlAuditLog
from admin_ui.adapters.orm import plumbing
from admin_ui.adapters.repository import (
    AbstractDepartmentRepository,
    AbstractSessionRepository,
    AbstractStaffRepository,
    AbstractThrottleRepository,
    SqlDepartmentRepository,
    SqlSessionRepository,
    SqlStaffRepository,
    SqlThrottleRepository,
)


class AbstractAdminUnitOfWork(AbstractUnitOfWork):
    """Staff accounts, departments, sessions, sign-in throttles and the audit log."""

    audit: AbstractAuditLog  # 操作ログ: ``uow.audit.record(...)`` writes in this unit of work's transaction
    staff: AbstractStaffRepository
    departments: AbstractDepartmentRepository
    sessions: AbstractSessionRepository
    throttles: AbstractThrottleRepository


class SqlAdminUnitOfWork(AbstractAdminUnitOfWork, SqlUnitOfWork):
    def __init__(self, engine: Engine, cipher: FieldCipher) -> None:
        SqlUnitOfWork.__init__(self, engine, plumbing)
        self._cipher = cipher
        self.audit = SqlAuditLog(lambda: self.connection)

    def __enter__(self) -> Self:
        super().__enter__()
        connection = lambda: self.connection  # noqa: E731 - taken on first use
        self.staff = SqlStaffRepository(connection, self._cipher)
        self.departments = SqlDepartmentRepository(connection)
        self.sessions = SqlSessionRepository(connection)
        self.throttles = SqlThrottleRepository(connection)
        return self
