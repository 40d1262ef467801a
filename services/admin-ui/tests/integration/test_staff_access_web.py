"""Staff access through the Flask test client against PostgreSQL: deny by default, roles and
departments, CSRF, cookies, session rotation, open redirects, security headers."""

import contextlib
import re
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from admin_ui.adapters.internal_api import AbstractInternalApi
from admin_ui.bootstrap import bootstrap
from admin_ui.config import Settings
from admin_ui.domain.accounts import AccountError
from admin_ui.domain.commands import CreateDepartment, CreateStaff
from admin_ui.domain.dashboard import DayFigures, FriendFigures
from admin_ui.domain.deliveries import (
    DeliveryRefused,
    DeliveryTemplate,
    RecipientCount,
    TestRecipient,
    parse_delivery,
    parse_statistics,
)
from admin_ui.domain.permissions import Grant, Role
from admin_ui.domain.richmenus import parse_catalogue, parse_disaster, parse_rules
from admin_ui.domain.security import totp_code
from admin_ui.entrypoints.access import UndeclaredRoute, access_of, check_routes, public, safe_next
from admin_ui.entrypoints.flask_app import create_app
from cityline_common.settings import load_settings

pytestmark = pytest.mark.integration

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
PASSWORD = "kusunoki-no-shita-de-2026"
BASE = "https://admin.example.jp"


class Platform(AbstractInternalApi):
    def readiness(self, targets):
        return []

    def resident_counts(self, staff):
        return {"following": 1234, "blocked": 56}

    def friend_figures(self, staff, days):
        today = date(2026, 11, 26)
        return FriendFigures(1234, 56, today, "Asia/Tokyo", today - timedelta(days=3), tuple(
            DayFigures(today - timedelta(days=k), k, 1, k <= 3) for k in reversed(range(days))))

    def taxonomy(self, staff):
        bousai = {"key": "bousai", "label": "防災", "always_delivered": True}
        return {"version": 1, "taxonomy": {"categories": [bousai]}}

    def account_texts(self, staff):
        return {"texts": [{"key": "greeting", "text": "ようこそ", "default": True, "updatedBy": None}]}

    # 配信 (the dispatcher's API): one delivery of 子育て支援課, sending, for the pages to show
    def deliveries(self, staff, status=None, department=None, awaiting_me=False):
        return [] if awaiting_me else [parse_delivery(DELIVERY)]

    def delivery(self, staff, delivery_id):
        if delivery_id != DELIVERY["id"]:
            raise DeliveryRefused("見つかりません。", 404, "not_found")
        return parse_delivery(DELIVERY)

    def count_delivery(self, staff, delivery_id):
        return RecipientCount(12_345, 12_000, 345, True)

    def delivery_statistics(self, staff, delivery_id):
        return parse_statistics({"available": True, "overview": None,
                                 "messages": [{"impression": None, "uniqueImpression": None, "click": 25}]})

    def test_recipients(self, staff):
        return [TestRecipient("phone-1", "子育て支援課の端末", "kosodate")]

    def delivery_templates(self, staff, department):
        return [DeliveryTemplate("t-1", department, "健診のお知らせ", ({"type": "text", "text": "健診です"},))]

    # リッチメニュー (richmenu-service's API): none yet, 災害時モード off, the templates for the preview
    def richmenus(self, staff):
        return []

    def richmenu_rules(self, staff):
        return parse_rules({"rules": [], "lineDefault": None, "nextChange": None})

    def disaster(self, staff):
        return parse_disaster({"on": False})

    def richmenu_changes(self, staff, limit=20):
        return []

    def richmenu_templates(self, staff):
        cells = [{"role": "button", "index": i, "bounds": {"x": 0, "y": 0, "width": 1, "height": 1}} for i in range(6)]
        return parse_catalogue({"templates": [{"id": "grid-3x2", "title": "ボタン6個", "columns": 3, "rows": 2,
                                               "size": {"width": 2500, "height": 1686}, "cells": cells}]})

    def preview_richmenu_template(self, staff, design):
        return b"\x89PNG\r\n\x1a\n"


DELIVERY = {
    "id": "3f8a3c1e-6a55-4a55-9a55-3f8a3c1e6a55", "department": "kosodate", "title": "健診のお知らせ",
    "category": "bousai", "status": "sending", "statusLabel": "配信中", "version": 4, "authorId": "someone",
    "lastEditorId": "someone", "sendAt": None, "schedule": {"kind": "weekly", "weekdays": ["mon"], "time": "07:30",
                                                            "holidays": "skip"},
    "scheduleText": "毎週 月 7:30（祝日は配信しない）", "updatedAt": "2026-11-26T01:00:00+00:00",
    "messages": [{"type": "text", "text": "健診です"}, {"type": "sticker", "packageId": "446", "stickerId": "1988"},
                 {"type": "image", "assetId": "7b0a0e8e-0000-4000-8000-000000000001"},
                 {"type": "flex", "altText": "日程", "contents": {"type": "bubble"}}],
    "target": {"kind": "everyone"}, "targetText": None, "pauseReason": "", "problems": [],
    "history": [{"from": "draft", "to": "awaiting_approval", "action": "submit", "actionLabel": "承認依頼",
                 "actorId": "someone", "at": "2026-11-26T01:00:00+00:00", "comment": ""}],
    "allowedActions": ["pause", "cancel"], "reviewed": None,
    "progress": {"run": 1, "sendId": "s", "status": "sending", "recipients": 100, "sent": 40, "failed": 2,
                 "pending": 58, "ratePerSecond": 150.0, "startedAt": "2026-11-26T01:00:00+00:00",
                 "expectedEndAt": None, "finishedAt": None,
                 "errors": [{"reason": "ブロックされています", "recipients": 2}]},
    "runs": [],
}


class Clock:
    """Real time, moved on 30 s at each sign-in so each TOTP code is fresh (codes work once)."""

    def __init__(self):
        self.offset = timedelta()

    def __call__(self):
        return datetime.now(UTC) + self.offset


@pytest.fixture(scope="module")
def suffix():
    return uuid.uuid4().hex[:6]


@pytest.fixture(scope="module")
def clock():
    return Clock()  # one for the module: its accounts' last accepted codes outlive each test


@pytest.fixture
def console(service_env, monkeypatch, suffix, clock):
    monkeypatch.setenv("ADMIN_UI_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("ADMIN_UI_ARGON2_MEMORY_KIB", "8192")
    monkeypatch.setenv("ADMIN_UI_COOKIE_SECURE", "true")
    service = bootstrap(load_settings(Settings), internal=Platform(), clock=clock)
    for code, name in (("bousai", "防災危機管理課"), ("kosodate", "子育て支援課"), ("kouhou", "広報課")):
        with contextlib.suppress(AccountError):  # another test of this session made it
            service.bus.handle(CreateDepartment(None, code, name))
    people = {
        "admin": frozenset({Grant(Role.ADMIN)}),
        "approver": frozenset({Grant(Role.APPROVER, "bousai")}),
        "author": frozenset({Grant(Role.AUTHOR, "kosodate")}),
        "viewer": frozenset({Grant(Role.VIEWER, "kouhou")}),
    }
    logins = {}
    for role, grants in people.items():
        login = f"{role}-{suffix}"
        with contextlib.suppress(AccountError):
            service.bus.handle(CreateStaff(None, login, f"{role} さん", grants, password=PASSWORD, totp_secret=SECRET))
        logins[role] = login
    app = create_app(service)
    return app, service, clock, logins


def csrf_of(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def client_for(app):
    return app.test_client()


def post(client, path, data=None, page="/signin", **kwargs):
    """A form post as a browser sends it: the CSRF token from a page, the Referer of this site."""
    token = csrf_of(client.get(page, base_url=BASE).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **(data or {})}, base_url=BASE,
                       headers={"Referer": f"{BASE}{page}"}, **kwargs)


def sign_in(app, clock, login, next_page=None):
    client = client_for(app)
    clock.offset += timedelta(seconds=30)
    data = {"login_id": login, "password": PASSWORD}
    if next_page:
        data["next"] = next_page
    first = post(client, "/signin", data)
    assert first.status_code == 302 and "/signin/code" in first.headers["Location"], first.get_data(as_text=True)
    code = {"code": totp_code(SECRET, clock()), **({"next": next_page} if next_page else {})}
    second = post(client, "/signin/code", code, page="/signin/code")
    assert second.status_code == 302, second.get_data(as_text=True)
    return client, second


def session_cookie(client):
    cookie = client.get_cookie("__Host-cityline-admin", domain="admin.example.jp")
    return cookie.value if cookie else None


# --- deny by default ----------------------------------------------------------------------------------


def sample_url(rule):
    values = {}
    for arg in rule.arguments:
        values[arg] = str(uuid.uuid4()) if arg.endswith("_id") else "kosodate"
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: values[m.group(1)], rule.rule)


def routes(app):
    for rule in app.url_map.iter_rules():
        access = access_of(app, rule.endpoint)
        method = "GET" if "GET" in rule.methods else sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
        yield rule, access, method, sample_url(rule)


def test_every_route_declares_its_permission_and_an_undeclared_one_stops_the_app(console):
    app, *_ = console
    check_routes(app)  # create_app ran it too
    public_endpoints = {rule.endpoint for rule, access, *_rest in routes(app) if access.public}
    assert public_endpoints == {"healthz", "readyz", "metrics", "static", "sign_in", "second_factor",
                                "setup_second_factor", "choose_language"}

    @app.get("/forgotten")
    def forgotten():
        return "anyone"

    with pytest.raises(UndeclaredRoute, match="forgotten"):
        check_routes(app)
    public(forgotten)
    check_routes(app)


def test_anonymous_pages_go_to_sign_in_and_anonymous_apis_get_401(console):
    app, *_ = console
    client = client_for(app)
    for _rule, access, method, url in routes(app):
        if access.public:
            continue
        response = client.open(url, method=method, base_url=BASE)
        if url.startswith("/api/"):
            assert response.status_code == 401, url
            assert response.is_json
        else:
            assert response.status_code == 302, (url, response.status_code)
            assert response.headers["Location"].startswith("/signin"), url
    json_client = client.get("/status", base_url=BASE, headers={"Accept": "application/json"})
    assert json_client.status_code == 401


EXPECTED = {
    # endpoint → roles that reach it (the department page is asked for kosodate)
    "dashboard": {"admin", "approver", "author", "viewer"},
    "system_status": {"admin", "approver", "author", "viewer"},
    "change_password": {"admin", "approver", "author", "viewer"},
    "my_sessions": {"admin", "approver", "author", "viewer"},
    "api_me": {"admin", "approver", "author", "viewer"},
    "department": {"admin", "author"},  # kosodate: the author's department only
    "staff_list": {"admin"},
    "staff_new": {"admin"},
    "departments": {"admin"},
    "audit.search_page": {"admin"},
    "segment_list": {"admin", "approver", "author", "viewer"},  # read-only for approver and viewer
    "segment_new": {"admin", "author"},
    "preference_items": {"admin", "approver", "author", "viewer"},  # read-only but for admin
    "preference_items_edit": {"admin"},
    "friend_analysis": {"admin", "approver", "author", "viewer"},
    "account_texts": {"admin"},
    "delivery_list": {"admin", "approver", "author", "viewer"},
    "delivery_new": {"admin", "author"},
    "approvals": {"admin", "approver"},
    "richmenu_list": {"admin", "approver", "author", "viewer"},  # every department's menus: residents see them all
    "richmenu_new": {"admin", "author"},
    "richmenu_rules": {"admin", "approver", "author", "viewer"},
    "richmenu_preview": {"admin", "approver", "author", "viewer"},
    "richmenu_disaster": {"admin", "approver", "author", "viewer"},  # switched only by 承認者 (POST)
    "richmenu_template_preview": {"admin", "approver", "author", "viewer"},
    "api_richmenu_changes": {"admin", "approver", "author", "viewer"},
}


def test_each_role_reaches_exactly_its_pages(console):
    app, _service, clock, logins = console
    for role, login in logins.items():
        client, _ = sign_in(app, clock, login)
        for rule, access, method, url in routes(app):
            if access.public or method != "GET" or rule.endpoint not in EXPECTED:
                continue
            response = client.get(url, base_url=BASE)
            reached = response.status_code == 200
            assert reached == (role in EXPECTED[rule.endpoint]), (role, url, response.status_code)
            if not reached:
                assert response.status_code == 403
    assert set(EXPECTED) >= {rule.endpoint for rule, access, method, _ in routes(app)
                             if not access.public and method == "GET" and "<uuid" not in rule.rule
                             and not rule.endpoint.startswith("audit.export")}


def test_the_delivery_pages_render_for_their_department(console):
    app, _service, clock, logins = console
    author, _ = sign_in(app, clock, logins["author"])
    detail = author.get(f"/deliveries/{DELIVERY['id']}", base_url=BASE)
    page = detail.get_data(as_text=True)
    assert detail.status_code == 200, page
    assert "配信中" in page and "40" in page and "人数が少ないため表示できません" in page
    assert "ブロックされています" in page and "一時停止" in page
    edit = author.get(f"/deliveries/{DELIVERY['id']}/edit", base_url=BASE)
    assert edit.status_code == 200 and "健診のお知らせ" in edit.get_data(as_text=True)
    assert author.get(f"/deliveries/{uuid.uuid4()}", base_url=BASE).status_code == 404
    progress = author.get(f"/api/deliveries/{DELIVERY['id']}/progress", base_url=BASE).get_json()
    assert progress["progress"]["sent"] == 40 and progress["sending"] is True
    viewer, _ = sign_in(app, clock, logins["viewer"])  # 広報課: not this department
    assert viewer.get(f"/deliveries/{DELIVERY['id']}", base_url=BASE).status_code == 403
    original = dict(DELIVERY)
    try:  # the approver's view of a submitted delivery, then the final check before sending
        reviewed = {**{k: DELIVERY[k] for k in ("title", "category", "messages", "target")},
                    "version": 3, "schedule": None}
        DELIVERY.update(status="awaiting_approval", statusLabel="承認待ち",
                        allowedActions=["approve", "reject", "edit"], progress=None, reviewed=reviewed)
        admin, _ = sign_in(app, clock, logins["admin"])
        page = admin.get(f"/deliveries/{DELIVERY['id']}", base_url=BASE).get_data(as_text=True)
        assert "前回の確認からの変更点" in page and "配信日時: なし" in page and "承認する" in page
        DELIVERY.update(status="approved", statusLabel="承認済み", allowedActions=["start", "schedule", "cancel"])
        page = admin.get(f"/deliveries/{DELIVERY['id']}", base_url=BASE).get_data(as_text=True)
        assert "送信前の確認" in page and "12,345" in page and "2人の職員による確認が必要です" in page
    finally:
        DELIVERY.clear()
        DELIVERY.update(original)
    preview = post(author, "/deliveries/new", {"title": "t", "department": "kosodate", "m1_type": "text",
                                                "m1_text": "こんにちは", "action": "preview"}, page="/deliveries/new")
    assert preview.status_code == 200 and "こんにちは" in preview.get_data(as_text=True)


def test_other_departments_are_refused_reads_and_the_admin_pages_refuse_writes(console):
    app, _service, clock, logins = console
    author, _ = sign_in(app, clock, logins["author"])
    assert author.get("/departments/kosodate", base_url=BASE).status_code == 200
    assert author.get("/departments/bousai", base_url=BASE).status_code == 403
    assert author.get("/departments/kouhou", base_url=BASE).status_code == 403
    refused = post(author, "/admin/staff/new", {"login_id": "sneaky", "display_name": "x", "grant": "admin:"},
                   page="/")
    assert refused.status_code == 403
    assert author.get("/api/me", base_url=BASE).get_json()["roles"] == ["author@kosodate"]


# --- CSRF, cookies, rotation, sign-out ------------------------------------------------------------------


def test_a_post_without_a_csrf_token_is_refused(console):
    app, _service, clock, logins = console
    client, _ = sign_in(app, clock, logins["viewer"])
    response = client.post("/signout", base_url=BASE, headers={"Referer": f"{BASE}/"})
    assert response.status_code == 400
    assert client.get("/", base_url=BASE).status_code == 200  # still signed in
    anonymous = client_for(app).post("/signin", data={"login_id": logins["viewer"], "password": PASSWORD},
                                     base_url=BASE, headers={"Referer": f"{BASE}/signin"})
    assert anonymous.status_code == 400


def test_cookies_are_host_prefixed_secure_httponly_and_samesite(console):
    app, _service, _clock, logins = console
    client = client_for(app)
    form = client.get("/signin", base_url=BASE)
    csrf_cookie = next(c for c in form.headers.getlist("Set-Cookie") if c.startswith("__Host-cityline-csrf="))
    for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert flag in csrf_cookie
    response = post(client, "/signin", {"login_id": logins["viewer"], "password": PASSWORD})
    cookies = response.headers.getlist("Set-Cookie")
    auth = next(c for c in cookies if c.startswith("__Host-cityline-admin="))
    for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert flag in auth
    assert "Domain" not in auth and "Expires" not in auth  # a browser-session cookie, host-only


def test_the_session_token_rotates_at_each_step_and_dies_at_sign_out(console):
    app, _service, clock, logins = console
    client = client_for(app)
    clock.offset += timedelta(seconds=30)
    post(client, "/signin", {"login_id": logins["viewer"], "password": PASSWORD})
    after_password = session_cookie(client)
    post(client, "/signin/code", {"code": totp_code(SECRET, clock())}, page="/signin/code")
    signed_in = session_cookie(client)
    assert after_password and signed_in and after_password != signed_in
    assert client.get("/", base_url=BASE).status_code == 200

    stale = client_for(app)  # someone holding the pre-second-factor token gets nothing
    stale.set_cookie("__Host-cityline-admin", after_password, domain="admin.example.jp", secure=True)
    assert stale.get("/", base_url=BASE).status_code == 302

    thief = client_for(app)
    thief.set_cookie("__Host-cityline-admin", signed_in, domain="admin.example.jp", secure=True)
    assert thief.get("/", base_url=BASE).status_code == 200
    assert post(client, "/signout", page="/").status_code == 302
    assert session_cookie(client) is None
    assert thief.get("/", base_url=BASE).status_code == 302  # the token is dead server-side


def test_a_member_ends_their_other_session(console):
    app, _service, clock, logins = console
    phone, _ = sign_in(app, clock, logins["approver"])
    desk, _ = sign_in(app, clock, logins["approver"])
    page = desk.get("/account/sessions", base_url=BASE).get_data(as_text=True)
    others = re.findall(r"/account/sessions/([0-9a-f-]{36})/end", page)
    assert others  # the phone among them (earlier tests' sessions of this account too)
    for other in others:
        assert post(desk, f"/account/sessions/{other}/end", page="/account/sessions").status_code == 302
    assert phone.get("/", base_url=BASE).status_code == 302
    assert desk.get("/", base_url=BASE).status_code == 200


def test_wrong_passwords_lock_the_account(console):
    app, service, _clock, _logins = console
    login = f"lockme-{uuid.uuid4().hex[:6]}"
    service.bus.handle(CreateStaff(None, login, "錠 太郎", frozenset({Grant(Role.VIEWER, "kouhou")}),
                                   password=PASSWORD, totp_secret=SECRET))
    client = client_for(app)
    statuses = [post(client, "/signin", {"login_id": login, "password": "wrong password!"}).status_code
                for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
    locked = post(client, "/signin", {"login_id": login, "password": PASSWORD})
    assert locked.status_code == 429 and "秒後" in locked.get_data(as_text=True)


# --- next, headers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("evil", ["//evil.example", "https://evil.example/", "/\\evil.example", "\\\\evil.example",
                                  "http:/evil", "/%0d%0aSet-Cookie:x=1", "javascript:alert(1)", "/\t/evil.example"])
def test_next_only_ever_leads_to_a_path_on_this_site(console, evil):
    app, _service, clock, logins = console
    assert safe_next(evil) in (None, "/%0d%0aSet-Cookie:x=1")  # percent-encoded text is just a path
    _, response = sign_in(app, clock, logins["viewer"], next_page=evil)
    location = response.headers["Location"]
    assert location.startswith("/") and not location.startswith("//") and "\\" not in location
    assert "evil.example" not in location.split("?")[0] or location.startswith("/%")


def test_next_brings_the_member_back_to_the_page_asked_for(console):
    app, _service, clock, logins = console
    anonymous = client_for(app).get("/status", base_url=BASE)
    assert anonymous.headers["Location"] == "/signin?next=/status"
    _, response = sign_in(app, clock, logins["viewer"], next_page="/status")
    assert response.headers["Location"] == "/status"


def test_security_headers_on_every_page(console):
    app, _service, clock, logins = console
    client, _ = sign_in(app, clock, logins["admin"])
    for path in ("/", "/status", "/signin", "/admin/staff", "/account/sessions"):
        response = client.get(path, base_url=BASE)
        csp = response.headers["Content-Security-Policy"]
        assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert response.headers["Cache-Control"] == "no-store"
        html = response.get_data(as_text=True)
        assert "<style" not in html and "style=" not in html and "<script" not in html
    plain = client_for(app).get("/signin")  # over http: no HSTS
    assert "Strict-Transport-Security" not in plain.headers


def test_pages_in_japanese_with_english_available(console):
    app, _service, clock, logins = console
    client, _ = sign_in(app, clock, logins["viewer"])
    page = client.get("/", base_url=BASE).get_data(as_text=True)
    assert '<html lang="ja">' in page and "ダッシュボード" in page and "1,234" in page
    post(client, "/language", {"lang": "en", "next": "/"}, page="/")
    english = client.get("/", base_url=BASE).get_data(as_text=True)
    assert '<html lang="en">' in english and "Dashboard" in english and "Sign out" in english


def test_the_status_page_is_behind_sign_in(console):
    app, _service, clock, logins = console
    assert client_for(app).get("/status", base_url=BASE).status_code == 302
    client, _ = sign_in(app, clock, logins["viewer"])
    page = client.get("/status", base_url=BASE).get_data(as_text=True)
    assert "システム状態" in page and "友だち登録中" in page


def test_an_administrator_creates_an_account_who_then_changes_the_password_and_sets_up_totp(console):
    app, _service, clock, logins = console
    admin, _ = sign_in(app, clock, logins["admin"])
    login = f"newbie-{uuid.uuid4().hex[:6]}"
    created = post(admin, "/admin/staff/new", {"login_id": login, "display_name": "新人 さん",
                                              "grant": ["author:kosodate", "viewer:bousai"]}, page="/admin/staff/new")
    assert created.status_code == 200
    temporary = re.findall(r'<code class="secret">([^<]+)</code>', created.get_data(as_text=True))[1]

    newbie = client_for(app)
    first = post(newbie, "/signin", {"login_id": login, "password": temporary})
    assert first.headers["Location"].startswith("/signin/setup")
    setup = newbie.get("/signin/setup", base_url=BASE).get_data(as_text=True)
    assert "<svg" in setup and "oathtool --totp -b" in setup
    secret = re.search(r'<code class="secret" id="secret">([A-Z2-7]+)</code>', setup).group(1)
    done = post(newbie, "/signin/setup", {"code": totp_code(secret, clock())}, page="/signin/setup")
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", done.get_data(as_text=True))
    assert len(codes) == 10
    assert newbie.get("/", base_url=BASE).headers["Location"] == "/account/password"  # temporary password
    changed = post(newbie, "/account/password", {"current_password": temporary, "new_password": "itami2026",
                                                 "new_password_again": "itami2026"}, page="/account/password")
    assert changed.status_code == 400  # a common password
    changed = post(newbie, "/account/password", {"current_password": temporary,
                                                 "new_password": "mikan no hana saku oka",
                                                 "new_password_again": "mikan no hana saku oka"},
                   page="/account/password")
    assert changed.status_code == 200
    assert newbie.get("/", base_url=BASE).status_code == 200
