"""Staff, departments, sessions and sign-in throttles: the repository ports and their PostgreSQL
adapters (SQLAlchemy Core). TOTP secrets are sealed for their row with the platform's FieldCipher."""

from __future__ import annotations

import abc
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from cityline_common.crypto import FieldCipher
from sqlalchemy import ColumnElement, Connection, Row, and_, delete, func, insert, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from admin_ui.adapters.orm import (
    TOTP_SECRET,
    departments,
    sign_in_throttles,
    staff,
    staff_recovery_codes,
    staff_roles,
    staff_sessions,
    staff_totp,
)
from admin_ui.domain.accounts import Department, StaffMember, TotpFactor
from admin_ui.domain.permissions import Grant, Role
from admin_ui.domain.security import Throttle, ThrottleScope
from admin_ui.domain.sessions import SessionPolicy, SessionStage, StaffSession

# --- ports -----------------------------------------------------------------------------------------


class AbstractStaffRepository(abc.ABC):
    @abc.abstractmethod
    def get(self, staff_id: uuid.UUID) -> StaffMember | None: ...

    @abc.abstractmethod
    def get_by_login_id(self, login_id: str) -> StaffMember | None: ...

    @abc.abstractmethod
    def add(self, member: StaffMember) -> None: ...

    @abc.abstractmethod
    def save(self, member: StaffMember) -> None:
        """Store every part of ``member``: account, grants, second factor, recovery codes."""

    @abc.abstractmethod
    def list_all(self) -> list[StaffMember]: ...

    @abc.abstractmethod
    def login_ids(self, staff_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
        """Login ids by staff id (for the audit log; no secrets are read)."""


class AbstractDepartmentRepository(abc.ABC):
    @abc.abstractmethod
    def get(self, code: str) -> Department | None: ...

    @abc.abstractmethod
    def add(self, department: Department) -> None: ...

    @abc.abstractmethod
    def list_all(self) -> list[Department]: ...


class AbstractSessionRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, session: StaffSession) -> None: ...

    @abc.abstractmethod
    def by_token_hash(self, token_hash: str) -> StaffSession | None: ...

    @abc.abstractmethod
    def touch(self, session: StaffSession, now: datetime) -> None: ...

    @abc.abstractmethod
    def remove(self, session_id: uuid.UUID) -> bool:
        """End a session; False when it was already gone (ended meanwhile by someone else)."""

    @abc.abstractmethod
    def remove_for_staff(self, staff_id: uuid.UUID, keep: uuid.UUID | None = None) -> int: ...

    @abc.abstractmethod
    def for_staff(self, staff_id: uuid.UUID) -> list[StaffSession]: ...

    @abc.abstractmethod
    def expired(self, now: datetime, policy: SessionPolicy, limit: int) -> list[StaffSession]:
        """Up to ``limit`` sessions past a timeout of ``policy`` at ``now``, locked for this
        transaction (sessions another sweeper holds are skipped)."""


class AbstractThrottleRepository(abc.ABC):
    @abc.abstractmethod
    def get(self, scope: ThrottleScope, key: str) -> Throttle:
        """The throttle for ``key`` (a fresh one when none is stored), locked for the transaction."""

    @abc.abstractmethod
    def save(self, throttle: Throttle) -> None: ...

    @abc.abstractmethod
    def remove_stale(self, now: datetime, forget_after: timedelta, limit: int) -> int:
        """Delete up to ``limit`` throttles that lock nothing and whose last failure is older than
        ``forget_after`` (they would start again from zero anyway); how many were deleted."""


# --- PostgreSQL --------------------------------------------------------------------------------------


class _SqlRepository:
    """Takes the unit of work's connection on first use (a request that needs no table takes none)."""

    def __init__(self, connection: Callable[[], Connection]) -> None:
        self._get_connection = connection

    @property
    def _connection(self) -> Connection:
        return self._get_connection()


class SqlStaffRepository(_SqlRepository, AbstractStaffRepository):
    def __init__(self, connection: Callable[[], Connection], cipher: FieldCipher) -> None:
        super().__init__(connection)
        self._cipher = cipher

    def get(self, staff_id: uuid.UUID) -> StaffMember | None:
        return self._one(staff.c.id == staff_id)

    def get_by_login_id(self, login_id: str) -> StaffMember | None:
        return self._one(staff.c.login_id == login_id)

    def _one(self, condition: ColumnElement[bool]) -> StaffMember | None:
        row = self._connection.execute(select(staff).where(condition)).first()
        return None if row is None else self._load([row])[0]

    def list_all(self) -> list[StaffMember]:
        rows = self._connection.execute(select(staff).order_by(staff.c.login_id)).all()
        return self._load(rows)

    def login_ids(self, staff_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
        ids = list(set(staff_ids))
        if not ids:
            return {}
        rows = self._connection.execute(select(staff.c.id, staff.c.login_id).where(staff.c.id.in_(ids)))
        return {row.id: row.login_id for row in rows}

    def _load(self, rows: Iterable[Row[Any]]) -> list[StaffMember]:
        rows = list(rows)
        ids = [row.id for row in rows]
        grants: dict[uuid.UUID, set[Grant]] = {each: set() for each in ids}
        for staff_id, role, department in self._connection.execute(
            select(staff_roles.c.staff_id, staff_roles.c.role, staff_roles.c.department_code)
            .where(staff_roles.c.staff_id.in_(ids))
        ):
            grants[staff_id].add(Grant(Role(role), department))
        factors = {
            row.staff_id: TotpFactor(
                self._cipher.decrypt_for_row(row.secret_ct, TOTP_SECRET.context, row.staff_id),
                row.confirmed, row.last_step,
            )
            for row in self._connection.execute(select(staff_totp).where(staff_totp.c.staff_id.in_(ids)))
        }
        codes: dict[uuid.UUID, dict[str, datetime | None]] = {each: {} for each in ids}
        for row in self._connection.execute(
            select(staff_recovery_codes).where(staff_recovery_codes.c.staff_id.in_(ids))
        ):
            codes[row.staff_id][row.code_sha256] = row.used_at
        return [
            StaffMember(
                id=row.id, login_id=row.login_id, display_name=row.display_name, password_hash=row.password_hash,
                grants=frozenset(grants[row.id]), disabled=row.disabled_at is not None,
                must_change_password=row.must_change_password, totp=factors.get(row.id),
                recovery_codes=codes[row.id], created_at=row.created_at,
            )
            for row in rows
        ]

    def add(self, member: StaffMember) -> None:
        self._connection.execute(insert(staff).values(
            id=member.id, login_id=member.login_id, display_name=member.display_name,
            password_hash=member.password_hash, must_change_password=member.must_change_password,
            disabled_at=func.now() if member.disabled else None,
        ))
        self._save_parts(member)

    def save(self, member: StaffMember) -> None:
        self._connection.execute(
            update(staff).where(staff.c.id == member.id).values(
                display_name=member.display_name, password_hash=member.password_hash,
                must_change_password=member.must_change_password,
                disabled_at=func.coalesce(staff.c.disabled_at, func.now()) if member.disabled else None,
                updated_at=func.now(),
            )
        )
        self._save_parts(member)

    def _save_parts(self, member: StaffMember) -> None:
        c = self._connection
        c.execute(delete(staff_roles).where(staff_roles.c.staff_id == member.id))
        if member.grants:
            c.execute(insert(staff_roles), [
                {"staff_id": member.id, "role": grant.role.value, "department_code": grant.department}
                for grant in sorted(member.grants, key=lambda g: (g.role.value, g.department or ""))
            ])
        if member.totp is None:
            c.execute(delete(staff_totp).where(staff_totp.c.staff_id == member.id))
        else:
            sealed = self._cipher.encrypt_for_row(member.totp.secret, TOTP_SECRET.context, member.id)
            statement = pg_insert(staff_totp).values(
                staff_id=member.id, secret_ct=sealed, confirmed=member.totp.confirmed,
                last_step=member.totp.last_step,
            )
            c.execute(statement.on_conflict_do_update(
                index_elements=[staff_totp.c.staff_id],
                set_={"secret_ct": statement.excluded.secret_ct, "confirmed": statement.excluded.confirmed,
                      "last_step": statement.excluded.last_step},
            ))
        c.execute(delete(staff_recovery_codes).where(staff_recovery_codes.c.staff_id == member.id))
        if member.recovery_codes:
            c.execute(insert(staff_recovery_codes), [
                {"staff_id": member.id, "code_sha256": code, "used_at": used}
                for code, used in member.recovery_codes.items()
            ])


class SqlDepartmentRepository(_SqlRepository, AbstractDepartmentRepository):

    def get(self, code: str) -> Department | None:
        row = self._connection.execute(select(departments).where(departments.c.code == code)).first()
        return None if row is None else Department(row.code, row.name)

    def add(self, department: Department) -> None:
        self._connection.execute(insert(departments).values(code=department.code, name=department.name))

    def list_all(self) -> list[Department]:
        rows = self._connection.execute(select(departments).order_by(departments.c.code))
        return [Department(row.code, row.name) for row in rows]


def _session(row: Row[Any]) -> StaffSession:
    return StaffSession(
        id=row.id, token_hash=row.token_sha256, staff_id=row.staff_id, stage=SessionStage(row.stage),
        signed_in_at=row.signed_in_at, created_at=row.created_at, last_seen_at=row.last_seen_at,
        address=row.address, user_agent=row.user_agent,
    )


class SqlSessionRepository(_SqlRepository, AbstractSessionRepository):

    def add(self, session: StaffSession) -> None:
        self._connection.execute(insert(staff_sessions).values(
            id=session.id, token_sha256=session.token_hash, staff_id=session.staff_id, stage=session.stage.value,
            signed_in_at=session.signed_in_at, created_at=session.created_at, last_seen_at=session.last_seen_at,
            address=session.address[:64], user_agent=session.user_agent[:200],
        ))

    def by_token_hash(self, token_hash: str) -> StaffSession | None:
        row = self._connection.execute(
            select(staff_sessions).where(staff_sessions.c.token_sha256 == token_hash)
        ).first()
        return None if row is None else _session(row)

    def touch(self, session: StaffSession, now: datetime) -> None:
        self._connection.execute(
            update(staff_sessions).where(staff_sessions.c.id == session.id).values(last_seen_at=now)
        )
        session.last_seen_at = now

    def remove(self, session_id: uuid.UUID) -> bool:
        return self._connection.execute(delete(staff_sessions).where(staff_sessions.c.id == session_id)).rowcount > 0

    def remove_for_staff(self, staff_id: uuid.UUID, keep: uuid.UUID | None = None) -> int:
        statement = delete(staff_sessions).where(staff_sessions.c.staff_id == staff_id)
        if keep is not None:
            statement = statement.where(staff_sessions.c.id != keep)
        return self._connection.execute(statement).rowcount

    def for_staff(self, staff_id: uuid.UUID) -> list[StaffSession]:
        rows = self._connection.execute(
            select(staff_sessions).where(staff_sessions.c.staff_id == staff_id)
            .order_by(staff_sessions.c.last_seen_at.desc())
        )
        return [_session(row) for row in rows]

    def expired(self, now: datetime, policy: SessionPolicy, limit: int) -> list[StaffSession]:
        c = staff_sessions.c
        rows = self._connection.execute(
            select(staff_sessions)
            .where(or_(
                c.last_seen_at <= now - policy.idle,
                c.signed_in_at <= now - policy.absolute,
                and_(c.stage != SessionStage.ACTIVE.value, c.signed_in_at <= now - policy.pending),
            ))
            .order_by(c.last_seen_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        # The domain has the last word on what "expired" means; the query only narrows the rows.
        return [session for session in map(_session, rows) if session.expired(now, policy)]


class SqlThrottleRepository(_SqlRepository, AbstractThrottleRepository):
    """Rows exist only while failures are counted: a cleared throttle is deleted."""

    def __init__(self, connection: Callable[[], Connection]) -> None:
        super().__init__(connection)
        self._stored: set[tuple[str, str]] = set()  # rows this transaction read (and locked)

    def get(self, scope: ThrottleScope, key: str) -> Throttle:
        key = key[:128]
        row = self._connection.execute(
            select(sign_in_throttles)
            .where(sign_in_throttles.c.scope == scope.value, sign_in_throttles.c.key == key)
            .with_for_update()
        ).first()
        if row is None:
            return Throttle(scope, key)
        self._stored.add((scope.value, key))
        return Throttle(scope, key, row.failures, row.last_failure_at, row.locked_until)

    def save(self, throttle: Throttle) -> None:
        where = (sign_in_throttles.c.scope == throttle.scope.value, sign_in_throttles.c.key == throttle.key[:128])
        if throttle.failures == 0:
            self._connection.execute(delete(sign_in_throttles).where(*where))
            return
        values = {"failures": throttle.failures, "last_failure_at": throttle.last_failure_at,
                  "locked_until": throttle.locked_until}
        if (throttle.scope.value, throttle.key[:128]) in self._stored:  # read under FOR UPDATE
            self._connection.execute(update(sign_in_throttles).where(*where).values(**values))
            return
        statement = pg_insert(sign_in_throttles).values(scope=throttle.scope.value, key=throttle.key[:128], **values)
        self._connection.execute(statement.on_conflict_do_update(
            index_elements=[sign_in_throttles.c.scope, sign_in_throttles.c.key],
            # A concurrent first failure inserted the row meanwhile: count ours on top of it.
            set_={"failures": sign_in_throttles.c.failures + 1,
                  "last_failure_at": statement.excluded.last_failure_at},
        ))

    def remove_stale(self, now: datetime, forget_after: timedelta, limit: int) -> int:
        c = sign_in_throttles.c
        stale = (
            select(c.scope, c.key)
            .where(or_(c.last_failure_at.is_(None), c.last_failure_at < now - forget_after),
                   or_(c.locked_until.is_(None), c.locked_until <= now))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        deleted = self._connection.execute(delete(sign_in_throttles).where(tuple_(c.scope, c.key).in_(stale)))
        return deleted.rowcount
