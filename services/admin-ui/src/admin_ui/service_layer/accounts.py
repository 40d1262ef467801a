"""Use cases of staff access: sign-in with a second factor, sessions, passwords, accounts and roles.

Every outcome that matters is written to the 操作ログ in the same unit of work (``uow.audit``), late
in each use case, after the slow work (password hashing), because the audit writer holds the chain's
lock to the end of the transaction. Failed attempts *return* their outcome rather than raise, so the
failure counts they add are committed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from admin_ui.domain.accounts import (
    AccountError,
    Department,
    StaffMember,
    TotpFactor,
    check_display_name,
    check_login_id,
    check_password,
    normalise_login_id,
    normalise_password,
    password_problems,
)
from admin_ui.domain.commands import (
    Authenticate,
    ChangeGrants,
    ChangePassword,
    ConfirmTotpEnrolment,
    CreateDepartment,
    CreateStaff,
    EndSession,
    ResetPassword,
    ResetTwoFactor,
    SetStaffDisabled,
    SignIn,
    SignOut,
    StartTotpEnrolment,
    SweepExpired,
    VerifySecondFactor,
)
from admin_ui.domain.permissions import DepartmentForbidden, Grant, NotAllowed, Permission, allowed
from admin_ui.domain.results import (
    Authenticated,
    CreatedStaff,
    EnrolmentResult,
    SecondFactorResult,
    SignInOutcome,
    SignInResult,
    SweepResult,
    TotpEnrolment,
)
from admin_ui.domain.security import (
    ACCOUNT_POLICY,
    ADDRESS_POLICY,
    FORGET_AFTER,
    PasswordHasher,
    Throttle,
    ThrottleScope,
    looks_like_recovery_code,
    match_totp,
    new_recovery_codes,
    new_session_token,
    new_temporary_password,
    new_totp_secret,
    recovery_code_hash,
    token_hash,
    totp_uri,
)
from admin_ui.domain.sessions import SessionPolicy, SessionStage, StaffSession
from admin_ui.service_layer.unit_of_work import AbstractAdminUnitOfWork

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class AccessConfig:
    hasher: PasswordHasher
    clock: Clock
    sessions: SessionPolicy = field(default_factory=SessionPolicy)


def roles_of(grants: frozenset[Grant]) -> list[str]:
    """Grants as the audit log shows them: ``author@kosodate``, ``admin``."""
    return sorted(grant.role.value + (f"@{grant.department}" if grant.department else "") for grant in grants)


# --- shared steps ----------------------------------------------------------------------------------


def _throttles(uow: AbstractAdminUnitOfWork, login_id: str, address: str) -> tuple[Throttle, Throttle]:
    return uow.throttles.get(ThrottleScope.ACCOUNT, login_id[:128]), uow.throttles.get(ThrottleScope.ADDRESS, address)


def _retry_after(now: datetime, *throttles: Throttle) -> int:
    return max(throttle.retry_after(now) for throttle in throttles)


def _count_failure(
    uow: AbstractAdminUnitOfWork, now: datetime, account: Throttle, address: Throttle, *,
    member: StaffMember | None, login_id: str, source: str, reason: str,
) -> int:
    """Count a failure on the account and the address; record it (and a lockout); the seconds to wait."""
    started = {
        scope: throttle.fail(now, policy)
        for scope, throttle, policy in ((ThrottleScope.ACCOUNT, account, ACCOUNT_POLICY),
                                        (ThrottleScope.ADDRESS, address, ADDRESS_POLICY))
    }
    uow.throttles.save(account)
    uow.throttles.save(address)
    actor = str(member.id) if member else None
    uow.audit.record(actor=actor, actor_login=login_id, action="sign_in_failed", source=source,
                     after={"reason": reason})
    for scope, throttle in ((ThrottleScope.ACCOUNT, account), (ThrottleScope.ADDRESS, address)):
        if started[scope]:
            uow.audit.record(actor=actor, actor_login=login_id, action="lockout", source=source,
                             after={"scope": scope.value, "failures": throttle.failures,
                                    "seconds": throttle.retry_after(now)})
    return _retry_after(now, account, address)


def _new_session(
    uow: AbstractAdminUnitOfWork, member: StaffMember, stage: SessionStage, now: datetime, *,
    address: str, user_agent: str, signed_in_at: datetime | None = None,
) -> str:
    token = new_session_token()
    uow.sessions.add(StaffSession(
        id=uuid.uuid4(), token_hash=token_hash(token), staff_id=member.id, stage=stage,
        signed_in_at=signed_in_at or now, created_at=now, last_seen_at=now, address=address[:64],
        user_agent=user_agent[:200],
    ))
    return token


def _rotate(uow: AbstractAdminUnitOfWork, old: StaffSession, member: StaffMember, now: datetime) -> str:
    """A fresh token for the next stage; the old one is dead from this commit on."""
    uow.sessions.remove(old.id)
    return _new_session(uow, member, SessionStage.ACTIVE, now, address=old.address, user_agent=old.user_agent,
                        signed_in_at=old.signed_in_at)


def _pending(
    uow: AbstractAdminUnitOfWork, config: AccessConfig, token: str, stage: SessionStage, now: datetime
) -> tuple[StaffSession, StaffMember] | None:
    session = uow.sessions.by_token_hash(token_hash(token))
    if session is None or session.stage is not stage:
        return None
    member = uow.staff.get(session.staff_id)
    if session.expired(now, config.sessions) or member is None or not member.active:
        uow.sessions.remove(session.id)
        return None
    return session, member


# --- signing in ----------------------------------------------------------------------------------------


def sign_in(config: AccessConfig) -> Callable[[SignIn, AbstractAdminUnitOfWork], SignInResult]:
    def handler(command: SignIn, uow: AbstractAdminUnitOfWork) -> SignInResult:
        now = config.clock()
        login_id = normalise_login_id(command.login_id)[:64]
        account, address = _throttles(uow, login_id, command.address)
        if account.locked(now) or address.locked(now):
            uow.audit.record(actor=None, actor_login=login_id, action="sign_in_failed", source=command.address,
                             after={"reason": "locked"})
            return SignInResult(SignInOutcome.LOCKED, retry_after=_retry_after(now, account, address))
        member = uow.staff.get_by_login_id(login_id)
        password = normalise_password(command.password)
        matches = config.hasher.verify(member.password_hash if member else config.hasher.dummy_hash, password)
        if member is None or not matches or not member.active:
            reason = "unknown_login" if member is None else "password" if not matches else "disabled"
            wait = _count_failure(uow, now, account, address, member=member, login_id=login_id,
                                  source=command.address, reason=reason)
            return SignInResult(SignInOutcome.LOCKED if wait else SignInOutcome.FAILED, retry_after=wait)
        account.clear()
        uow.throttles.save(account)
        if config.hasher.needs_rehash(member.password_hash):
            member.password_hash = config.hasher.hash(password)
            uow.staff.save(member)
        stage = SessionStage.SECOND_FACTOR if member.has_second_factor else SessionStage.ENROL
        token = _new_session(uow, member, stage, now, address=command.address, user_agent=command.user_agent)
        outcome = SignInOutcome.SECOND_FACTOR if member.has_second_factor else SignInOutcome.ENROL
        return SignInResult(outcome, token=token)

    return handler


def verify_second_factor(
    config: AccessConfig,
) -> Callable[[VerifySecondFactor, AbstractAdminUnitOfWork], SecondFactorResult]:
    def handler(command: VerifySecondFactor, uow: AbstractAdminUnitOfWork) -> SecondFactorResult:
        now = config.clock()
        found = _pending(uow, config, command.token, SessionStage.SECOND_FACTOR, now)
        if found is None:
            return SecondFactorResult(SignInOutcome.RESTART)
        session, member = found
        account, address = _throttles(uow, member.login_id, command.address)
        if account.locked(now) or address.locked(now):
            return SecondFactorResult(SignInOutcome.LOCKED, retry_after=_retry_after(now, account, address))
        method, left = None, None
        if looks_like_recovery_code(command.code):
            digest = recovery_code_hash(command.code)
            if digest in member.recovery_codes and member.recovery_codes[digest] is None:
                member.recovery_codes[digest] = now
                method = "recovery_code"
                left = sum(1 for used in member.recovery_codes.values() if used is None)
        elif member.totp is not None and member.totp.confirmed:
            step = match_totp(member.totp.secret, command.code, now, member.totp.last_step)
            if step is not None:
                member.totp.last_step = step
                method = "totp"
        if method is None:
            wait = _count_failure(uow, now, account, address, member=member, login_id=member.login_id,
                                  source=command.address, reason="second_factor")
            return SecondFactorResult(SignInOutcome.LOCKED if wait else SignInOutcome.FAILED, retry_after=wait)
        account.clear()
        uow.throttles.save(account)
        uow.staff.save(member)
        token = _rotate(uow, session, member, now)
        uow.audit.record(actor=str(member.id), actor_login=member.login_id, action="sign_in",
                         source=command.address, after={"second_factor": method})
        return SecondFactorResult(SignInOutcome.SIGNED_IN, token=token, recovery_codes_left=left)

    return handler


def start_totp_enrolment(
    config: AccessConfig,
) -> Callable[[StartTotpEnrolment, AbstractAdminUnitOfWork], TotpEnrolment]:
    def handler(command: StartTotpEnrolment, uow: AbstractAdminUnitOfWork) -> TotpEnrolment:
        found = _pending(uow, config, command.token, SessionStage.ENROL, config.clock())
        if found is None:
            raise NotAllowed("no sign-in awaiting a second factor set-up")
        _, member = found
        if member.totp is None or member.totp.confirmed:
            member.totp = TotpFactor(new_totp_secret())
            uow.staff.save(member)
        return TotpEnrolment(member.totp.secret, totp_uri(member.totp.secret, member.login_id), member.login_id)

    return handler


def confirm_totp_enrolment(
    config: AccessConfig,
) -> Callable[[ConfirmTotpEnrolment, AbstractAdminUnitOfWork], EnrolmentResult]:
    def handler(command: ConfirmTotpEnrolment, uow: AbstractAdminUnitOfWork) -> EnrolmentResult:
        now = config.clock()
        found = _pending(uow, config, command.token, SessionStage.ENROL, now)
        if found is None:
            return EnrolmentResult(SignInOutcome.RESTART)
        session, member = found
        account, address = _throttles(uow, member.login_id, command.address)
        if account.locked(now) or address.locked(now):
            return EnrolmentResult(SignInOutcome.LOCKED, retry_after=_retry_after(now, account, address))
        step = None if member.totp is None else match_totp(member.totp.secret, command.code, now, None)
        if member.totp is None or step is None:
            wait = _count_failure(uow, now, account, address, member=member, login_id=member.login_id,
                                  source=command.address, reason="second_factor_setup")
            return EnrolmentResult(SignInOutcome.LOCKED if wait else SignInOutcome.FAILED, retry_after=wait)
        member.totp.confirmed, member.totp.last_step = True, step
        codes = new_recovery_codes()
        member.recovery_codes = {recovery_code_hash(code): None for code in codes}
        account.clear()
        uow.throttles.save(account)
        uow.staff.save(member)
        token = _rotate(uow, session, member, now)
        uow.audit.record(actor=str(member.id), actor_login=member.login_id, action="totp.enroll",
                         target=member.login_id, source=command.address)
        uow.audit.record(actor=str(member.id), actor_login=member.login_id, action="sign_in",
                         source=command.address, after={"second_factor": "totp_setup"})
        return EnrolmentResult(SignInOutcome.SIGNED_IN, token=token, recovery_codes=tuple(codes))

    return handler


def authenticate(config: AccessConfig) -> Callable[[Authenticate, AbstractAdminUnitOfWork], Authenticated | None]:
    def handler(command: Authenticate, uow: AbstractAdminUnitOfWork) -> Authenticated | None:
        now = config.clock()
        session = uow.sessions.by_token_hash(token_hash(command.token))
        if session is None:
            return None
        member = uow.staff.get(session.staff_id)
        if member is None or not member.active or session.expired(now, config.sessions):
            # Recorded once: not when housekeeping ended the session meanwhile (nothing removed here).
            if uow.sessions.remove(session.id) and member is not None and session.stage is SessionStage.ACTIVE:
                uow.audit.record(actor=str(member.id), actor_login=member.login_id, action="session.end",
                                 target=str(session.id), source=session.address, after={"reason": "timeout"})
            return None
        if session.needs_touch(now, config.sessions):
            uow.sessions.touch(session, now)
        return Authenticated(member, session)

    return handler


def sign_out(config: AccessConfig) -> Callable[[SignOut, AbstractAdminUnitOfWork], None]:
    def handler(command: SignOut, uow: AbstractAdminUnitOfWork) -> None:
        session = uow.sessions.by_token_hash(token_hash(command.token))
        if session is None:
            return
        uow.sessions.remove(session.id)
        member = uow.staff.get(session.staff_id)
        if member is not None and session.stage is SessionStage.ACTIVE:
            uow.audit.record(actor=str(member.id), actor_login=member.login_id, action="sign_out",
                             source=command.address)

    return handler


def end_session(config: AccessConfig) -> Callable[[EndSession, AbstractAdminUnitOfWork], bool]:
    def handler(command: EndSession, uow: AbstractAdminUnitOfWork) -> bool:
        mine = {session.id: session for session in uow.sessions.for_staff(command.staff_id)}
        if command.session_id not in mine:
            return False  # not theirs, or already over: nothing to say about others' sessions
        uow.sessions.remove(command.session_id)
        member = uow.staff.get(command.staff_id)
        uow.audit.record(actor=str(command.staff_id), actor_login=member.login_id if member else None,
                         action="session.end", target=str(command.session_id), source=command.address,
                         before={"address": mine[command.session_id].address})
        return True

    return handler


def change_password(config: AccessConfig) -> Callable[[ChangePassword, AbstractAdminUnitOfWork], list[str]]:
    def handler(command: ChangePassword, uow: AbstractAdminUnitOfWork) -> list[str]:
        now = config.clock()
        member = uow.staff.get(command.staff_id)
        if member is None or not member.active:
            raise NotAllowed("no such active account")
        account, address = _throttles(uow, member.login_id, command.address)
        if account.locked(now) or address.locked(now):
            return [f"試行回数が多すぎます。{_retry_after(now, account, address)}秒後にもう一度お試しください"]
        if not config.hasher.verify(member.password_hash, normalise_password(command.current_password)):
            _count_failure(uow, now, account, address, member=member, login_id=member.login_id,
                           source=command.address, reason="password_change")
            return ["現在のパスワードが正しくありません"]
        problems = password_problems(command.new_password, member.login_id)
        if normalise_password(command.new_password) == normalise_password(command.current_password):
            problems.append("新しいパスワードは現在のものと違うものにしてください")
        if problems:
            return problems
        member.password_hash = config.hasher.hash(normalise_password(command.new_password))
        member.must_change_password = False
        uow.staff.save(member)
        ended = uow.sessions.remove_for_staff(member.id, keep=command.keep_session_id)
        uow.audit.record(actor=str(member.id), actor_login=member.login_id, action="password.change",
                         target=member.login_id, source=command.address, after={"other_sessions_ended": ended})
        return []

    return handler


def sweep_expired(config: AccessConfig) -> Callable[[SweepExpired, AbstractAdminUnitOfWork], SweepResult]:
    def handler(command: SweepExpired, uow: AbstractAdminUnitOfWork) -> SweepResult:
        now = config.clock()
        sessions = uow.sessions.expired(now, config.sessions, command.limit)
        logins = uow.staff.login_ids(session.staff_id for session in sessions)
        ended = 0
        for session in sessions:
            if not uow.sessions.remove(session.id):
                continue
            ended += 1
            if session.stage is SessionStage.ACTIVE:  # a half-finished sign-in was never a session
                uow.audit.record(actor=str(session.staff_id), actor_login=logins.get(session.staff_id),
                                 action="session.end", target=str(session.id), source=session.address,
                                 after={"reason": "timeout"})
        forgotten = uow.throttles.remove_stale(now, FORGET_AFTER, command.limit)
        return SweepResult(ended, forgotten)

    return handler


# --- accounts and roles (システム管理者, or the CLI) ------------------------------------------------------


def _actor(uow: AbstractAdminUnitOfWork, actor_id: uuid.UUID | None) -> tuple[str | None, str]:
    """(actor id, actor login) for the audit log; raises unless the actor may manage accounts."""
    if actor_id is None:
        return None, "cli"  # admin-ui-users, run by an operator with the database's credentials
    actor = uow.staff.get(actor_id)
    if actor is None or not allowed(actor, Permission.MANAGE_ACCOUNTS):
        raise NotAllowed("managing accounts is for システム管理者")
    return str(actor.id), actor.login_id


def login_names(uow: AbstractAdminUnitOfWork, staff_ids: Iterable[str | None]) -> dict[str, str]:
    """Login ids of the staff other services name by staff id (who changed a segment, who approved a
    delivery); ids that are not staff ids here (``system``, a service) are left out."""
    found: set[uuid.UUID] = set()
    for each in staff_ids:
        try:
            found.add(uuid.UUID(str(each)))
        except ValueError:
            continue
    return {str(key): login for key, login in uow.staff.login_ids(found).items()}


def active_member(uow: AbstractAdminUnitOfWork, staff_id: uuid.UUID) -> StaffMember:
    """The acting member for a use case on another service's items (segments, deliveries, settings):
    DepartmentForbidden when there is no such active member."""
    member = uow.staff.get(staff_id)
    if member is None or not member.active:
        raise DepartmentForbidden("no such active staff member")
    return member


def _member(uow: AbstractAdminUnitOfWork, staff_id: uuid.UUID) -> StaffMember:
    member = uow.staff.get(staff_id)
    if member is None:
        raise AccountError("その職員アカウントはありません")
    return member


def _check_grants(uow: AbstractAdminUnitOfWork, grants: frozenset[Grant]) -> None:
    if not grants:
        raise AccountError("役割を1つ以上選んでください")
    for grant in grants:
        if grant.department is not None and uow.departments.get(grant.department) is None:
            raise AccountError(f"課 {grant.department} はありません")


def _ensure_an_admin_remains(uow: AbstractAdminUnitOfWork, changed: StaffMember, was_admin: bool) -> None:
    """Refuse a change that takes the last active システム管理者 away."""
    if not was_admin or (changed.active and changed.is_admin):
        return
    others = [m for m in uow.staff.list_all() if m.id != changed.id and m.active and m.is_admin]
    if not others:
        raise AccountError("有効なシステム管理者が1人もいなくなるため、この変更はできません")


def create_department(config: AccessConfig) -> Callable[[CreateDepartment, AbstractAdminUnitOfWork], None]:
    def handler(command: CreateDepartment, uow: AbstractAdminUnitOfWork) -> None:
        actor, login = _actor(uow, command.actor_id)
        department = Department(command.code.strip().lower(), command.name.strip())
        if uow.departments.get(department.code) is not None or any(
            each.name == department.name for each in uow.departments.list_all()
        ):
            raise AccountError("同じコードか名前の課があります")
        uow.departments.add(department)
        uow.audit.record(actor=actor, actor_login=login, action="department.create", target=department.code,
                         department=department.code, source=command.address, after={"name": department.name})

    return handler


def create_staff(config: AccessConfig) -> Callable[[CreateStaff, AbstractAdminUnitOfWork], CreatedStaff]:
    def handler(command: CreateStaff, uow: AbstractAdminUnitOfWork) -> CreatedStaff:
        actor, login = _actor(uow, command.actor_id)
        login_id = check_login_id(command.login_id)
        display_name = check_display_name(command.display_name)
        _check_grants(uow, command.grants)
        if uow.staff.get_by_login_id(login_id) is not None:
            raise AccountError("そのログインIDはすでに使われています")
        temporary = None
        if command.password is None:
            temporary = new_temporary_password()
            password = temporary
        else:
            password = check_password(command.password, login_id)
        member = StaffMember(
            id=uuid.uuid4(), login_id=login_id, display_name=display_name,
            password_hash=config.hasher.hash(normalise_password(password)), grants=command.grants,
            must_change_password=temporary is not None,
            totp=TotpFactor(command.totp_secret, confirmed=True) if command.totp_secret else None,
        )
        uow.staff.add(member)
        uow.audit.record(actor=actor, actor_login=login, action="account.create", target=login_id,
                         source=command.address, after={"display_name": display_name, "roles": roles_of(member.grants)})
        for grant in sorted(member.grants, key=lambda g: (g.role.value, g.department or "")):
            uow.audit.record(actor=actor, actor_login=login, action="role.grant", target=login_id,
                             department=grant.department, source=command.address,
                             after={"role": grant.role.value})
        return CreatedStaff(str(member.id), login_id, temporary)

    return handler


def change_grants(config: AccessConfig) -> Callable[[ChangeGrants, AbstractAdminUnitOfWork], None]:
    def handler(command: ChangeGrants, uow: AbstractAdminUnitOfWork) -> None:
        actor, login = _actor(uow, command.actor_id)
        member = _member(uow, command.staff_id)
        _check_grants(uow, command.grants)
        before, was_admin = member.grants, member.active and member.is_admin
        member.grants = command.grants
        _ensure_an_admin_remains(uow, member, was_admin)
        uow.staff.save(member)
        changes = [("role.revoke", g) for g in before - command.grants]
        changes += [("role.grant", g) for g in command.grants - before]
        for action, grant in sorted(changes, key=lambda c: (c[0], c[1].role.value, c[1].department or "")):
            uow.audit.record(actor=actor, actor_login=login, action=action, target=member.login_id,
                             department=grant.department, source=command.address,
                             before={"roles": roles_of(before)}, after={"roles": roles_of(command.grants),
                                                                        "role": grant.role.value})

    return handler


def set_staff_disabled(config: AccessConfig) -> Callable[[SetStaffDisabled, AbstractAdminUnitOfWork], None]:
    def handler(command: SetStaffDisabled, uow: AbstractAdminUnitOfWork) -> None:
        actor, login = _actor(uow, command.actor_id)
        member = _member(uow, command.staff_id)
        if command.actor_id == member.id and command.disabled:
            raise AccountError("自分のアカウントは無効にできません")
        if member.disabled == command.disabled:
            return
        was_admin = member.active and member.is_admin
        member.disabled = command.disabled
        _ensure_an_admin_remains(uow, member, was_admin)
        uow.staff.save(member)
        ended = uow.sessions.remove_for_staff(member.id) if command.disabled else 0
        action = "account.disable" if command.disabled else "account.enable"
        uow.audit.record(actor=actor, actor_login=login, action=action,
                         target=member.login_id, source=command.address,
                         before={"disabled": not command.disabled}, after={"disabled": command.disabled,
                                                                           "sessions_ended": ended})

    return handler


def reset_password(config: AccessConfig) -> Callable[[ResetPassword, AbstractAdminUnitOfWork], str]:
    def handler(command: ResetPassword, uow: AbstractAdminUnitOfWork) -> str:
        actor, login = _actor(uow, command.actor_id)
        member = _member(uow, command.staff_id)
        password = new_temporary_password() if command.password is None else check_password(command.password,
                                                                                             member.login_id)
        member.password_hash = config.hasher.hash(normalise_password(password))
        member.must_change_password = command.password is None
        uow.staff.save(member)
        ended = uow.sessions.remove_for_staff(member.id)
        account = uow.throttles.get(ThrottleScope.ACCOUNT, member.login_id)
        account.clear()
        uow.throttles.save(account)
        uow.audit.record(actor=actor, actor_login=login, action="password.reset", target=member.login_id,
                         source=command.address, after={"sessions_ended": ended,
                                                        "must_change_password": member.must_change_password})
        return password

    return handler


def reset_two_factor(config: AccessConfig) -> Callable[[ResetTwoFactor, AbstractAdminUnitOfWork], None]:
    def handler(command: ResetTwoFactor, uow: AbstractAdminUnitOfWork) -> None:
        actor, login = _actor(uow, command.actor_id)
        member = _member(uow, command.staff_id)
        had = member.has_second_factor
        member.totp, member.recovery_codes = None, {}
        uow.staff.save(member)
        ended = uow.sessions.remove_for_staff(member.id)
        uow.audit.record(actor=actor, actor_login=login, action="totp.reset", target=member.login_id,
                         source=command.address, before={"second_factor": had},
                         after={"second_factor": False, "sessions_ended": ended})

    return handler


# --- views (read side) ---------------------------------------------------------------------------------


def staff_list(uow: AbstractAdminUnitOfWork) -> list[StaffMember]:
    return uow.staff.list_all()


def department_list(uow: AbstractAdminUnitOfWork) -> list[Department]:
    return uow.departments.list_all()


def sessions_of(staff_id: uuid.UUID) -> Callable[[AbstractAdminUnitOfWork], list[StaffSession]]:
    def view(uow: AbstractAdminUnitOfWork) -> list[StaffSession]:
        return [s for s in uow.sessions.for_staff(staff_id) if s.stage is SessionStage.ACTIVE]

    return view


def department_members(code: str) -> Callable[[AbstractAdminUnitOfWork], tuple[Department, list[StaffMember]] | None]:
    """課の職員: the department and who holds a role in it (システム管理者 are listed apart)."""
    def view(uow: AbstractAdminUnitOfWork) -> tuple[Department, list[StaffMember]] | None:
        department = uow.departments.get(code)
        if department is None:
            return None
        return department, [m for m in uow.staff.list_all() if code in m.departments() and m.active]

    return view


