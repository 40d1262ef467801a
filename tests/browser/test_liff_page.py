"""The residents' 受信設定 page (LIFF) in Chromium on a phone-sized screen.

segment-service runs as the Procfile runs it (``cityline-serve segment-service``) with the LIFF mock
(``LIFF_MOCK``: @line/liff-mock, LINE's own plugin, stands in for the LINE app) and LINE Login's
verify endpoints pointed at the LINE emulator, which mints the resident's ID token: the page hands it
to segment-service exactly as it would hand LINE's, and segment-service asks the emulator who it
belongs to. The page is checked with axe-core at WCAG 2.1 AA before and after saving, and the change
is stored and announced (``segment.PreferencesChanged.v1`` in the outbox), as from the chat.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, select

from testsupport import ROOT, TEST_KEYS
from testsupport.browser import MANUAL_IMAGES, axe_violations, describe_violations
from testsupport.databases import migrated_database
from testsupport.emulator import running_emulator
from testsupport.processes import BIN, RunningProcess, free_port

CHANNEL = "2000000001"
PHONE = {"width": 390, "height": 844}
PHONE_USER_AGENT = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
                    "(KHTML, like Gecko) Mobile/15E148 Safari Line/14.10.0 LIFF")
CSP_REFUSAL = re.compile(r"Refused to|Content Security Policy", re.IGNORECASE)


@dataclass
class LiffSite:
    url: str
    emulator_url: str
    emulator: Any
    env: dict[str, str]
    database_url: str


@pytest.fixture(scope="module")
def liff_database_url() -> Iterator[str]:
    """A database of its own: the resident followed here must not show in the console's screenshots."""
    with migrated_database("liff") as url:
        yield url


@pytest.fixture(scope="module")
def liff_site(liff_database_url: str, amqp_url: str) -> Iterator[LiffSite]:
    browser_database_url = liff_database_url
    with running_emulator(residents=5, seed=4242) as (emulator_url, emulator):
        port = free_port()
        env = {
            "DATABASE_URL": browser_database_url, "AMQP_URL": amqp_url, "LOG_FORMAT": "text", **TEST_KEYS,
            "SEGMENT_SERVICE_PORT": str(port), "GUNICORN_WORKERS": "1",
            "LINE_API_BASE_URL": emulator_url, "LINE_API_DATA_BASE_URL": emulator_url,
            "LINE_LOGIN_CHANNEL_ID": CHANNEL, "LIFF_ID": f"{CHANNEL}-CityDemo",
            "LINE_LOGIN_API_BASE_URL": emulator_url, "LIFF_MOCK": "true",
        }
        published = subprocess.run([str(BIN / "segment-service-taxonomy"), "publish",
                                    str(ROOT / "deploy/demo/itami-taxonomy.yaml")],
                                   env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
        assert published.returncode == 0, published.stderr
        url = f"http://127.0.0.1:{port}"
        process = RunningProcess("segment-service", ["cityline-serve", "segment-service"], env, f"{url}/readyz")
        process.start(timeout=60)
        try:
            yield LiffSite(url, emulator_url, emulator, env, browser_database_url)
        finally:
            process.stop()


def _service(site: LiffSite) -> Any:
    from cityline_common.settings import load_settings
    from segment_service.bootstrap import bootstrap
    from segment_service.config import Settings

    with pytest.MonkeyPatch.context() as patch:
        for key, value in site.env.items():
            patch.setenv(key, value)
        return bootstrap(load_settings(Settings))


def _phone(browser: Any, base_url: str) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True,
                                  locale="ja-JP", timezone_id="Asia/Tokyo", user_agent=PHONE_USER_AGENT,
                                  base_url=base_url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    refusals: list[str] = []
    page.on("console", lambda message: refusals.append(message.text)
            if message.type == "error" and CSP_REFUSAL.search(message.text) else None)
    return context, page, refusals


def _check(page: Any, refusals: list[str], shot: str | None = None) -> None:
    violations = axe_violations(page)
    assert not violations, describe_violations(page.url, violations)
    assert not refusals, "\n".join(refusals)
    if shot:
        MANUAL_IMAGES.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(MANUAL_IMAGES / f"{shot}.png"), full_page=True, animations="disabled", caret="hide")


def test_a_resident_chooses_what_to_receive_on_the_liff_page(browser, liff_site):
    from segment_service.adapters.orm import plumbing
    from segment_service.domain.commands import FollowResident
    from segment_service.service_layer.preferences import preferences_of_line_user

    user = sorted(liff_site.emulator.world.residents)[0]
    service = _service(liff_site)
    try:
        service.bus.handle(FollowResident(user, 1_700_000_000_000))
        token = requests.post(f"{liff_site.emulator_url}/_emulator/login-tokens", timeout=5,
                              json={"userId": user, "channelId": CHANNEL}).json()["idToken"]
        context, page, refusals = _phone(browser, liff_site.url)
        try:
            page.goto(f"/liff/#mock-id-token={token}")
            page.get_by_role("button", name="この内容で保存する").wait_for()
            assert "mock-id-token" not in page.url  # the token is dropped from the address bar
            bousai = page.get_by_role("checkbox", name=re.compile("防災"))
            assert bousai.is_checked() and bousai.is_disabled()  # always delivered, shown as always on
            _check(page, refusals)

            page.get_by_role("checkbox", name="子育て").check()
            page.get_by_role("checkbox", name="イベント・講座").check()
            page.get_by_label("小学校区").select_option(label="南小学校区")
            page.get_by_label("あなたの年代").select_option(label="30代")
            page.get_by_role("button", name="お子さまを追加").click()
            page.get_by_label("生まれた年", exact=True).select_option(label="2021年")
            page.get_by_label("生まれた月", exact=True).select_option(label="4月")
            _check(page, refusals, "04-liff-preferences")
            page.get_by_role("button", name="この内容で保存する").click()
            page.get_by_text("保存しました。").wait_for()
            _check(page, refusals)

            saved = service.bus.query(preferences_of_line_user(user))
            assert saved is not None
            assert saved.as_json() == {"categories": ["bousai", "event", "kosodate"], "district": "minami",
                                       "ageBand": "30s", "language": None, "children": ["2021-04"]}

            # Remove the child and save again: both changes are announced, with the page as their source.
            page.get_by_role("button", name="1人目のお子さまを削除").click()
            page.get_by_role("button", name="この内容で保存する").click()
            page.get_by_text("保存しました。").wait_for()
            assert service.bus.query(preferences_of_line_user(user)).children == ()
        finally:
            with contextlib.suppress(Exception):
                context.close()
    finally:
        service.engine.dispose()

    engine = create_engine(liff_site.database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(plumbing.outbox.c.type, plumbing.outbox.c.payload)
                                      .where(plumbing.outbox.c.type == "segment.PreferencesChanged.v1")).all()
    finally:
        engine.dispose()
    mine = [payload for _, payload in rows if payload.get("source") == "liff"]
    assert len(mine) == 2, rows


def test_without_a_token_the_page_says_what_to_do(browser, liff_site):
    context, page, refusals = _phone(browser, liff_site.url)
    try:
        page.goto("/liff/")  # the mock without a token: not logged in (inside LINE, LIFF logs them in)
        page.get_by_text("LINEアプリから開き直してください").wait_for()
        assert page.get_by_role("button", name="この内容で保存する").is_hidden()
        _check(page, refusals)
    finally:
        context.close()
