"""Housekeeping as a story, in memory: sessions past their timeouts end (recorded once), half-finished
sign-ins go, old throttles are forgotten, and nothing still in use is touched."""

from datetime import timedelta

import pytest
from admin_ui.adapters.in_memory import FastHasher, InMemoryAdminData, NoPlatform
from admin_ui.adapters.in_memory import ManualClock as Clock
from admin_ui.bootstrap import bootstrap_housekeeping
from admin_ui.domain.accounts import Department
from admin_ui.domain.commands import Authenticate, CreateStaff, SignIn, SweepExpired, VerifySecondFactor
from admin_ui.domain.permissions import Grant, Role
from admin_ui.domain.results import SignInOutcome
from admin_ui.domain.security import ThrottleScope, totp_code
from admin_ui.domain.sessions import SessionStage
from admin_ui.entrypoints.housekeeping import sweep
from admin_ui.service_layer.handlers import handlers
from cityline_common.messagebus import MessageBus

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
PASSWORD = "kusunoki-no-ki-2026"
HERE = "192.0.2.10"





def make_staff(bus, login="hanako"):
    bus.handle(CreateStaff(None, login, "伊丹 花子", frozenset({Grant(Role.VIEWER, "kouhou")}), password=PASSWORD,
                           totp_secret=SECRET))


def signed_in(bus, clock, login="hanako"):
    clock.advance(seconds=30)  # a fresh code: each one works once
    first = bus.handle(SignIn(login, PASSWORD, HERE, "pytest"))
    second = bus.handle(VerifySecondFactor(first.token, totp_code(SECRET, clock()), HERE))
    assert second.outcome is SignInOutcome.SIGNED_IN
    return first.token, second.token


@pytest.fixture
def city():
    clock = Clock()
    data = InMemoryAdminData(clock=clock)
    bus = MessageBus(data.uow, handlers(NoPlatform(), [], hasher=FastHasher(), clock=clock))
    data.departments["kouhou"] = Department("kouhou", "広報課")
    keeper = bootstrap_housekeeping(None, uow_factory=data.uow, clock=clock)  # type: ignore[arg-type]
    return data, bus, keeper, clock


def ended_by_timeout(data):
    return [e for e in data.audit.events if e.action == "session.end" and (e.after or {}).get("reason") == "timeout"]


def test_idle_sessions_end_and_are_recorded_once_in_the_audit_log(city):
    data, bus, keeper, clock = city
    make_staff(bus)
    _, idle = signed_in(bus, clock)
    clock.advance(minutes=20)
    _, busy = signed_in(bus, clock)
    clock.advance(minutes=11)  # the first is 31 min idle, the second 11
    assert bus.handle(Authenticate(busy)) is not None

    result = keeper.handle(SweepExpired())
    assert (result.sessions_ended, result.throttles_forgotten) == (1, 0)
    assert len(data.sessions) == 1 and bus.handle(Authenticate(busy)) is not None
    [entry] = ended_by_timeout(data)
    assert entry.actor_login == "hanako" and entry.source == HERE
    # The member comes back with the swept session: refused, and not recorded a second time.
    assert bus.handle(Authenticate(idle)) is None
    assert len(ended_by_timeout(data)) == 1


def test_the_absolute_timeout_ends_even_a_busy_session(city):
    data, bus, keeper, clock = city
    make_staff(bus)
    _, token = signed_in(bus, clock)
    for _ in range(12 * 3 - 1):  # active every 20 minutes for almost twelve hours
        clock.advance(minutes=20)
        assert bus.handle(Authenticate(token)) is not None
        assert keeper.handle(SweepExpired()).sessions_ended == 0
    clock.advance(minutes=20)  # twelve hours since the password, 20 minutes since the last page
    assert keeper.handle(SweepExpired()).sessions_ended == 1
    assert bus.handle(Authenticate(token)) is None
    assert len(ended_by_timeout(data)) == 1


def test_half_finished_sign_ins_go_without_an_audit_entry(city):
    data, bus, keeper, clock = city
    make_staff(bus)
    bus.handle(SignIn("hanako", PASSWORD, HERE, "pytest"))  # the password, never the code
    [pending] = data.sessions.values()
    assert pending.stage is SessionStage.SECOND_FACTOR
    clock.advance(minutes=9)
    assert keeper.handle(SweepExpired()).sessions_ended == 0
    clock.advance(minutes=2)
    assert keeper.handle(SweepExpired()).sessions_ended == 1
    assert not data.sessions and ended_by_timeout(data) == []


def test_old_throttles_are_forgotten_but_a_running_lock_is_kept(city):
    data, bus, keeper, clock = city
    make_staff(bus)
    bus.handle(SignIn("hanako", "wrong password!", HERE, "x"))
    for _ in range(5):
        bus.handle(SignIn("taro", "wrong password!", "198.51.100.7", "x"))  # locks taro
    assert len(data.throttles) == 4  # two accounts, two addresses
    clock.advance(minutes=59)
    assert keeper.handle(SweepExpired()).throttles_forgotten == 0
    clock.advance(minutes=2)
    assert keeper.handle(SweepExpired()).throttles_forgotten == 4
    assert not data.throttles
    # A lock still running is kept, even when its last failure is old (a long backoff).
    bus.handle(SignIn("jiro", "wrong password!", HERE, "x"))
    throttle = data.throttles[(ThrottleScope.ACCOUNT, "jiro")]
    throttle.locked_until = clock() + timedelta(hours=2)
    clock.advance(minutes=61)
    assert keeper.handle(SweepExpired()).throttles_forgotten == 1  # the address's, not jiro's
    assert (ThrottleScope.ACCOUNT, "jiro") in data.throttles


def test_the_sweep_runs_in_bounded_passes_until_one_is_not_full(city):
    data, bus, keeper, clock = city
    make_staff(bus)
    for _ in range(7):
        bus.handle(SignIn("hanako", PASSWORD, HERE, "pytest"))
    clock.advance(hours=1)
    passes = []
    original = keeper.handle

    def counting(command):
        passes.append(command.limit)
        return original(command)

    keeper.handle = counting  # type: ignore[method-assign]
    total = sweep(keeper, batch=3)
    assert total.sessions_ended == 7 and passes == [3, 3, 3]
    assert not data.sessions
