"""IPA「安全なウェブサイトの作り方」's classes as an attacker would try them on the staff console
(docs/security.md maps each class to its counter and to the test that proves it)."""

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from admin_ui.adapters.in_memory import NoPlatform
from admin_ui.bootstrap import bootstrap
from admin_ui.config import Settings
from admin_ui.domain.commands import CreateStaff
from admin_ui.domain.permissions import Grant, Role
from admin_ui.domain.security import totp_code
from admin_ui.entrypoints.flask_app import create_app
from cityline_common.settings import load_settings
from werkzeug.datastructures import Headers

pytestmark = pytest.mark.integration

BASE = "https://admin.example.jp"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
PASSWORD = "ipa-no-tsukurikata-2026"
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'



class Clock:
    def __init__(self):
        self.offset = timedelta()

    def __call__(self):
        return datetime.now(UTC) + self.offset


@pytest.fixture
def console(service_env, monkeypatch):
    monkeypatch.setenv("ADMIN_UI_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("ADMIN_UI_ARGON2_MEMORY_KIB", "8192")
    monkeypatch.setenv("ADMIN_UI_COOKIE_SECURE", "true")
    clock = Clock()
    service = bootstrap(load_settings(Settings), internal=NoPlatform(), clock=clock)
    admin = f"ipa-{uuid.uuid4().hex[:6]}"
    service.bus.handle(CreateStaff(None, admin, XSS, frozenset({Grant(Role.ADMIN)}), password=PASSWORD,
                                   totp_secret=SECRET))
    app = create_app(service)
    yield app, clock, admin
    service.engine.dispose()


def csrf_of(client, page):
    html = client.get(page, base_url=BASE).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def post(client, path, data, page="/signin", referer=None):
    return client.post(path, data={"csrf_token": csrf_of(client, page), **data}, base_url=BASE,
                       headers={"Referer": referer if referer is not None else f"{BASE}{page}"})


def signed_in(app, clock, login):
    client = app.test_client()
    clock.offset += timedelta(seconds=30)
    assert post(client, "/signin", {"login_id": login, "password": PASSWORD}).status_code == 302
    done = post(client, "/signin/code", {"code": totp_code(SECRET, clock())}, page="/signin/code")
    assert done.status_code == 302
    return client


# --- 1. SQLインジェクション -------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", ["' OR '1'='1", "admin'--", "x'; DROP TABLE admin.staff; --", "\\' OR 1=1 #"])
def test_sql_injection_in_the_sign_in_form_is_just_a_wrong_login(console, payload):
    app, _clock, _admin = console
    response = post(app.test_client(), "/signin", {"login_id": payload, "password": payload})
    assert response.status_code == 401  # "wrong id or password", not a database error
    assert "ログインIDまたはパスワードが正しくありません" in response.get_data(as_text=True)


def test_sql_injection_in_search_and_path_parameters_finds_nothing_and_breaks_nothing(console):
    app, clock, admin = console
    client = signed_in(app, clock, admin)
    for payload in ("x' OR '1'='1", "x' UNION SELECT password_hash FROM admin.staff --"):
        page = client.get("/audit", query_string={"person": payload}, base_url=BASE)
        assert page.status_code == 200 and "argon2" not in page.get_data(as_text=True)
        assert client.get(f"/departments/{payload}", base_url=BASE).status_code == 404
    assert client.get("/admin/staff", base_url=BASE).status_code == 200  # the table is still there


# --- 3. パス名パラメータ／ディレクトリ・トラバーサル -------------------------------------------------------------


@pytest.mark.parametrize("path", ["/static/../config.py", "/static/%2e%2e/config.py", "/static/..%2fconfig.py",
                                  "/static/%2e%2e%2fmigrations%2fenv.py", "/static/..\\config.py",
                                  "/static//etc/passwd", "/static/%2fetc%2fpasswd"])
def test_static_files_never_leave_their_folder(console, path):
    app, _clock, _admin = console
    response = app.test_client().get(path, base_url=BASE, follow_redirects=True)  # "//" is merged: a redirect
    assert response.status_code == 404
    assert all(r.headers["Location"].startswith((f"{BASE}/static/", "/static/")) for r in response.history)
    assert b"import" not in response.data and b"root:" not in response.data


# --- 5. クロスサイト・スクリプティング --------------------------------------------------------------------------


def test_markup_typed_by_a_user_is_shown_as_text_everywhere(console):
    app, clock, admin = console
    client = signed_in(app, clock, admin)
    for path in ("/", "/admin/staff", f"/audit?person={admin}", "/audit?person=%3Cscript%3Ealert(1)%3C/script%3E"):
        html = client.get(path, base_url=BASE).get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html, path
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in client.get("/", base_url=BASE).get_data(as_text=True)


# --- 6. CSRF ----------------------------------------------------------------------------------------------


def test_a_post_from_another_site_is_refused_even_with_a_token(console):
    app, clock, admin = console
    client = signed_in(app, clock, admin)
    token = csrf_of(client, "/admin/departments")
    for referer in ("https://evil.example/admin/departments", ""):  # over TLS the Referer must be this site
        refused = client.post("/admin/departments", data={"csrf_token": token, "code": "evil", "name": "悪い課"},
                              base_url=BASE, headers={"Referer": referer} if referer else {})
        assert refused.status_code == 400, referer
    assert client.post("/admin/departments", data={"code": "evil2", "name": "悪い課2"}, base_url=BASE,
                       headers={"Referer": f"{BASE}/admin/departments"}).status_code == 400  # no token


# --- 7. HTTPヘッダ・インジェクション ----------------------------------------------------------------------------


def test_no_header_carries_a_line_break_from_input(console):
    app, _clock, _admin = console
    client = app.test_client()
    switched = post(client, "/language", {"lang": "en\r\nSet-Cookie: pwned=1", "next": "/\r\nLocation: //evil"})
    assert switched.status_code == 302
    assert switched.headers["Location"] == "/"
    assert all("pwned" not in cookie for cookie in switched.headers.getlist("Set-Cookie"))
    assert any(cookie.startswith("lang=ja;") for cookie in switched.headers.getlist("Set-Cookie"))  # a fixed set
    anonymous = client.get("/status%0d%0aSet-Cookie:%20pwned=1", base_url=BASE)
    assert "pwned" not in str(anonymous.headers)
    with pytest.raises(ValueError):  # and the framework itself refuses a header value with a newline
        Headers().add("Location", "/\r\nSet-Cookie: pwned=1")


# --- 9. クリックジャッキング / 11. アクセス制御 (error pages too) --------------------------------------------------


def test_error_pages_carry_the_same_protections(console):
    app, _clock, _admin = console
    client = app.test_client()
    for path, status in (("/no-such-page", 404), ("/admin/staff", 302)):
        response = client.get(path, base_url=BASE)
        assert response.status_code == status
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")


# --- 1-(iii) and every class: an error tells the user nothing about the inside -----------------------------


def test_an_unexpected_error_shows_no_stack_trace_and_no_database_message(console):
    from admin_ui.entrypoints.access import public

    app, _clock, _admin = console

    @app.get("/boom")
    @public
    def boom():
        raise RuntimeError('psycopg2.errors.SyntaxError: syntax error at or near "OR" in SELECT … FROM admin.staff')

    response = app.test_client().get("/boom", base_url=BASE)
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "psycopg2" not in body and "Traceback" not in body and "admin.staff" not in body
    assert response.headers["X-Frame-Options"] == "DENY"
