"""Housekeeping against PostgreSQL: the sweep's queries, its audit entries, sweepers skipping each
other's rows, and ``admin-ui-housekeeping --once`` as the CronJob runs it."""

import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from admin_ui.adapters.orm import sign_in_throttles, staff_sessions
from admin_ui.bootstrap import bootstrap, bootstrap_housekeeping
from admin_ui.config import HousekeepingSettings, Settings
from admin_ui.domain.commands import (
    Authenticate,
    CreateDepartment,
    CreateStaff,
    SignIn,
    SweepExpired,
    VerifySecondFactor,
)
from admin_ui.domain.permissions import Grant, Role
from admin_ui.domain.security import totp_code
from admin_ui.domain.sessions import SessionPolicy
from cityline_common.settings import load_settings
from sqlalchemy import func, select

pytestmark = pytest.mark.integration

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
PASSWORD = "sweep-the-floor-2026"


class Clock:
    def __init__(self, start):
        self.now = start

    def __call__(self):
        return self.now


@pytest.fixture
def console(service_env, monkeypatch):
    monkeypatch.setenv("ADMIN_UI_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("ADMIN_UI_ARGON2_MEMORY_KIB", "8192")
    # Far in the past, so this test's sessions are the only ones its sweeps see as just expired.
    clock = Clock(datetime(2020, 4, 1, 9, 0, tzinfo=UTC) + timedelta(days=uuid.uuid4().int % 1000))
    service = bootstrap(load_settings(Settings), clock=clock)
    keeper = bootstrap_housekeeping(load_settings(HousekeepingSettings), clock=clock)
    department = f"d{uuid.uuid4().hex[:6]}"
    service.bus.handle(CreateDepartment(None, department, f"課{department}"))
    login = f"sweep-{uuid.uuid4().hex[:6]}"
    service.bus.handle(CreateStaff(None, login, "掃除 さん", frozenset({Grant(Role.VIEWER, department)}),
                                   password=PASSWORD, totp_secret=SECRET))
    yield service, keeper, clock, login
    service.engine.dispose()


def sign_in(service, clock, login, address="192.0.2.1"):
    clock.now += timedelta(seconds=30)
    first = service.bus.handle(SignIn(login, PASSWORD, address, "pytest"))
    return service.bus.handle(VerifySecondFactor(first.token, totp_code(SECRET, clock.now), address)).token


def session_count(service, login):
    staff_id = service.bus.query(lambda uow: uow.staff.get_by_login_id(login)).id
    with service.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(staff_sessions)
                                  .where(staff_sessions.c.staff_id == staff_id)).scalar()


def timeouts_of(service, login):
    page = service.bus.query(lambda uow: uow.audit.search(person=login, action="session.end"))
    return [entry for entry in page.entries if (entry.event.after or {}).get("reason") == "timeout"]


def test_expired_sessions_and_stale_throttles_are_swept_and_recorded(console):
    service, keeper, clock, login = console
    idle = sign_in(service, clock, login)
    clock.now += timedelta(minutes=20)
    busy = sign_in(service, clock, login)
    service.bus.handle(SignIn(login, "wrong password!", "198.51.100.20", "x"))  # a throttle row each
    clock.now += timedelta(minutes=11)
    assert service.bus.handle(Authenticate(busy)) is not None

    result = keeper.handle(SweepExpired())
    assert result.sessions_ended >= 1
    assert session_count(service, login) == 1
    [entry] = timeouts_of(service, login)
    assert entry.event.source == "192.0.2.1" and entry.event.actor_login == login
    assert service.bus.handle(Authenticate(idle)) is None
    assert len(timeouts_of(service, login)) == 1  # coming back does not record it again

    clock.now += timedelta(hours=1)
    keeper.handle(SweepExpired())
    with service.engine.connect() as connection:
        keys = {row.key for row in connection.execute(select(sign_in_throttles))}
    assert login not in keys and "198.51.100.20" not in keys
    assert session_count(service, login) == 0  # the busy one too, idle for an hour now


def test_two_sweepers_never_end_the_same_session_twice(console):
    service, keeper, clock, login = console
    for _ in range(4):
        sign_in(service, clock, login)
    clock.now += SessionPolicy().idle + timedelta(minutes=1)
    with service.bus.uow_factory() as held:  # one sweeper holds two of the rows
        locked = held.sessions.expired(clock.now, SessionPolicy(), 2)
        assert len(locked) == 2
        other = keeper.handle(SweepExpired())
        assert other.sessions_ended >= 2  # the other two (and whatever else had expired)
        assert session_count(service, login) == 2
    assert keeper.handle(SweepExpired()).sessions_ended >= 2
    assert session_count(service, login) == 0
    assert len(timeouts_of(service, login)) == 4


def test_the_cron_command_sweeps_once_and_exits(console, service_env):
    service, _keeper, clock, login = console
    clock.now = datetime.now(UTC) - timedelta(hours=2)  # sessions that are long over by the real clock
    sign_in(service, clock, login)
    assert session_count(service, login) == 1
    command = Path(sys.executable).parent / "admin-ui-housekeeping"
    done = subprocess.run([str(command), "--once"], capture_output=True, text=True, timeout=60,
                          env={**service_env, "PATH": str(Path(sys.executable).parent), "LOG_FORMAT": "json"})
    assert done.returncode == 0, done.stderr
    assert '"sessions_ended"' in done.stdout + done.stderr
    assert session_count(service, login) == 0
