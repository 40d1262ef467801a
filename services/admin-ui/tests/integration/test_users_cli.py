"""``admin-ui-users`` against PostgreSQL: the first administrator, resets, and the demo seed."""

import io
import uuid
from datetime import UTC, datetime

import pytest
from admin_ui.bootstrap import bootstrap
from admin_ui.config import Settings
from admin_ui.domain.commands import SignIn, VerifySecondFactor
from admin_ui.domain.results import SignInOutcome
from admin_ui.domain.security import totp_code
from admin_ui.entrypoints import users_cli
from admin_ui.service_layer import accounts
from cityline_common.settings import load_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def env(service_env, monkeypatch):
    monkeypatch.setenv("ADMIN_UI_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("ADMIN_UI_ARGON2_MEMORY_KIB", "8192")
    return monkeypatch


def run(monkeypatch, capsys, *argv, stdin=""):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    users_cli.main(list(argv))
    return capsys.readouterr().out


def test_the_first_administrator_signs_in_with_the_printed_secret_and_resets_work(env, capsys):
    login = f"kanri-{uuid.uuid4().hex[:6]}"
    out = run(env, capsys, "create-admin", login, "--name", "伊丹 太郎", stdin="hankyu-itami-eki-mae\n")
    secret = out.split("TOTP secret")[1].split(": ")[1].split()[0]
    assert "otpauth://totp/" in out
    service = bootstrap(load_settings(Settings))
    first = service.bus.handle(SignIn(login, "hankyu-itami-eki-mae", "127.0.0.1", "cli-test"))
    assert first.outcome is SignInOutcome.SECOND_FACTOR
    second = service.bus.handle(VerifySecondFactor(first.token, totp_code(secret, datetime.now(UTC)), "127.0.0.1"))
    assert second.outcome is SignInOutcome.SIGNED_IN

    run(env, capsys, "reset-password", login, stdin="koyaike-no-hotori-de\n")
    assert service.bus.handle(SignIn(login, "koyaike-no-hotori-de", "127.0.0.1", "x")).outcome is \
        SignInOutcome.SECOND_FACTOR
    run(env, capsys, "reset-2fa", login)
    assert service.bus.handle(SignIn(login, "koyaike-no-hotori-de", "127.0.0.1", "x")).outcome is SignInOutcome.ENROL
    with pytest.raises(SystemExit):
        run(env, capsys, "create-admin", f"x-{login}", "--name", "弱い", stdin="password1234\n")


def test_seed_demo_is_for_the_local_demo_only_and_can_run_twice(env, capsys):
    env.setenv("ADMIN_UI_COOKIE_SECURE", "true")
    with pytest.raises(SystemExit, match="ADMIN_UI_COOKIE_SECURE=false"):
        run(env, capsys, "seed-demo")
    env.setenv("ADMIN_UI_COOKIE_SECURE", "false")
    out = run(env, capsys, "seed-demo")
    assert "http://127.0.0.1:" in out and "/signin" in out
    for login, _, _, password in users_cli.DEMO_ACCOUNTS:
        assert login in out and password in out and users_cli.demo_totp_secret(login) in out
    assert run(env, capsys, "seed-demo") == out  # idempotent
    service = bootstrap(load_settings(Settings))
    names = {d.name for d in service.bus.query(accounts.department_list)}
    assert {"防災危機管理課", "子育て支援課", "広報課"} <= names
    result = service.bus.handle(SignIn("demo-viewer", "itami-demo-etsuran-2026", "127.0.0.1", "x"))
    assert result.outcome is SignInOutcome.SECOND_FACTOR
