"""受信設定の項目, 友だち分析 and あいさつメッセージ in a real browser, against segment-service started
for real: friends with answers are registered through segment-service's own bus; a システム管理者
renames, adds and merges items, sees beforehand how many residents' answers move, publishes, and finds
the version in the history and the 操作ログ; every staff member reads 友だち分析 for the city and for
one district; the greetings are changed; a 閲覧者 reads a segment in words and cannot edit.

Screenshots: docs/manual/06-preference-items.md, 07-friend-analysis.md."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

DISTRICTS = ("minami", "inano", "kozu", "itami", "arioka")
CATEGORIES = ("kosodate", "kenkou", "event", "gomi", "kankyo", "shisei")


@pytest.fixture(scope="module")
def friends(console):
    """60 friends with answers (10 never answered, 5 blocked), through segment-service's bus; answers how
    many friends there are then (with the LINE emulator's friends the console registered, who never answered)."""
    from cityline_common.settings import load_settings
    from segment_service.bootstrap import bootstrap
    from segment_service.config import Settings
    from segment_service.domain.commands import ChangePreferencesOfLineUser, FollowResident, UnfollowResident
    from segment_service.domain.preferences import Answers, ChangeSource, ChildBirth

    chance = random.Random(11)
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in console.env.items():
            patch.setenv(key, value)
        service = bootstrap(load_settings(Settings))
    try:
        for n in range(60):
            line_user_id = "U" + f"{0xA0000 + n:032x}"
            service.bus.handle(FollowResident(line_user_id, now_ms - chance.randrange(40) * 86_400_000))
            if n >= 10:
                children = (ChildBirth(2021, 5),) if n % 3 == 0 else ()
                service.bus.handle(ChangePreferencesOfLineUser(line_user_id, Answers(
                    frozenset(chance.sample(CATEGORIES, chance.randint(1, 3))), DISTRICTS[n % len(DISTRICTS)],
                    chance.choice(("30s", "40s", "60s")), chance.choice(("ja", "ja", "en")), children),
                    ChangeSource.LIFF))
            if n >= 55:
                service.bus.handle(UnfollowResident(line_user_id, now_ms))
    finally:
        service.engine.dispose()
    return 55 + console.line_friends


def test_an_administrator_changes_the_items_seeing_first_how_many_answers_move(screens, admin, friends):
    admin.goto("/")
    admin.get_by_role("navigation", name="メニュー").get_by_role("link", name="受信設定の項目").click()
    assert admin.get_by_role("heading", name="受信設定の項目", level=1).is_visible()
    version = int(re.search(r"第(\d+)版", admin.locator("main p", has_text="現在の版").inner_text()).group(1))
    kankyo = admin.locator("#items-categories + table tr", has_text="環境・まちづくり").locator("td").nth(1)
    moved = int(kankyo.inner_text().removesuffix("人").replace(",", ""))
    assert moved > 0
    screens.look(admin, "06-items", full_page=True)

    admin.get_by_role("link", name="項目を変更する").click()
    admin.get_by_label("shisei の表示名").fill("市政・市からのお知らせ")
    admin.get_by_label("環境・まちづくり をどうするか").select_option("merge")
    admin.get_by_label("環境・まちづくり の統合先").select_option(label="ごみ・リサイクル")
    admin.get_by_label("追加する項目のキー（受け取る情報）").fill("douro")
    admin.get_by_label("追加する項目の表示名（受け取る情報）").fill("道路・交通")
    admin.get_by_role("button", name="変更内容を確認する").click()
    preview = admin.locator("section.preview")
    moving = re.search(r"「環境・まちづくり」を選んでいた (\d+) 人（ブロック中の人を含む）の回答を"
                       r"「ごみ・リサイクル」に移します", preview.inner_text())
    assert moving and int(moving.group(1)) >= moved  # blocked residents' answers move too
    expect(preview).to_contain_text("「道路・交通」を追加")
    screens.look(admin, "06-items-preview", full_page=True)

    # Changed after the preview: publishing asks to look again instead of publishing what was not seen.
    admin.get_by_label("追加する項目の表示名（受け取る情報）").fill("道路・交通・公園")
    admin.get_by_role("button", name="この内容で公開する").click()
    expect(admin.get_by_role("alert")).to_contain_text("確認した後に内容が変わりました")
    expect(preview).to_contain_text("「道路・交通・公園」を追加")
    admin.get_by_role("button", name="この内容で公開する").click()
    admin.wait_for_url(re.compile(r"/preferences/items\?published=\d+$"))
    expect(admin.get_by_role("status")).to_contain_text(f"第{version + 1}版")
    newest = admin.locator("#versions + table tbody tr").first
    expect(newest).to_contain_text("「環境・まちづくり」を「ごみ・リサイクル」に統合")
    expect(newest).to_contain_text("「市政・お知らせ」を「市政・市からのお知らせ」に名前変更")
    assert admin.locator("#items-categories + table", has_text="環境・まちづくり").count() == 0
    screens.look(admin, "06-items-history", full_page=True)

    admin.goto("/audit?action=taxonomy.publish")
    assert admin.locator("main table tbody tr").count() == 1


def test_staff_read_friend_analysis_for_the_city_and_a_district(screens, console, friends):
    page = screens.signed_in(console.accounts["viewer"])
    page.get_by_role("navigation", name="メニュー").get_by_role("link", name="友だち分析").click()
    figures = page.locator("ul.figures li")
    expect(figures.first).to_contain_text(f"{friends:,}")  # blocked friends are not counted
    total = page.locator("#by-district ~ div table tbody tr", has_text="合計")
    assert total.locator("td").nth(0).inner_text() == f"{friends:,}"
    screens.look(page, "07-friends", full_page=True)
    page.get_by_label("地区", exact=True).select_option(label="南小学校区")
    page.get_by_role("button", name="表示する").click()
    expect(page.locator("#items ~ p").first).to_contain_text("南小学校区")
    screens.look(page, "07-friends-district", full_page=True)
    assert page.goto("/analytics/friends?district=nowhere").status == 404
    assert page.goto("/preferences/items/edit").status == 403  # only システム管理者 changes the items
    assert page.goto("/settings/greetings").status == 403


def test_an_administrator_changes_the_greeting(screens, admin):
    admin.goto("/")
    admin.get_by_role("navigation", name="メニュー").get_by_role("link", name="あいさつメッセージ").click()
    box = admin.get_by_label("文面（1000文字まで）").first
    box.fill("伊丹市公式LINEへようこそ。\n下の「受信設定をする」から、受け取りたい情報を選んでください。")
    admin.get_by_role("button", name="保存する").first.click()
    admin.wait_for_url(re.compile(r"/settings/greetings\?saved=greeting$"))
    expect(admin.get_by_role("status")).to_contain_text("保存しました")
    assert "伊丹市公式LINEへようこそ" in admin.get_by_label("文面（1000文字まで）").first.input_value()
    screens.look(admin, "06-greetings", full_page=True)
    admin.goto("/audit?action=account_text.update")
    assert admin.locator("main table tbody tr").count() == 1


def test_a_viewer_reads_a_segment_in_words(screens, console, admin):
    admin.goto("/segments/new")
    admin.get_by_label("名前").fill("広報: 英語で受け取る人")
    admin.get_by_label("課", exact=True).select_option(label="広報課")
    admin.get_by_role("checkbox", name="English", exact=True).check()
    admin.get_by_role("button", name="保存する").click()
    admin.wait_for_url(re.compile(r"/segments\?saved=1$"))

    viewer = screens.signed_in(console.accounts["ito"])  # 閲覧者 of 広報課
    viewer.goto("/segments")
    viewer.get_by_role("link", name="広報: 英語で受け取る人").click()
    viewer.wait_for_url(re.compile(r"/segments/[0-9a-f-]+/view$"))
    expect(viewer.locator("dl.facts")).to_contain_text("言語: Englishの人")
    assert viewer.get_by_role("link", name="このセグメントを編集する").count() == 0
    screens.look(viewer, "05-segment-view")
    assert viewer.goto(viewer.url.removesuffix("/view")).status == 403
