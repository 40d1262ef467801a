"""In-memory adapters of admin-ui's ports, for handler tests that read as stories.

One :class:`InMemoryAdminData` is one "database": units of work made by its factory share it, and
objects are copied in and out, as rows would be, so a handler only changes what it saves.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Self

from cityline_common.unit_of_work import InMemoryUnitOfWork

from admin_ui.adapters.audit import InMemoryAuditLog
from admin_ui.adapters.repository import (
    AbstractDepartmentRepository,
    AbstractSessionRepository,
    AbstractStaffRepository,
    AbstractThrottleRepository,
)
from admin_ui.domain.accounts import Department, StaffMember
from admin_ui.domain.security import Throttle, ThrottleScope
from admin_ui.domain.sessions import StaffSession
from admin_ui.service_layer.unit_of_work import AbstractAdminUnitOfWork


class InMemoryStaffRepository(AbstractStaffRepository):
    def __init__(self, store: dict[uuid.UUID, StaffMember]) -> None:
        self._store = store

    def get(self, staff_id: uuid.UUID) -> StaffMember | None:
        return copy.deepcopy(self._store.get(staff_id))

    def get_by_login_id(self, login_id: str) -> StaffMember | None:
        return copy.deepcopy(next((m for m in self._store.values() if m.login_id == login_id), None))

    def add(self, member: StaffMember) -> None:
        if member.id in self._store or self.get_by_login_id(member.login_id) is not None:
            raise ValueError("a staff member with this id or login id exists")  # the unique constraints
        self._store[member.id] = copy.deepcopy(member)

    def save(self, member: StaffMember) -> None:
        self._store[member.id] = copy.deepcopy(member)

    def list_all(self) -> list[StaffMember]:
        return [copy.deepcopy(m) for m in sorted(self._store.values(), key=lambda m: m.login_id)]


class InMemoryDepartmentRepository(AbstractDepartmentRepository):
    def __init__(self, store: dict[str, Department]) -> None:
        self._store = store

    def get(self, code: str) -> Department | None:
        return self._store.get(code)

    def add(self, department: Department) -> None:
        if department.code in self._store or any(d.name == department.name for d in self._store.values()):
            raise ValueError("a department with this code or name exists")
        self._store[department.code] = department

    def list_all(self) -> list[Department]:
        return sorted(self._store.values(), key=lambda d: d.code)


class InMemorySessionRepository(AbstractSessionRepository):
    def __init__(self, store: dict[uuid.UUID, StaffSession]) -> None:
        self._store = store

    def add(self, session: StaffSession) -> None:
        self._store[session.id] = copy.deepcopy(session)

    def by_token_hash(self, token_hash: str) -> StaffSession | None:
        found = next((s for s in self._store.values() if s.token_hash == token_hash), None)
        return copy.deepcopy(found)

    def touch(self, session: StaffSession, now: datetime) -> None:
        session.last_seen_at = now
        if session.id in self._store:
            self._store[session.id].last_seen_at = now

    def remove(self, session_id: uuid.UUID) -> None:
        self._store.pop(session_id, None)

    def remove_for_staff(self, staff_id: uuid.UUID, keep: uuid.UUID | None = None) -> int:
        doomed = [s.id for s in self._store.values() if s.staff_id == staff_id and s.id != keep]
        for each in doomed:
            del self._store[each]
        return len(doomed)

    def for_staff(self, staff_id: uuid.UUID) -> list[StaffSession]:
        mine = [copy.deepcopy(s) for s in self._store.values() if s.staff_id == staff_id]
        return sorted(mine, key=lambda s: s.last_seen_at, reverse=True)


class InMemoryThrottleRepository(AbstractThrottleRepository):
    def __init__(self, store: dict[tuple[ThrottleScope, str], Throttle]) -> None:
        self._store = store

    def get(self, scope: ThrottleScope, key: str) -> Throttle:
        return copy.deepcopy(self._store.get((scope, key))) or Throttle(scope, key)

    def save(self, throttle: Throttle) -> None:
        if throttle.failures == 0:
            self._store.pop((throttle.scope, throttle.key), None)
        else:
            self._store[(throttle.scope, throttle.key)] = copy.deepcopy(throttle)


@dataclass
class InMemoryAdminData:
    """What the in-memory "database" holds; one per test. ``clock`` stamps audit entries."""

    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    staff: dict[uuid.UUID, StaffMember] = field(default_factory=dict)
    departments: dict[str, Department] = field(default_factory=dict)
    sessions: dict[uuid.UUID, StaffSession] = field(default_factory=dict)
    throttles: dict[tuple[ThrottleScope, str], Throttle] = field(default_factory=dict)
    audit: InMemoryAuditLog | None = None

    def __post_init__(self) -> None:
        if self.audit is None:
            self.audit = InMemoryAuditLog(self.clock)

    def uow(self) -> InMemoryAdminUnitOfWork:
        return InMemoryAdminUnitOfWork(self)

    def audit_actions(self) -> list[str]:
        assert self.audit is not None
        return [event.action for event in self.audit.events]


class InMemoryAdminUnitOfWork(InMemoryUnitOfWork, AbstractAdminUnitOfWork):

    def __init__(self, data: InMemoryAdminData) -> None:
        super().__init__()
        self._data = data
        assert data.audit is not None
        self._audit = data.audit
        self.audit = data.audit

    def __enter__(self) -> Self:
        super().__enter__()
        self.staff = InMemoryStaffRepository(self._data.staff)
        self.departments = InMemoryDepartmentRepository(self._data.departments)
        self.sessions = InMemorySessionRepository(self._data.sessions)
        self.throttles = InMemoryThrottleRepository(self._data.throttles)
        return self

    def commit(self) -> None:
        super().commit()
        self._audit.commit()

    def rollback(self) -> None:
        super().rollback()
        self._audit.rollback()
