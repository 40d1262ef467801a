"""Signing in, in a real browser: password then authenticator code, each role's own menu and pages,
lockout after wrong passwords, a post without its CSRF token refused, the member's own sessions.

Screenshots: docs/manual/01-signing-in.md (and the viewer's menu in 02-accounts-and-roles.md)."""

from __future__ import annotations

import re

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

EVERYONE = ["ダッシュボード", "システム状態", "友だち分析", "配信", "セグメント", "リッチメニュー", "受信設定の項目",
            "ログイン中の端末", "パスワード変更"]
APPROVER = [*EVERYONE[:4], "承認", *EVERYONE[4:]]  # 承認者: their departments' 配信 awaiting approval
ADMINISTRATOR = ["ダッシュボード", "システム状態", "友だち分析", "配信", "承認", "セグメント", "リッチメニュー",
                 "受信設定の項目", "あいさつメッセージ", "職員アカウント", "操作ログ", "ログイン中の端末",
                 "パスワード変更"]
ROLES = {
    # role: (menu items, departments of 所属する課, pages it may open, pages refused with 403)
    "admin": (ADMINISTRATOR, [], ["/admin/staff", "/admin/departments", "/audit", "/departments/kosodate"], []),
    "approver": (APPROVER, ["bousai"], ["/departments/bousai", "/status", "/segments"],
                 ["/admin/staff", "/audit", "/departments/kosodate", "/segments/new"]),
    "author": (EVERYONE, ["kosodate", "kouhou"], ["/departments/kosodate", "/departments/kouhou", "/segments/new"],
               ["/admin/staff/new", "/admin/departments", "/departments/bousai"]),
    "viewer": (EVERYONE, ["kouhou"], ["/departments/kouhou", "/segments"],
               ["/admin/staff", "/audit", "/departments/kosodate", "/segments/new"]),
}


def menu_of(page):
    return page.get_by_role("navigation", name="メニュー").get_by_role("link").all_inner_texts()


@pytest.mark.parametrize("role", list(ROLES))
def test_each_role_signs_in_with_password_and_code_and_sees_its_own_menu(screens, console, role):
    menu, departments, allowed, refused = ROLES[role]
    account = console.accounts[role]
    page = screens.page()
    shots = ("01-signin", "01-signin-code") if role == "admin" else None
    screens.sign_in(page, account, shots=shots)
    assert page.url.endswith("/")
    screens.look(page, {"admin": "01-dashboard", "viewer": "02-viewer-dashboard"}.get(role))
    assert page.get_by_role("heading", name="ダッシュボード", level=1).is_visible()
    assert f"{account.display_name}（{account.login_id}）" in page.locator("header").inner_text()
    assert menu_of(page) == menu
    shown = page.locator("main").get_by_role("link").all_inner_texts()
    assert [d for d in shown if d in ("bousai", "kosodate", "kouhou")] == departments
    for path in allowed:
        response = page.goto(path)
        assert response.status == 200, (role, path)
        screens.look(page)
    for path in refused:
        response = page.goto(path)
        assert response.status == 403, (role, path)
        assert page.get_by_role("heading", name="アクセスできません").is_visible()
        screens.look(page, "02-forbidden" if role == "viewer" and path == "/admin/staff" else None)


def test_wrong_passwords_lock_the_account_and_the_page_says_for_how_long(screens, console):
    account = console.accounts["ito"]
    page = screens.page()
    page.goto("/signin")
    for attempt in range(5):
        page.get_by_label("ログインID").fill(account.login_id)
        page.get_by_label("パスワード").fill(f"not the password {attempt}")
        with page.expect_response(lambda r: r.url.endswith("/signin") and r.request.method == "POST") as answer:
            page.get_by_role("button", name="次へ").click()
        assert answer.value.status == (401 if attempt < 4 else 429)
    alert = page.get_by_role("alert")
    assert "しばらくサインインできません" in alert.inner_text() and "秒後" in alert.inner_text()
    # The right password does not help while the lock lasts.
    page.get_by_label("ログインID").fill(account.login_id)
    page.get_by_label("パスワード").fill(account.password)
    with page.expect_response(lambda r: r.url.endswith("/signin") and r.request.method == "POST") as answer:
        page.get_by_role("button", name="次へ").click()
    assert answer.value.status == 429
    assert re.search(r"\d+秒後にもう一度お試しください", page.get_by_role("alert").inner_text())
    screens.look(page, "01-locked")


def test_a_post_without_its_csrf_token_is_refused_and_changes_nothing(screens, admin, console):
    page = admin
    page.goto("/admin/departments")
    page.locator("form.stack input[name=csrf_token]").evaluate("input => input.remove()")
    page.get_by_label("コード").fill("csrf-test")
    page.get_by_label("名前", exact=True).fill("偽の課")
    with page.expect_response(lambda r: r.url.endswith("/admin/departments") and r.request.method == "POST") as answer:
        page.get_by_role("button", name="追加する").click()
    assert answer.value.status == 400
    assert page.get_by_role("heading", name="送信を受け付けられませんでした").is_visible()
    screens.look(page)
    page.goto("/admin/departments")
    assert "csrf-test" not in page.locator("main").inner_text()

    # Nor from outside a page: the session's cookie alone does not sign out (or change anything).
    refused = page.context.request.post(f"{console.url}/signout", form={})
    assert refused.status == 400
    refused = page.context.request.post(f"{console.url}/admin/departments", form={"code": "csrf-test2", "name": "偽"})
    assert refused.status == 400
    page.goto("/admin/departments")
    assert page.get_by_role("heading", name="課", exact=True).is_visible()  # still signed in
    assert "csrf-test" not in page.locator("main").inner_text()


def test_a_member_sees_where_they_are_signed_in_and_ends_another_session(screens, console):
    account = console.accounts["sato"]
    phone = screens.signed_in(account, user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) "
                                                  "AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148")
    desk = screens.signed_in(account)
    desk.get_by_role("link", name="ログイン中の端末").click()
    rows = desk.locator("main table tbody tr")
    assert rows.count() == 2
    assert "この端末" in desk.locator("main table").inner_text()
    screens.look(desk, "01-my-sessions")
    desk.get_by_role("button", name=re.compile("^終了する")).click()
    assert desk.locator("main table tbody tr").count() == 1
    screens.look(desk)
    phone.reload()
    assert "/signin" in phone.url  # the phone's session was ended on the server
    assert phone.get_by_role("heading", name="サインイン").is_visible()


def test_sign_out_ends_the_session(screens, console):
    account = console.accounts["approver"]
    page = screens.signed_in(account)
    page.get_by_role("button", name="サインアウト").click()
    page.wait_for_url(re.compile(r"/signin\?signed_out=1"))
    assert page.get_by_role("status").inner_text().strip().endswith("サインアウトしました。")
    screens.look(page, "01-signed-out")
    page.goto("/")
    assert "/signin" in page.url
