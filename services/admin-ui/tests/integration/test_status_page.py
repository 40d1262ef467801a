import re
import uuid
from datetime import UTC, datetime

import pytest
from admin_ui.adapters.internal_api import HttpInternalApi
from admin_ui.bootstrap import bootstrap
from admin_ui.config import ISSUER, Settings
from admin_ui.domain.commands import CreateDepartment, CreateStaff, ShowSystemStatus, SignIn, VerifySecondFactor
from admin_ui.domain.permissions import Grant, Role
from admin_ui.domain.security import totp_code
from admin_ui.entrypoints.flask_app import create_app
from admin_ui.manifest import MANIFEST
from cityline_common.internal_auth import InternalTokenSigner, RoleGrant, StaffClaims, generate_key_pair
from cityline_common.manifest import all_processes
from cityline_common.settings import load_settings
from cityline_common.unit_of_work import InMemoryUnitOfWork
from segment_service.bootstrap import bootstrap as segment_bootstrap
from segment_service.config import Settings as SegmentSettings
from segment_service.entrypoints.flask_app import create_app as create_segment_app

from testsupport.emulator import serve
from testsupport.processes import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def segment_url(service_env):
    """A real segment-service on a loopback port (admin-ui only ever calls its HTTP API)."""
    with serve(create_segment_app(segment_bootstrap(load_settings(SegmentSettings)))) as url:
        yield url


def test_status_page_in_japanese_with_live_and_missing_services(service_env, monkeypatch, segment_url):
    monkeypatch.setenv("SEGMENT_SERVICE_URL", segment_url)
    dead = f"http://127.0.0.1:{free_port()}"
    for process in all_processes():  # every process the manifests declare, found where its _URL says
        monkeypatch.setenv(process.url_env, dead)
    monkeypatch.setenv("SEGMENT_SERVICE_URL", segment_url)
    monkeypatch.setenv("ADMIN_UI_COOKIE_SECURE", "false")  # the local demo's plain-http cookies
    service = bootstrap(load_settings(Settings))
    client = create_app(service).test_client()
    assert client.get("/status").status_code == 302  # behind sign-in
    client.set_cookie("cityline-admin", signed_in_viewer(service))
    page = client.get("/status")
    assert page.status_code == 200
    html = page.data.decode()
    assert "伊丹市公式LINE 管理画面" in html
    assert "受信設定・セグメント" in html and "正常" in html  # segment-service answered
    assert "停止または異常" in html  # the others did not
    assert "友だち登録中" in html  # asked on behalf of the signed-in member
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]


def signed_in_viewer(service):
    """A 閲覧者 signed in through the real use cases: password, then a TOTP code."""
    login = f"viewer-{uuid.uuid4().hex[:6]}"
    department = f"d{uuid.uuid4().hex[:6]}"
    service.bus.handle(CreateDepartment(None, department, f"課{department}"))
    service.bus.handle(CreateStaff(None, login, "閲覧 さん", frozenset({Grant(Role.VIEWER, department)}),
                                   password="status-page-passphrase", totp_secret=SECRET))
    first = service.bus.handle(SignIn(login, "status-page-passphrase", "127.0.0.1", "pytest"))
    return service.bus.handle(VerifySecondFactor(first.token, totp_code(SECRET, datetime.now(UTC)), "127.0.0.1")).token


SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
VIEWER = StaffClaims("staff-1", (RoleGrant("総務課", "viewer"),))


def test_the_friends_count_is_asked_with_a_token_signed_for_the_member(service_env, monkeypatch, segment_url):
    monkeypatch.setenv("SEGMENT_SERVICE_URL", segment_url)
    # admin-ui's own wiring of the internal API (signer from its settings); the status needs no table.
    admin = bootstrap(load_settings(Settings), uow_factory=InMemoryUnitOfWork)
    status = admin.bus.handle(ShowSystemStatus(staff=VIEWER))
    assert status.residents is not None and set(status.residents) >= {"following", "blocked"}
    assert MANIFEST.name == ISSUER  # the tokens name admin-ui by its manifest name


def test_segment_service_refuses_a_signer_it_does_not_know(service_env, segment_url):
    unknown_key, _ = generate_key_pair("rogue")
    api = HttpInternalApi(segment_url, 2.0, InternalTokenSigner.from_spec(unknown_key, ISSUER))
    assert api.resident_counts(VIEWER) is None


def test_the_dashboard_shows_friends_and_growth_by_day_from_segment_service(service_env, monkeypatch, segment_url):
    """The whole path: a signed-in 閲覧者's page → admin-ui's adapter → a real segment-service over
    HTTP with a token signed for the member → PostgreSQL's counters."""
    from segment_service.domain.commands import FollowResident, UnfollowResident

    segment = segment_bootstrap(load_settings(SegmentSettings))
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    base = uuid.uuid4().int % 10**20
    for n in range(3):
        segment.bus.handle(FollowResident("U" + f"{base + n:032x}", now_ms))
    segment.bus.handle(UnfollowResident("U" + f"{base:032x}", now_ms + 1))
    segment.engine.dispose()

    monkeypatch.setenv("SEGMENT_SERVICE_URL", segment_url)
    monkeypatch.setenv("ADMIN_UI_COOKIE_SECURE", "false")
    service = bootstrap(load_settings(Settings))
    client = create_app(service).test_client()
    assert client.get("/").status_code == 302  # behind sign-in
    client.set_cookie("cityline-admin", signed_in_viewer(service))
    page = client.get("/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "友だち数" in html and "ブロック数" in html and "日別の増減" in html
    rows = re.findall(r'<tr><th scope="row"><time datetime="([0-9-]+)">', html)
    assert len(rows) == 30 and rows == sorted(rows, reverse=True)  # newest first
    today_row = html[html.index(f'<time datetime="{rows[0]}">'):].split("</tr>", 1)[0]
    follows, unfollows, _net = (int(v.replace(",", "").replace("+", "")) for v in
                                re.findall(r'<td class="number">([^<]+)</td>', today_row))
    assert follows >= 3 and unfollows >= 1  # this test's changes (others of the session may add to them)
    assert '<svg viewBox="0 0 600 160" role="img" aria-labelledby="growth-chart-title"' in html
    assert "style=" not in html and "<style" not in html  # CSP style-src 'self'


def test_admin_uis_adapter_reads_the_summary_with_its_own_signer(service_env, monkeypatch, segment_url):
    monkeypatch.setenv("SEGMENT_SERVICE_URL", segment_url)
    settings = load_settings(Settings)
    api = HttpInternalApi(segment_url, 2.0, settings.token_signer())
    shown = api.friend_figures(VIEWER, 7)
    assert shown is not None and len(shown.days) == 7 and shown.timezone == "Asia/Tokyo"
    assert shown.days[-1].day == shown.today
    unknown_key, _ = generate_key_pair("rogue")
    assert HttpInternalApi(segment_url, 2.0, InternalTokenSigner.from_spec(unknown_key, ISSUER)).friend_figures(
        VIEWER, 7) is None
    assert HttpInternalApi(f"http://127.0.0.1:{free_port()}", 0.5, settings.token_signer()).friend_figures(
        VIEWER, 7) is None  # down: no figures rather than wrong ones
