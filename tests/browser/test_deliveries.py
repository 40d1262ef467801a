"""配信 in a real browser, sent for real: an author (作成者 of 子育て支援課) composes a text to 友だち全員
watching the phone preview and the count change as they type, and asks for approval; an approver of
子育て支援課 finds it in 承認, reads what changed and the content as a phone shows it, and approves it
with a comment; the author reads the final confirmation and presses 送信; the page follows the
progress (static/delivery-progress.js) to 配信完了, and every friend of the LINE emulator received it
exactly once. The author cannot approve their own delivery, not even with a forged POST; the 操作ログ
records the approval.

Screenshots: docs/manual/08-deliveries.md."""

from __future__ import annotations

import re
import uuid

import pytest
import requests
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

DELIVERY_URL = re.compile(r"/deliveries/([0-9a-f-]{36})\?done=(\w+)$")


def received(console, text):
    answer = requests.get(f"{console.line_url}/_emulator/received", params={"text": text}, timeout=10)
    answer.raise_for_status()
    contents = answer.json()["contents"]
    return contents[0] if contents else None


def status_of(page):
    return page.locator("dl.facts dt", has_text="状態").locator("xpath=following-sibling::dd[1]")


def test_an_author_composes_an_approver_approves_and_every_friend_receives_it_once(screens, console, admin):
    friends = console.line_friends
    text = (f"【子育て支援課】12月の子育て広場は、7日（土）10時から伊丹市立こども文化科学館で開きます。"
            f"申し込みはいりません。（{uuid.uuid4().hex[:6]}）")
    title = "12月の子育て広場のお知らせ"

    # The author composes; the phone preview and the count follow the form as it is filled in.
    author = screens.signed_in(console.accounts["author"])  # demo-author: 作成者 of 子育て支援課
    author.get_by_role("navigation", name="メニュー").get_by_role("link", name="配信", exact=True).click()
    assert author.get_by_role("heading", name="配信", level=1).is_visible()
    author.get_by_role("link", name="配信を作成する").click()
    author.wait_for_url(re.compile(r"/deliveries/new$"))
    author.get_by_label("件名（管理用）").fill(title)
    assert author.get_by_label("課", exact=True).locator("option").all_inner_texts() == ["子育て支援課"]
    author.get_by_label("情報の種類").select_option(label="子育て")
    author.locator("#m1_type").select_option(label="テキスト")
    author.locator("#m1_text").fill(text)
    expect(author.locator("#m1_count")).to_contain_text(f"{len(text)} / 5000 文字")
    expect(author.locator("#phone-screen")).to_contain_text(text)  # redrawn as the author typed
    author.get_by_role("radio", name="友だち全員").check()
    expect(author.locator("#delivery-count")).to_contain_text(f"配信対象は {friends} 人")
    screens.look(author, "08-compose", full_page=True)
    author.get_by_role("button", name="保存して承認依頼").click()
    author.wait_for_url(DELIVERY_URL)
    delivery_id = DELIVERY_URL.search(author.url).group(1)
    expect(status_of(author)).to_have_text("承認待ち")
    assert "「承認依頼」を受け付けました。" in author.get_by_role("status").first.inner_text()

    # Nor can the author approve it: no button, and a forged POST is refused and changes nothing.
    assert author.get_by_role("button", name="承認する").count() == 0
    author.goto(f"/deliveries/{delivery_id}/edit")
    version = author.locator("#delivery-form input[name=version]").input_value()
    token = author.locator("#delivery-form input[name=csrf_token]").input_value()
    forged = author.context.request.post(f"{console.url}/deliveries/{delivery_id}/action",
                                         form={"csrf_token": token, "action": "approve", "version": version})
    assert forged.status == 403, forged.status
    author.goto(f"/deliveries/{delivery_id}")
    expect(status_of(author)).to_have_text("承認待ち")

    # The approver of 子育て支援課 finds it in 承認, reads it as a phone shows it, and approves it.
    approver = screens.signed_in(console.accounts["suzuki"])  # 承認者 of 子育て支援課
    approver.get_by_role("navigation", name="メニュー").get_by_role("link", name="承認", exact=True).click()
    assert approver.get_by_role("heading", name="承認", level=1).is_visible()
    row = approver.locator("main table tbody tr", has_text=title)
    expect(row).to_have_count(1)
    assert row.locator("td").all_inner_texts()[1:3] == ["承認待ち", "子育て支援課"]
    screens.look(approver, "08-approvals")
    row.get_by_role("link", name=title).click()
    approver.wait_for_url(re.compile(rf"/deliveries/{delivery_id}$"))
    expect(approver.locator("section[aria-labelledby=changes-heading]")).to_contain_text("初めての承認依頼です")
    expect(approver.locator("#phone-screen")).to_contain_text(text)
    expect(approver.locator("section[aria-labelledby=target-heading]")).to_contain_text(f"配信対象は {friends} 人")
    approver.get_by_label("コメント（差し戻すときは必須）").fill("日時と会場を確認しました。")
    screens.look(approver, "08-review", full_page=True)
    approver.get_by_role("button", name="承認する").click()
    approver.wait_for_url(DELIVERY_URL)
    expect(status_of(approver)).to_have_text("承認済み")

    # The author reads the final confirmation, confirms and presses 送信; the page follows the send.
    author.goto(f"/deliveries/{delivery_id}")
    confirmation = author.locator("section[aria-labelledby=send-heading]")
    expect(confirmation).to_contain_text(f"配信対象は {friends} 人")
    expect(confirmation).to_contain_text("友だち全員")
    screens.look(author, "08-confirm", full_page=True)
    assert received(console, text) is None  # nothing sent before 送信
    author.get_by_role("button", name="人数と内容を確認しました").click()
    author.wait_for_url(DELIVERY_URL)
    expect(author.locator("section[aria-labelledby=send-heading]")).to_contain_text("あなたは確認済みです。")
    author.get_by_role("button", name="送信", exact=True).click()
    author.wait_for_url(re.compile(rf"/deliveries/{delivery_id}(\?done=start)?$"))
    expect(status_of(author)).to_have_text("配信完了", timeout=60_000)  # reloaded by delivery-progress.js
    expect(author.locator("#progress-text")).to_contain_text(
        f"送信済み {friends} 人・失敗 0 人・残り 0 人（対象 {friends} 人）")
    approval = author.locator("main table tbody tr", has_text="日時と会場を確認しました。")  # 配信履歴
    expect(approval).to_contain_text("suzuki.ichiro")
    screens.look(author, "08-sent", full_page=True)

    # Every friend of the emulator received it, once.
    got = received(console, text)
    assert got is not None, "the emulator received nothing"
    assert (got["recipients"], got["duplicates"]) == (friends, 0), got

    # The 操作ログ records who approved it.
    admin.goto("/audit?action=delivery.approve")
    assert admin.locator("main table tbody tr", has_text="suzuki.ichiro").count() == 1
    screens.look(admin)
    for page in (author, approver):  # their sessions are not counted by other tests, but end them anyway
        page.get_by_role("button", name="サインアウト").click()
        page.wait_for_url(re.compile(r"/signin"))


def test_whoever_wrote_a_delivery_cannot_approve_it_even_with_the_right_to_approve(screens, console, admin):
    """A システム管理者 may approve every department's 配信, but not one they wrote."""
    page = admin
    page.goto("/deliveries/new")
    page.get_by_label("件名（管理用）").fill("自分では承認できない配信")
    page.get_by_label("課", exact=True).select_option("kosodate")
    page.get_by_label("情報の種類").select_option(label="子育て")
    page.locator("#m1_type").select_option(label="テキスト")
    page.locator("#m1_text").fill(f"承認の確認 {uuid.uuid4().hex[:6]}")
    page.get_by_role("radio", name="友だち全員").check()
    page.get_by_role("button", name="保存して承認依頼").click()
    page.wait_for_url(DELIVERY_URL)
    delivery_id = DELIVERY_URL.search(page.url).group(1)
    expect(status_of(page)).to_have_text("承認待ち")
    assert page.get_by_role("button", name="承認する").count() == 0
    page.goto("/approvals")
    assert page.locator("main table tbody tr", has_text="自分では承認できない配信").count() == 0
    page.goto(f"/deliveries/{delivery_id}/edit")
    version = page.locator("#delivery-form input[name=version]").input_value()
    token = page.locator("#delivery-form input[name=csrf_token]").input_value()
    forged = page.context.request.post(f"{console.url}/deliveries/{delivery_id}/action",
                                       form={"csrf_token": token, "action": "approve", "version": version})
    assert forged.status == 403, forged.status
    assert "承認できません" in forged.text()
    page.goto(f"/deliveries/{delivery_id}")
    expect(status_of(page)).to_have_text("承認待ち")
    page.get_by_role("button", name="取消").click()  # leaves nothing waiting for the approvers
    page.wait_for_url(DELIVERY_URL)
    expect(status_of(page)).to_have_text("取消")
