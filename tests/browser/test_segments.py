"""セグメント in a real browser, against segment-service started for real: an author builds a segment
with checkboxes, sees the recipient count change as they edit (static/segment-builder.js), saves it,
finds it in the list and in the 操作ログ, opens it again and deletes it; without JavaScript
「人数を確認」 does the same with a page load; a 閲覧者 sees the list only.

Screenshots: docs/manual/05-segments.md."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

COUNT = re.compile(r"配信対象は \d+ 人です")


def test_an_author_builds_a_segment_sees_the_count_and_saves_it(screens, console, admin):
    page = screens.signed_in(console.accounts["sato"])  # 作成者 of 子育て支援課, 閲覧者 of 広報課
    page.get_by_role("navigation", name="メニュー").get_by_role("link", name="セグメント").click()
    assert page.get_by_role("heading", name="セグメント", level=1).is_visible()
    page.get_by_role("link", name="セグメントを作成する").click()
    page.wait_for_url(re.compile(r"/segments/new$"))

    page.get_by_label("名前").fill("南・稲野の子育て世帯（3〜5歳）")
    # sato may save only where they are 作成者
    assert page.get_by_label("課", exact=True).locator("option").all_inner_texts() == ["子育て支援課"]
    page.get_by_role("checkbox", name="子育て", exact=True).check()
    page.get_by_role("checkbox", name="南小学校区", exact=True).check()
    page.get_by_role("checkbox", name="稲野小学校区", exact=True).check()
    page.get_by_label("何歳から").fill("3")
    page.get_by_label("何歳まで").fill("5")
    count = page.locator("#segment-count")
    expect(count).to_contain_text("含みません")  # counted live, as the form changed (no button pressed)
    assert COUNT.search(count.inner_text())
    page.get_by_role("radio", name="含める", exact=True).check()  # unanswered friends too: the count says so, live
    expect(count).not_to_contain_text("含みません")
    expect(count).to_contain_text("未回答の友だち")
    screens.look(page, "05-segment-builder", full_page=True)

    page.get_by_role("button", name="保存する").click()
    page.wait_for_url(re.compile(r"/segments\?saved=1$"))
    row = page.locator("main table tbody tr", has_text="南・稲野の子育て世帯（3〜5歳）")
    assert row.locator("td").all_inner_texts()[1] == "子育て支援課"
    assert row.locator("td").all_inner_texts()[3] == "sato.hanako"
    screens.look(page, "05-segment-list")

    # Opened again, the builder shows what was saved.
    row.get_by_role("link").click()
    assert page.get_by_role("heading", name="セグメント編集", level=1).is_visible()
    assert page.get_by_role("checkbox", name="南小学校区", exact=True).is_checked()
    assert page.get_by_label("何歳まで").input_value() == "5"
    screens.look(page)

    admin.goto("/audit?action=segment.create")
    assert admin.locator("main table tbody tr", has_text="sato.hanako").count() == 1

    page.get_by_role("button", name="このセグメントを削除する").click()
    page.wait_for_url(re.compile(r"/segments\?deleted=1$"))
    assert page.locator("main table tbody tr", has_text="南・稲野の子育て世帯（3〜5歳）").count() == 0
    admin.goto("/audit?action=segment.delete")
    assert admin.locator("main table tbody tr", has_text="sato.hanako").count() == 1
    page.get_by_role("button", name="サインアウト").click()  # sato's sessions are counted by test_sign_in
    page.wait_for_url(re.compile(r"/signin"))


def test_without_javascript_the_count_button_counts_and_a_viewer_only_reads(screens, console):
    signed_in = screens.signed_in(console.accounts["author"])  # demo-author: 作成者 of 子育て支援課
    # axe-core needs JavaScript: this page is checked by the test above and the accessibility walk.
    page = screens.page(java_script_enabled=False, storage_state=signed_in.context.storage_state())
    page.goto("/segments/new")
    page.get_by_role("checkbox", name="防災・緊急情報", exact=True).check()
    page.get_by_role("button", name="人数を確認").click()
    assert COUNT.search(page.locator("#segment-count").inner_text())
    # the form keeps what was chosen
    assert page.get_by_role("checkbox", name="防災・緊急情報", exact=True).is_checked()

    page.get_by_label("何歳から").fill("5")
    page.get_by_label("何歳まで").fill("3")
    page.get_by_role("button", name="人数を確認").click()
    assert "「から」が「まで」より大きく" in page.get_by_role("alert").inner_text()

    viewer = screens.signed_in(console.accounts["ito"])  # 閲覧者 of 広報課 only
    viewer.goto("/segments")
    assert viewer.get_by_role("link", name="セグメントを作成する").count() == 0
    screens.look(viewer)
    assert viewer.goto("/segments/new").status == 403
