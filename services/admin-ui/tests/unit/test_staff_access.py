"""Staff access as stories, in memory: sign-in, the second factor, sessions, lockout, accounts."""

import uuid
from datetime import timedelta

import pytest
from admin_ui.adapters.in_memory import FastHasher, InMemoryAdminData, NoPlatform
from admin_ui.adapters.in_memory import ManualClock as Clock
from admin_ui.adapters.passwords import Argon2PasswordHasher
from admin_ui.domain.accounts import AccountError, password_problems
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
    VerifySecondFactor,
)
from admin_ui.domain.permissions import (
    DepartmentForbidden,
    Grant,
    NotAllowed,
    Permission,
    Role,
    allowed,
    check_department,
    departments_where,
)
from admin_ui.domain.results import SignInOutcome
from admin_ui.domain.security import totp_code
from admin_ui.service_layer import accounts
from admin_ui.service_layer.handlers import handlers
from cityline_common.messagebus import MessageBus

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
PASSWORD = "kusunoki-no-ki-2026"
HERE = "192.0.2.10"





@pytest.fixture
def city():
    clock = Clock()
    data = InMemoryAdminData(clock=clock)
    bus = MessageBus(data.uow, handlers(NoPlatform(), [], hasher=FastHasher(), clock=clock))
    bus.handle(CreateDepartment(None, "bousai", "防災危機管理課"))
    bus.handle(CreateDepartment(None, "kosodate", "子育て支援課"))
    return data, bus, clock


AUTHOR_KOSODATE = frozenset({Grant(Role.AUTHOR, "kosodate")})


def make_staff(bus, login="hanako", grants=AUTHOR_KOSODATE, totp=SECRET):
    created = bus.handle(CreateStaff(None, login, "伊丹 花子", grants, password=PASSWORD, totp_secret=totp))
    return uuid.UUID(created.staff_id)


def signed_in(bus, clock, login="hanako", address=HERE):
    clock.advance(seconds=30)  # a fresh code: each one works once
    first = bus.handle(SignIn(login, PASSWORD, address, "pytest"))
    assert first.outcome is SignInOutcome.SECOND_FACTOR
    second = bus.handle(VerifySecondFactor(first.token, totp_code(SECRET, clock()), address))
    assert second.outcome is SignInOutcome.SIGNED_IN
    return first.token, second.token


def test_sign_in_takes_a_password_then_a_code_and_rotates_the_session(city):
    data, bus, clock = city
    make_staff(bus)
    first = bus.handle(SignIn("Hanako", PASSWORD, HERE, "Firefox"))  # login ids are case-insensitive
    assert first.outcome is SignInOutcome.SECOND_FACTOR
    assert bus.handle(Authenticate(first.token)).session.stage.value == "second_factor"

    second = bus.handle(VerifySecondFactor(first.token, totp_code(SECRET, clock()), HERE))
    assert second.outcome is SignInOutcome.SIGNED_IN and second.token != first.token
    assert bus.handle(Authenticate(first.token)) is None  # the pre-second-factor token is dead
    me = bus.handle(Authenticate(second.token))
    assert me.member.login_id == "hanako" and me.session.stage.value == "active"
    assert me.session.address == HERE and me.session.user_agent == "Firefox"
    assert data.audit_actions()[-1] == "sign_in"
    assert all(s.token_hash != second.token for s in data.sessions.values())  # only the hash is stored


def test_a_totp_code_works_once(city):
    _, bus, clock = city
    make_staff(bus)
    code = totp_code(SECRET, clock())
    first = bus.handle(SignIn("hanako", PASSWORD, HERE, "pytest"))
    assert bus.handle(VerifySecondFactor(first.token, code, HERE)).outcome is SignInOutcome.SIGNED_IN
    again = bus.handle(SignIn("hanako", PASSWORD, HERE, "pytest"))
    assert bus.handle(VerifySecondFactor(again.token, code, HERE)).outcome is SignInOutcome.FAILED


def test_first_sign_in_sets_up_the_second_factor_and_shows_recovery_codes_once(city):
    data, bus, clock = city
    make_staff(bus, totp=None)
    first = bus.handle(SignIn("hanako", PASSWORD, HERE, "pytest"))
    assert first.outcome is SignInOutcome.ENROL
    enrolment = bus.handle(StartTotpEnrolment(first.token))
    assert enrolment.uri.startswith("otpauth://totp/") and enrolment.secret in enrolment.uri
    assert bus.handle(StartTotpEnrolment(first.token)).secret == enrolment.secret  # reload: same QR

    wrong = bus.handle(ConfirmTotpEnrolment(first.token, "000000", HERE))
    assert wrong.outcome is SignInOutcome.FAILED
    done = bus.handle(ConfirmTotpEnrolment(first.token, totp_code(enrolment.secret, clock()), HERE))
    assert done.outcome is SignInOutcome.SIGNED_IN and len(done.recovery_codes) == 10
    assert len(set(done.recovery_codes)) == 10
    stored = next(iter(data.staff.values()))
    assert not set(done.recovery_codes) & set(stored.recovery_codes)  # stored hashed only
    assert "totp.enroll" in data.audit_actions()


def test_a_recovery_code_signs_in_exactly_once(city):
    _, bus, clock = city
    make_staff(bus, totp=None)
    first = bus.handle(SignIn("hanako", PASSWORD, HERE, "pytest"))
    secret = bus.handle(StartTotpEnrolment(first.token)).secret
    codes = bus.handle(ConfirmTotpEnrolment(first.token, totp_code(secret, clock()), HERE)).recovery_codes

    attempt = bus.handle(SignIn("hanako", PASSWORD, HERE, "pytest"))
    used = bus.handle(VerifySecondFactor(attempt.token, codes[3].upper(), HERE))
    assert used.outcome is SignInOutcome.SIGNED_IN and used.recovery_codes_left == 9
    attempt = bus.handle(SignIn("hanako", PASSWORD, HERE, "pytest"))
    assert bus.handle(VerifySecondFactor(attempt.token, codes[3], HERE)).outcome is SignInOutcome.FAILED


def test_wrong_passwords_lock_the_account_with_doubling_backoff(city):
    data, bus, clock = city
    make_staff(bus)
    for _ in range(4):
        assert bus.handle(SignIn("hanako", "wrong password!", HERE, "x")).outcome is SignInOutcome.FAILED
    fifth = bus.handle(SignIn("hanako", "wrong password!", HERE, "x"))
    assert fifth.outcome is SignInOutcome.LOCKED and fifth.retry_after == 30
    # Locked: even the right password is refused, without being checked.
    assert bus.handle(SignIn("hanako", PASSWORD, HERE, "x")).outcome is SignInOutcome.LOCKED
    clock.advance(seconds=31)
    assert bus.handle(SignIn("hanako", "wrong again!!", HERE, "x")).retry_after == 60  # doubled
    clock.advance(seconds=61)
    assert bus.handle(SignIn("hanako", "wrong again!!", HERE, "x")).retry_after == 120
    for _ in range(10):
        clock.advance(minutes=16)
        last = bus.handle(SignIn("hanako", "wrong again!!", HERE, "x"))
    assert last.retry_after == 15 * 60  # capped
    clock.advance(minutes=16)
    assert bus.handle(SignIn("hanako", PASSWORD, HERE, "x")).outcome is SignInOutcome.SECOND_FACTOR
    assert data.audit_actions().count("lockout") >= 3
    assert "sign_in_failed" in data.audit_actions()


def test_one_address_trying_many_accounts_is_locked_out_too(city):
    _, bus, _clock = city
    make_staff(bus)
    for n in range(19):  # a different made-up account each time: no account reaches its threshold
        assert bus.handle(SignIn(f"guess{n}", "not the password", HERE, "x")).outcome is SignInOutcome.FAILED
    assert bus.handle(SignIn("guess19", "not the password", HERE, "x")).outcome is SignInOutcome.LOCKED
    assert bus.handle(SignIn("hanako", PASSWORD, HERE, "x")).outcome is SignInOutcome.LOCKED
    assert bus.handle(SignIn("hanako", PASSWORD, "198.51.100.7", "x")).outcome is SignInOutcome.SECOND_FACTOR


def test_unknown_and_disabled_accounts_fail_like_a_wrong_password(city):
    _, bus, _ = city
    staff_id = make_staff(bus)
    assert bus.handle(SignIn("nobody", PASSWORD, HERE, "x")).outcome is SignInOutcome.FAILED
    bus.handle(SetStaffDisabled(None, staff_id, True))
    assert bus.handle(SignIn("hanako", PASSWORD, HERE, "x")).outcome is SignInOutcome.FAILED


def test_sessions_end_after_30_idle_minutes_and_after_12_hours_whatever_happens(city):
    data, bus, clock = city
    make_staff(bus)
    _, token = signed_in(bus, clock)
    clock.advance(minutes=29)
    assert bus.handle(Authenticate(token)) is not None
    clock.advance(minutes=29)
    assert bus.handle(Authenticate(token)) is not None  # activity keeps it alive
    clock.advance(minutes=30)
    assert bus.handle(Authenticate(token)) is None
    assert not data.sessions
    assert data.audit.events[-1].action == "session.end"

    _, token = signed_in(bus, clock)
    for _ in range(12 * 4 - 1):
        clock.advance(minutes=15)
        assert bus.handle(Authenticate(token)) is not None
    clock.advance(minutes=15)
    assert bus.handle(Authenticate(token)) is None  # 12 hours after the password, active or not


def test_a_half_finished_sign_in_expires_after_10_minutes(city):
    _, bus, clock = city
    make_staff(bus)
    first = bus.handle(SignIn("hanako", PASSWORD, HERE, "x"))
    clock.advance(minutes=11)
    result = bus.handle(VerifySecondFactor(first.token, totp_code(SECRET, clock()), HERE))
    assert result.outcome is SignInOutcome.RESTART


def test_sign_out_destroys_the_session_and_others_can_be_ended(city):
    data, bus, clock = city
    staff_id = make_staff(bus)
    _, phone = signed_in(bus, clock, address="198.51.100.7")
    _, desk = signed_in(bus, clock)
    mine = bus.query(accounts.sessions_of(staff_id))
    assert {s.address for s in mine} == {HERE, "198.51.100.7"}
    other = next(s for s in mine if s.address != HERE)
    assert bus.handle(EndSession(staff_id, other.id, HERE)) is True
    assert bus.handle(Authenticate(phone)) is None
    bus.handle(SignOut(desk, HERE))
    assert bus.handle(Authenticate(desk)) is None
    assert data.audit_actions()[-2:] == ["session.end", "sign_out"]


def test_nobody_ends_someone_elses_session(city):
    _, bus, clock = city
    make_staff(bus)
    other_id = make_staff(bus, login="taro")
    _, token = signed_in(bus, clock)
    session = bus.handle(Authenticate(token)).session
    assert bus.handle(EndSession(other_id, session.id, HERE)) is False
    assert bus.handle(Authenticate(token)) is not None


def test_the_password_rule_is_about_length_and_common_passwords_not_composition():
    assert password_problems("くすのきの木の下で会いましょう") == []  # Japanese, no digits: fine
    assert password_problems("correct horse battery") == []
    assert password_problems("short") and password_problems("x" * 129)
    for common in ("itami2026", "password1234", "qwertyuiop12", "ＰＡＳＳＷＯＲＤ１２３４"):
        assert password_problems(common), common
    assert password_problems("hanako-is-my-name", "hanako")
    assert password_problems("aaaaaaaaaaaaaaaa")


def test_changing_the_password_checks_the_current_one_and_ends_the_other_sessions(city):
    _, bus, clock = city
    staff_id = make_staff(bus)
    _, old = signed_in(bus, clock, address="198.51.100.7")
    _, token = signed_in(bus, clock)
    me = bus.handle(Authenticate(token))
    assert bus.handle(ChangePassword(staff_id, "not it at all", "a brand new passphrase", me.session.id, HERE))
    assert bus.handle(ChangePassword(staff_id, PASSWORD, "password1234", me.session.id, HERE))
    assert bus.handle(ChangePassword(staff_id, PASSWORD, "a brand new passphrase", me.session.id, HERE)) == []
    assert bus.handle(Authenticate(old)) is None and bus.handle(Authenticate(token)) is not None
    assert bus.handle(SignIn("hanako", "a brand new passphrase", HERE, "x")).outcome is SignInOutcome.SECOND_FACTOR


def test_roles_across_departments():
    class Member:
        active = True

        def __init__(self, *grants):
            self.grants = frozenset(grants)

    author_here_viewer_there = Member(Grant(Role.AUTHOR, "kosodate"), Grant(Role.VIEWER, "bousai"))
    assert allowed(author_here_viewer_there, Permission.EDIT_ITEMS, "kosodate")
    assert not allowed(author_here_viewer_there, Permission.EDIT_ITEMS, "bousai")
    assert allowed(author_here_viewer_there, Permission.VIEW_ITEMS, "bousai")
    assert not allowed(author_here_viewer_there, Permission.VIEW_ITEMS, "kouhou")
    assert allowed(author_here_viewer_there, Permission.EDIT_ITEMS)  # somewhere: show the menu
    assert not allowed(author_here_viewer_there, Permission.APPROVE_ITEMS)
    assert not allowed(author_here_viewer_there, Permission.MANAGE_ACCOUNTS)
    assert departments_where(author_here_viewer_there, Permission.EDIT_ITEMS) == {"kosodate"}
    with pytest.raises(DepartmentForbidden):
        check_department(author_here_viewer_there, Permission.EDIT_ITEMS, "bousai")

    approver = Member(Grant(Role.APPROVER, "bousai"))
    assert allowed(approver, Permission.APPROVE_ITEMS, "bousai")
    assert not allowed(approver, Permission.APPROVE_ITEMS, "kosodate")
    assert not allowed(approver, Permission.EDIT_ITEMS, "bousai")

    admin = Member(Grant(Role.ADMIN))
    assert all(allowed(admin, p, "anything") for p in Permission)
    assert departments_where(admin, Permission.EDIT_ITEMS) is None  # every department

    disabled = Member(Grant(Role.ADMIN))
    disabled.active = False
    assert not allowed(disabled, Permission.SIGNED_IN)
    with pytest.raises(ValueError):
        Grant(Role.AUTHOR)  # every role but admin is held in a department


def test_only_administrators_manage_accounts_and_one_always_remains(city):
    data, bus, _clock = city
    admin_id = make_staff(bus, login="kanri", grants=frozenset({Grant(Role.ADMIN)}))
    author_id = make_staff(bus)
    with pytest.raises(NotAllowed):
        bus.handle(CreateStaff(author_id, "jiro", "次郎", frozenset({Grant(Role.VIEWER, "bousai")})))
    created = bus.handle(CreateStaff(admin_id, "jiro", "伊丹 次郎", frozenset({Grant(Role.VIEWER, "bousai")})))
    assert created.temporary_password  # shown once; must be changed at first sign-in
    with pytest.raises(AccountError):
        bus.handle(CreateStaff(admin_id, "saburo", "三郎", frozenset({Grant(Role.VIEWER, "nowhere")})))
    with pytest.raises(AccountError):
        bus.handle(SetStaffDisabled(admin_id, admin_id, True))
    with pytest.raises(AccountError):
        bus.handle(ChangeGrants(None, admin_id, frozenset({Grant(Role.VIEWER, "bousai")})))
    bus.handle(ChangeGrants(admin_id, author_id, frozenset({Grant(Role.APPROVER, "kosodate"),
                                                            Grant(Role.VIEWER, "bousai")})))
    actions = data.audit_actions()
    assert {"account.create", "role.grant", "role.revoke"} <= set(actions)
    revoke = next(e for e in data.audit.events if e.action == "role.revoke")
    assert revoke.department == "kosodate" and revoke.actor_login == "kanri"


def test_resets_end_sessions_and_force_a_new_password_or_second_factor(city):
    data, bus, clock = city
    admin_id = make_staff(bus, login="kanri", grants=frozenset({Grant(Role.ADMIN)}))
    staff_id = make_staff(bus)
    _, token = signed_in(bus, clock)
    temporary = bus.handle(ResetPassword(admin_id, staff_id, HERE))
    assert bus.handle(Authenticate(token)) is None
    first = bus.handle(SignIn("hanako", temporary, HERE, "x"))
    second = bus.handle(VerifySecondFactor(first.token, totp_code(SECRET, clock() + timedelta(seconds=30)), HERE))
    assert bus.handle(Authenticate(second.token)).member.must_change_password

    bus.handle(ResetTwoFactor(admin_id, staff_id, HERE))
    assert bus.handle(Authenticate(second.token)) is None
    assert bus.handle(SignIn("hanako", temporary, HERE, "x")).outcome is SignInOutcome.ENROL
    assert {"password.reset", "totp.reset"} <= set(data.audit_actions())


def test_argon2id_hashes_verify_and_refuse():
    hasher = Argon2PasswordHasher(time_cost=1, memory_kib=8)
    stored = hasher.hash(PASSWORD)
    assert stored.startswith("$argon2id$")
    assert hasher.verify(stored, PASSWORD) and not hasher.verify(stored, PASSWORD + "x")
    assert not hasher.verify("garbage", PASSWORD)
    assert Argon2PasswordHasher(time_cost=2, memory_kib=16).needs_rehash(stored)
