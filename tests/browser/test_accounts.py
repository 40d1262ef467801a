"""職員アカウント in a real browser: a システム管理者 adds a member, who signs in for the first time,
sets up the second factor from the QR code, keeps the recovery codes and replaces the temporary
password; an administrator changes roles, resets a password and a second factor, disables an account.

Screenshots: docs/manual/01-signing-in.md (first sign-in) and 02-accounts-and-roles.md."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

import pyotp
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

NEW_PASSWORD = "kaze ni yureru kouyou no michi"


def wrong_code(secret):
    """Six digits that are not the code of the previous, current or next time step."""
    totp = pyotp.TOTP(secret)
    now = totp.timecode(datetime.now(UTC))
    valid = {totp.generate_otp(step) for step in range(now - 2, now + 3)}
    return next(code for code in ("000000", "111111", "222222", "333333", "444444", "555555") if code not in valid)


def in_department(page, department):
    return page.get_by_role("group", name=department)


def test_a_new_member_signs_in_sets_up_the_second_factor_and_a_password(screens, admin, console):
    page = admin
    page.goto("/admin/staff")
    page.get_by_role("link", name="職員を追加する").click()
    page.get_by_label("ログインID").fill("tanaka.yui")
    page.get_by_label("表示名").fill("田中 結衣")
    in_department(page, "子育て支援課").get_by_label("作成者").check()
    in_department(page, "広報課").get_by_label("閲覧者").check()
    screens.look(page, "02-staff-new", full_page=True)
    page.get_by_role("button", name="追加する").click()
    assert page.get_by_role("status").inner_text().endswith("職員を追加しました。")
    login_id, temporary = page.locator("main code.secret").all_inner_texts()
    assert login_id == "tanaka.yui"
    screens.look(page, "02-temporary-password")

    # The new member, at their own desk: the temporary password, then the second factor.
    newbie = screens.page()
    newbie.goto("/signin")
    newbie.get_by_label("ログインID").fill(login_id)
    newbie.get_by_label("パスワード").fill(temporary)
    newbie.get_by_role("button", name="次へ").click()
    newbie.wait_for_url(re.compile(r"/signin/setup"))
    assert newbie.locator("figure.qr svg").is_visible()
    secret = newbie.locator("#secret").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    assert f"oathtool --totp -b {secret}" in newbie.locator("main").inner_text()
    screens.look(newbie, "01-setup-second-factor", full_page=True)
    newbie.get_by_label("確認コード").fill(wrong_code(secret))
    newbie.get_by_role("button", name="設定する").click()
    assert "確認コードが正しくありません" in newbie.get_by_role("alert").inner_text()  # a wrong code is refused
    screens.look(newbie)
    newbie.get_by_label("確認コード").fill(screens.totp.code(secret))
    newbie.get_by_role("button", name="設定する").click()
    assert newbie.get_by_role("heading", name="リカバリーコード").is_visible()
    codes = newbie.locator("ul.codes code").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", c) for c in codes)
    screens.look(newbie, "01-recovery-codes")
    newbie.get_by_role("link", name="保管しました。続ける").click()

    # A temporary password must be replaced before anything else.
    newbie.wait_for_url(re.compile(r"/account/password"))
    assert "仮のパスワードでサインインしています" in newbie.get_by_role("alert").inner_text()
    newbie.goto("/status")
    assert newbie.url.endswith("/account/password")
    newbie.get_by_label("現在のパスワード").fill(temporary)
    newbie.get_by_label("新しいパスワード", exact=False).first.fill(NEW_PASSWORD)
    newbie.get_by_label("新しいパスワード（確認）").fill(NEW_PASSWORD)
    screens.look(newbie, "01-change-password")
    newbie.get_by_role("button", name="変更する").click()
    assert "パスワードを変更しました" in newbie.get_by_role("status").inner_text()
    screens.look(newbie)
    newbie.goto("/")
    assert newbie.get_by_role("heading", name="ダッシュボード").is_visible()
    assert "職員アカウント" not in newbie.get_by_role("navigation", name="メニュー").inner_text()

    # Another day, without the phone: a recovery code instead of the authenticator's code, once only.
    newbie.get_by_role("button", name="サインアウト").click()
    member = replace(console.accounts["sato"], login_id=login_id, password=NEW_PASSWORD, totp_secret=secret)
    screens.sign_in(newbie, member, code=lambda: codes[0])
    assert newbie.get_by_role("heading", name="ダッシュボード").is_visible()

    page.goto("/admin/staff")
    row = page.get_by_role("row", name=re.compile("田中 結衣"))
    assert "設定済み" in row.inner_text() and "作成者（kosodate）" in row.inner_text()


def test_an_administrator_changes_roles_resets_sign_in_and_disables_an_account(screens, admin, console):
    member = console.accounts["yamada"]
    page = admin
    page.goto("/admin/staff")
    page.get_by_role("link", name=member.display_name).click()
    assert page.get_by_role("heading", name=f"{member.display_name}（{member.login_id}）").is_visible()
    assert in_department(page, "防災危機管理課").get_by_label("閲覧者").is_checked()
    in_department(page, "防災危機管理課").get_by_label("承認者").check()
    page.get_by_role("button", name="役割を保存する").click()
    assert page.get_by_role("status").inner_text().endswith("変更しました。")
    assert in_department(page, "防災危機管理課").get_by_label("承認者").is_checked()
    screens.look(page, "02-staff-edit", full_page=True)

    page.get_by_role("button", name="パスワードを再設定する").click()
    assert page.get_by_role("status").inner_text().endswith("パスワードを再設定しました。")
    temporary = page.locator("main code.secret").all_inner_texts()[1]
    screens.look(page, "02-reset-password")

    page.goto("/admin/staff")
    page.get_by_role("link", name=member.display_name).click()
    page.get_by_role("button", name="二要素認証をリセットする").click()
    assert "二要素認証: 未設定" in page.locator("main").inner_text().replace("\n", "")
    screens.look(page)

    # The member now signs in with the temporary password and sets up a new second factor.
    own = screens.page()
    own.goto("/signin")
    own.get_by_label("ログインID").fill(member.login_id)
    own.get_by_label("パスワード").fill(temporary)
    own.get_by_role("button", name="次へ").click()
    own.wait_for_url(re.compile(r"/signin/setup"))

    page.get_by_role("button", name="無効にする").click()
    assert "状態: 無効" in page.locator("main").inner_text().replace("\n", "")
    screens.look(page)
    own.goto("/signin")
    own.get_by_label("ログインID").fill(member.login_id)
    own.get_by_label("パスワード").fill(temporary)
    own.get_by_role("button", name="次へ").click()
    assert "正しくありません" in own.get_by_role("alert").inner_text()  # a disabled account cannot sign in
    page.get_by_role("button", name="有効にする").click()
    assert "状態: 有効" in page.locator("main").inner_text().replace("\n", "")

    page.goto("/admin/staff")
    screens.look(page, "02-staff-list")


def test_an_administrator_adds_a_department(screens, admin):
    page = admin
    page.goto("/admin/staff")
    page.get_by_role("link", name="課の一覧・追加").click()
    page.get_by_label("コード").fill("shimin")
    page.get_by_label("名前", exact=True).fill("市民課")
    page.get_by_role("button", name="追加する").click()
    assert page.get_by_role("link", name="市民課").is_visible()
    screens.look(page, "02-departments")
    page.get_by_role("link", name="市民課").click()
    assert page.get_by_role("heading", name="市民課").is_visible()
    screens.look(page)
