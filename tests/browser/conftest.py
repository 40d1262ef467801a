"""The staff console (admin-ui) served for real, and Chromium driving it.

One console for the whole directory: a database of its own (so its 操作ログ and staff list hold only
what these tests did, and the manual's screenshots show nothing else), every service's schema
migrated, the demo departments and accounts seeded by ``admin-ui-users seed-demo`` as ``make up`` does,
a few more staff made through the service layer, then ``cityline-serve admin-ui`` and
``cityline-serve segment-service`` (the dashboard's figures) started as the Procfile starts them.
配信 are sent for real: the LINE emulator in this process (its residents all friends, registered in
segment-service as the friends LINE lists), ``cityline-serve dispatcher``, ``dispatcher-sender`` and
``cityline-outbox-relay dispatcher``, at any hour (SENDING_HOURS 00:00–23:59). リッチメニュー are published to the
same emulator: ``cityline-serve richmenu-service`` and ``richmenu-worker`` (its mass changes).

Every page a test looks at goes through :meth:`Screens.look`: axe-core at WCAG 2.1 AA, no message
refused by the CSP in the browser console, and, when given a name, a screenshot for docs/manual.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from testsupport import ROOT, TEST_KEYS
from testsupport.browser import (
    MANUAL_IMAGES,
    VIEWPORT,
    TotpCodes,
    axe_violations,
    describe_violations,
    launch,
)
from testsupport.databases import migrated_database
from testsupport.processes import BIN, RunningProcess, free_port


@dataclass(frozen=True)
class Account:
    login_id: str
    display_name: str
    password: str
    totp_secret: str


@dataclass
class Console:
    url: str
    env: dict[str, str]
    accounts: dict[str, Account]  # "admin", "approver", "author", "viewer" (the demo accounts), and extras
    line_url: str = ""  # the LINE emulator (GET {line_url}/_emulator/received?text=…)
    line_friends: int = 0  # its residents, every one a friend and a resident in segment-service

    def cli(self, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run one of the console's command-line tools against the test database."""
        return subprocess.run([str(BIN / argv[0]), *argv[1:]], env={**os.environ, **self.env}, input=stdin,
                              capture_output=True, text=True, timeout=60)


# Staff made besides the demo accounts (through the service layer, with known TOTP secrets).
EXTRA_STAFF = {
    # key: (login id, name, grants as "role:department")
    "sato": ("sato.hanako", "佐藤 花子", ("author:kosodate", "viewer:kouhou")),
    "ito": ("ito.jiro", "伊藤 次郎", ("viewer:kouhou",)),
    "yamada": ("yamada.kenta", "山田 健太", ("viewer:bousai",)),
    "suzuki": ("suzuki.ichiro", "鈴木 一郎", ("approver:kosodate",)),  # approves 子育て支援課's 配信
}
LINE_FRIENDS = 36  # the emulator's residents, all friends
EXTRA_PASSWORD = "mikan no hana saku oka de 2026"  # test accounts only


@pytest.fixture(scope="package")
def browser_database_url() -> Iterator[str]:
    """A database of these tests' own, every installed service's schema at head."""
    with migrated_database("browser") as url:
        yield url


def _register_friends(env: dict[str, str], line_user_ids: list[str]) -> None:
    """The emulator's friends as residents of segment-service (as the follower import makes them)."""
    from cityline_common.settings import load_settings
    from segment_service.bootstrap import bootstrap
    from segment_service.config import Settings

    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        service = bootstrap(load_settings(Settings))
    try:
        with service.bus.uow_factory() as uow:
            uow.residents.register_imported(line_user_ids)
            uow.commit()
    finally:
        service.engine.dispose()


def _make_extra_staff(env: dict[str, str]) -> dict[str, Account]:
    from admin_ui.bootstrap import bootstrap
    from admin_ui.config import Settings
    from admin_ui.domain.commands import CreateStaff
    from admin_ui.domain.permissions import Grant, Role
    from admin_ui.domain.security import new_totp_secret
    from cityline_common.settings import load_settings

    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        service = bootstrap(load_settings(Settings))
    made = {}
    try:
        for key, (login_id, name, grants) in EXTRA_STAFF.items():
            secret = new_totp_secret()
            chosen = frozenset(Grant(Role(role), department) for role, department in
                               (grant.split(":") for grant in grants))
            service.bus.handle(CreateStaff(None, login_id, name, chosen, password=EXTRA_PASSWORD, totp_secret=secret))
            made[key] = Account(login_id, name, EXTRA_PASSWORD, secret)
    finally:
        service.engine.dispose()
    return made


@pytest.fixture(scope="package")
def console(browser_database_url: str) -> Iterator[Console]:
    from cityline_common.amqp.topology import declare_with_url

    from testsupport.emulator import running_emulator
    from testsupport.vhosts import own_vhost

    # A vhost of the console's own: its dispatcher-sender is the single active consumer of the send-jobs
    # queue there, and must not take (or be) another stack's.
    with own_vhost("cityline_browser") as amqp_url, \
            running_emulator(residents=LINE_FRIENDS, friends=LINE_FRIENDS) as (line_url, emulator):
        declare_with_url(amqp_url)
        yield from _console(browser_database_url, amqp_url, line_url, sorted(emulator.world.residents))


def _console(browser_database_url: str, amqp_url: str, line_url: str, friends: list[str]) -> Iterator[Console]:
    from admin_ui.entrypoints.users_cli import DEMO_ACCOUNTS, demo_totp_secret
    from cityline_common.manifest import all_processes

    admin_port, segment_port, dispatcher_port = free_port(), free_port(), free_port()
    sender_port, relay_port = free_port(), free_port()
    richmenu_port, richmenu_worker_port = free_port(), free_port()
    nobody = f"http://127.0.0.1:{free_port()}"  # the processes not started here: shown as stopped
    urls = {process.url_env: nobody for process in all_processes() if process.port is not None}
    urls.update(ADMIN_UI_URL=f"http://127.0.0.1:{admin_port}", SEGMENT_SERVICE_URL=f"http://127.0.0.1:{segment_port}",
                DISPATCHER_URL=f"http://127.0.0.1:{dispatcher_port}",
                DISPATCHER_SENDER_URL=f"http://127.0.0.1:{sender_port}",
                OUTBOX_RELAY_URL=f"http://127.0.0.1:{relay_port}",
                RICHMENU_SERVICE_URL=f"http://127.0.0.1:{richmenu_port}",
                RICHMENU_WORKER_URL=f"http://127.0.0.1:{richmenu_worker_port}")
    env = {
        "DATABASE_URL": browser_database_url, "AMQP_URL": amqp_url, "LOG_FORMAT": "text", **TEST_KEYS, **urls,
        "ADMIN_UI_PORT": str(admin_port), "SEGMENT_SERVICE_PORT": str(segment_port), "GUNICORN_WORKERS": "1",
        "DISPATCHER_PORT": str(dispatcher_port), "RICHMENU_SERVICE_PORT": str(richmenu_port),
        "CHOICE_TALLY_MAX_AGE_SECONDS": "0",  # 友だち分析 counts what the tests just stored
        # The local demo's settings (.env.example): served over http://127.0.0.1, so cookies drop Secure.
        "ADMIN_UI_COOKIE_SECURE": "false", "ADMIN_UI_ARGON2_TIME_COST": "2", "ADMIN_UI_ARGON2_MEMORY_KIB": "24576",
        # 配信 to the emulator, at any hour (the tests never depend on the time of day).
        "LINE_API_BASE_URL": line_url, "LINE_API_DATA_BASE_URL": line_url,
        "SENDING_HOURS_START": "00:00", "SENDING_HOURS_END": "23:59", "PUBLIC_BASE_URL": urls["DISPATCHER_URL"],
    }
    seeded = subprocess.run([str(BIN / "admin-ui-users"), "seed-demo"], env={**os.environ, **env},
                            capture_output=True, text=True, timeout=120)
    assert seeded.returncode == 0, seeded.stderr
    accounts = {}
    for login_id, name, _grants, password in DEMO_ACCOUNTS:
        assert login_id in seeded.stdout and demo_totp_secret(login_id) in seeded.stdout  # printed for newcomers
        accounts[login_id.removeprefix("demo-")] = Account(login_id, name, password, demo_totp_secret(login_id))
    accounts.update(_make_extra_staff(env))
    # The demo city's 受信設定 items, as `make up` publishes them: the セグメント builder offers them.
    published = subprocess.run([str(BIN / "segment-service-taxonomy"), "publish", "deploy/demo/itami-taxonomy.yaml"],
                               env={**os.environ, **env}, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert published.returncode == 0, published.stderr
    _register_friends(env, friends)

    processes = [
        RunningProcess("admin-ui", ["cityline-serve", "admin-ui"], env, f"{urls['ADMIN_UI_URL']}/readyz"),
        RunningProcess("segment-service", ["cityline-serve", "segment-service"], env,
                       f"{urls['SEGMENT_SERVICE_URL']}/readyz"),
        RunningProcess("dispatcher", ["cityline-serve", "dispatcher"], env, f"{urls['DISPATCHER_URL']}/readyz"),
        RunningProcess("dispatcher-sender", ["dispatcher-sender", "--http-port", str(sender_port)], env,
                       f"{urls['DISPATCHER_SENDER_URL']}/readyz"),
        RunningProcess("outbox-relay", ["cityline-outbox-relay", "dispatcher", "--http-port", str(relay_port)], env,
                       f"{urls['OUTBOX_RELAY_URL']}/readyz"),
        RunningProcess("richmenu-service", ["cityline-serve", "richmenu-service"], env,
                       f"{urls['RICHMENU_SERVICE_URL']}/readyz"),
        RunningProcess("richmenu-worker", ["richmenu-worker", "--http-port", str(richmenu_worker_port)], env,
                       f"{urls['RICHMENU_WORKER_URL']}/readyz"),
    ]
    try:
        for process in processes:
            process.start(timeout=60)
        yield Console(urls["ADMIN_UI_URL"], env, accounts, line_url, len(friends))
    finally:
        for process in processes:
            process.stop()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="package")
def totp() -> TotpCodes:
    return TotpCodes()


# What a city office PC sends (the sessions page shows it; HeadlessChrome would puzzle readers of the manual).
DESKTOP_USER_AGENT = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                      "Chrome/126.0.0.0 Safari/537.36")
CSP_REFUSAL = re.compile(r"Refused to|Content Security Policy", re.IGNORECASE)


@dataclass
class Screens:
    """Opens browser contexts on the console and checks every page looked at."""

    browser: Any
    console: Console
    totp: TotpCodes
    contexts: list[Any] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    looked_at: list[str] = field(default_factory=list)

    def page(self, locale: str = "ja-JP", **options: Any) -> Any:
        options.setdefault("user_agent", DESKTOP_USER_AGENT)
        context = self.browser.new_context(viewport=VIEWPORT, locale=locale, timezone_id="Asia/Tokyo",
                                           base_url=self.console.url, device_scale_factor=1,
                                           accept_downloads=True, **options)
        context.set_default_timeout(10_000)
        self.contexts.append(context)
        page = context.new_page()
        page.on("console", lambda message: self.console_errors.append(f"{page.url}: {message.text}")
                if message.type == "error" and CSP_REFUSAL.search(message.text) else None)
        return page

    def look(self, page: Any, shot: str | None = None, *, full_page: bool = False) -> None:
        """axe-core finds nothing at WCAG 2.1 AA, the CSP refused nothing; ``shot``: docs/manual/images/<shot>.png."""
        page.wait_for_load_state("load")
        violations = axe_violations(page)
        assert not violations, describe_violations(page.url, violations)
        assert not self.console_errors, "\n".join(self.console_errors)
        self.looked_at.append(page.url)
        if shot:
            MANUAL_IMAGES.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(MANUAL_IMAGES / f"{shot}.png"), full_page=full_page, animations="disabled",
                            caret="hide")

    def sign_in(self, page: Any, account: Account, *, shots: tuple[str, str] | None = None,
                code: Callable[[], str] | None = None) -> None:
        """Password, then the authenticator code (or ``code()``: a recovery code); lands signed in."""
        page.goto("/signin")
        page.get_by_label("ログインID").fill(account.login_id)
        page.get_by_label("パスワード").fill(account.password)
        self.look(page, shots[0] if shots else None)
        page.get_by_role("button", name="次へ").click()
        page.wait_for_url(re.compile(r"/signin/code"))
        page.get_by_label("確認コード").fill(code() if code else self.totp.code(account.totp_secret))
        self.look(page, shots[1] if shots else None)
        page.get_by_role("button", name="サインイン", exact=True).click()
        page.wait_for_url(lambda url: "/signin" not in url)

    def signed_in(self, account: Account, **options: Any) -> Any:
        page = self.page(**options)
        self.sign_in(page, account)
        return page

    def close(self) -> None:
        for context in self.contexts:
            with contextlib.suppress(Exception):
                context.close()


@pytest.fixture
def screens(browser: Any, console: Console, totp: TotpCodes) -> Iterator[Screens]:
    opened = Screens(browser, console, totp)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture(scope="package")
def admin_state(browser: Any, console: Console, totp: TotpCodes) -> dict[str, Any]:
    """demo-admin signed in once; tests open contexts with this state instead of signing in again."""
    screens = Screens(browser, console, totp)
    try:
        page = screens.signed_in(console.accounts["admin"])
        state: dict[str, Any] = page.context.storage_state()
        return state
    finally:
        screens.close()


@pytest.fixture
def admin(screens: Screens, admin_state: dict[str, Any]) -> Any:
    """A page signed in as demo-admin (システム管理者)."""
    return screens.page(storage_state=admin_state)
