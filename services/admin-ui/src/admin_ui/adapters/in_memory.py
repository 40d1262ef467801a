"""In-memory adapters of admin-ui's ports, for handler tests that read as stories.

One :class:`InMemoryAdminData` is one "database": units of work made by its factory share it, and
objects are copied in and out, as rows would be, so a handler only changes what it saves.
"""

from __future__ import annotations

import copy
import hashlib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Self

from cityline_common.internal_auth import StaffClaims
from cityline_common.unit_of_work import InMemoryUnitOfWork

from admin_ui.adapters.audit import InMemoryAuditLog
from admin_ui.adapters.internal_api import AbstractInternalApi
from admin_ui.adapters.repository import (
    AbstractDepartmentRepository,
    AbstractSessionRepository,
    AbstractStaffRepository,
    AbstractThrottleRepository,
)
from admin_ui.domain.accounts import Department, StaffMember
from admin_ui.domain.dashboard import FriendFigures
from admin_ui.domain.security import Throttle, ThrottleScope
from admin_ui.domain.sessions import SessionPolicy, StaffSession
from admin_ui.domain.status import ServiceStatus, StatusTarget
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

    def login_ids(self, staff_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
        return {each: self._store[each].login_id for each in staff_ids if each in self._store}


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

    def remove(self, session_id: uuid.UUID) -> bool:
        return self._store.pop(session_id, None) is not None

    def remove_for_staff(self, staff_id: uuid.UUID, keep: uuid.UUID | None = None) -> int:
        doomed = [s.id for s in self._store.values() if s.staff_id == staff_id and s.id != keep]
        for each in doomed:
            del self._store[each]
        return len(doomed)

    def for_staff(self, staff_id: uuid.UUID) -> list[StaffSession]:
        mine = [copy.deepcopy(s) for s in self._store.values() if s.staff_id == staff_id]
        return sorted(mine, key=lambda s: s.last_seen_at, reverse=True)

    def expired(self, now: datetime, policy: SessionPolicy, limit: int) -> list[StaffSession]:
        found = sorted((s for s in self._store.values() if s.expired(now, policy)), key=lambda s: s.last_seen_at)
        return [copy.deepcopy(s) for s in found[:limit]]


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

    def remove_stale(self, now: datetime, forget_after: timedelta, limit: int) -> int:
        stale = [key for key, t in self._store.items()
                 if (t.last_failure_at is None or t.last_failure_at < now - forget_after)
                 and (t.locked_until is None or t.locked_until <= now)][:limit]
        for key in stale:
            del self._store[key]
        return len(stale)


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


class NoPlatform(AbstractInternalApi):
    """The other services, absent: no readiness targets, no figures (pages show 「取得できません」)."""

    def readiness(self, targets: list[StatusTarget]) -> list[ServiceStatus]:
        return []

    def resident_counts(self, staff: StaffClaims) -> dict[str, int] | None:
        return None

    def friend_figures(self, staff: StaffClaims, days: int) -> FriendFigures | None:
        return None


class FastHasher:
    """Stands in for argon2id in stories (a real-hash test keeps the adapter honest): never deploy."""

    dummy_hash = "fake:" + "0" * 64

    def hash(self, password: str) -> str:
        return "fake:" + hashlib.sha256(password.encode()).hexdigest()

    def verify(self, password_hash: str, password: str) -> bool:
        return password_hash == self.hash(password)

    def needs_rehash(self, password_hash: str) -> bool:
        return False


class ManualClock:
    """A clock the story moves by hand."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 12, 1, 0, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)
