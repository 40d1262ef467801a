"""リッチメニュー in a real browser, published for real to the LINE emulator: an author (作成者 of 子育て支援課)
creates a menu, uploads its image, DRAWS a button on it with the mouse and types another by keyboard, and
downloads the デザインデータ; an approver of 子育て支援課 publishes it and makes it the 既定 rule, and every
friend of the emulator then has it. A システム管理者 generates a menu from a template (the preview follows the
form) and gives it a period rule; the preview says who sees what and why. An approver of 防災危機管理課
publishes a disaster menu and switches 災害時モード on through the confirmation step (every friend gets it)
and off again (back to the default); the 操作ログ records it. An author cannot publish, not even with a forged
POST.

Screenshots: docs/manual/09-rich-menus.md."""

from __future__ import annotations

import io
import re
import time
import zipfile
from datetime import date, timedelta

import pytest
import requests
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

MENU_URL = re.compile(r"/richmenus/([0-9a-f-]{36})(\?.*)?(#.*)?$")


def png(width, height, left=(46, 125, 50), right=(11, 79, 138)):
    """A two-coloured image of the tab's size (well under LINE's 1 MB)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), left)
    ImageDraw.Draw(image).rectangle((width // 2, 0, width, height), fill=right)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def emulator(console, path, **params):
    answer = requests.get(f"{console.line_url}/_emulator{path}", params=params, timeout=10)
    answer.raise_for_status()
    return answer.json()


def wait_for_default(console, rich_menu_id, timeout=60.0):
    """Until LINE's default menu is ``rich_menu_id`` (the worker switches residents in the background)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if emulator(console, "/stats")["defaultRichMenu"] == rich_menu_id:
            return
        time.sleep(0.3)
    raise AssertionError(f"LINE's default menu is {emulator(console, '/stats')['defaultRichMenu']}, not {rich_menu_id}")


def every_friend_sees(console, rich_menu_id):
    friends = emulator(console, "/residents", friend="true", limit=1000)["residents"]
    assert friends and {f["richMenuId"] for f in friends} == {rich_menu_id}
    one = emulator(console, f"/residents/{friends[0]['userId']}")
    assert one["richMenuId"] == rich_menu_id


def create_menu(page, title, size, department=None):
    page.goto("/richmenus/new")
    page.get_by_label("メニューの名前（管理用）").fill(title)
    if department:
        page.get_by_label("課", exact=True).select_option(department)
    page.get_by_label("大きさ（幅×高さ、ピクセル）").select_option(size)
    page.get_by_role("button", name="作成して編集に進む").click()
    page.wait_for_url(re.compile(r"/richmenus/[0-9a-f-]{36}\?saved=1"))
    return MENU_URL.search(page.url).group(1)


def upload_image(page, width, height):
    page.locator("#t1_image").set_input_files({"name": "menu.png", "mimeType": "image/png",
                                                "buffer": png(width, height)})
    page.locator("button[name=op][value='upload:1']").click()
    page.wait_for_url(re.compile(r"\?saved=1"))
    expect(page.locator("#t1_canvas image")).to_have_count(1)


def type_button(page, x, y, width, height, kind, **fields):
    """A button by keyboard: the 新しいボタン fields, then its action."""
    for key, value in (("x", x), ("y", y), ("w", width), ("h", height)):
        page.locator(f"#t1_new_{key}").fill(str(value))
    page.locator("#t1_new_type").select_option(kind)
    for name, value in fields.items():
        page.locator(f"#t1_new_{name}").fill(value)


def publish(page):
    page.get_by_role("button", name="LINEに公開する").click()
    page.wait_for_url(re.compile(r"\?published=1"))
    expect(page.get_by_role("status").first).to_contain_text("LINEに公開しました")
    return page.locator("ul.line-ids code").first.inner_text()


def test_a_menu_is_drawn_published_made_the_default_and_every_friend_has_it(screens, console, admin):
    # The author creates the menu and uploads its image.
    author = screens.signed_in(console.accounts["author"])  # demo-author: 作成者 of 子育て支援課
    author.get_by_role("navigation", name="メニュー").get_by_role("link", name="リッチメニュー").click()
    assert author.get_by_role("heading", name="リッチメニュー", level=1).is_visible()
    screens.look(author)
    author.get_by_role("link", name="メニューを作成する").click()
    author.wait_for_url(re.compile(r"/richmenus/new$"))
    assert author.get_by_label("課", exact=True).locator("option").all_inner_texts() == ["子育て支援課"]
    author.get_by_label("メニューの名前（管理用）").fill("子育て応援メニュー")
    author.get_by_label("大きさ（幅×高さ、ピクセル）").select_option("2500x843")
    screens.look(author, "09-new")
    author.get_by_role("button", name="作成して編集に進む").click()
    author.wait_for_url(re.compile(r"/richmenus/[0-9a-f-]{36}\?saved=1"))
    menu_id = MENU_URL.search(author.url).group(1)
    expect(author.locator("#menu-problems")).to_contain_text("画像がありません")  # not ready to publish yet
    upload_image(author, 2500, 843)

    # A button DRAWN with the mouse on the image: the drag fills the 新しいボタン fields.
    canvas = author.locator("#t1_canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    author.mouse.move(box["x"] + box["width"] * 0.02, box["y"] + box["height"] * 0.05)
    author.mouse.down()
    author.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.5, steps=6)
    author.mouse.move(box["x"] + box["width"] * 0.48, box["y"] + box["height"] * 0.95, steps=6)
    author.mouse.up()
    drawn = {key: int(author.locator(f"#t1_new_{key}").input_value()) for key in ("x", "y", "w", "h")}
    assert 0 < drawn["x"] < 100 and 0 < drawn["y"] < 100, drawn
    assert 1100 < drawn["w"] < 1250 and 700 < drawn["h"] < 843, drawn
    expect(author.locator("#t1_new_type")).to_be_focused()  # next: what a tap does
    author.locator("#t1_new_type").select_option("uri")
    expect(author.locator("#t1_new_uri")).to_be_visible()
    expect(author.locator("#t1_new_text")).to_be_hidden()  # only the chosen type's fields show
    author.locator("#t1_new_uri").fill("https://www.city.itami.lg.jp/kosodate/")
    author.locator("#t1_new_label").fill("子育てのページ")
    screens.look(author, "09-editor-draw", full_page=True)
    author.locator("button[name=op][value='save:1']").click()
    author.wait_for_url(re.compile(r"\?saved=1"))
    assert int(author.locator("#t1_a1_x").input_value()) == drawn["x"]
    assert int(author.locator("#t1_a1_w").input_value()) == drawn["w"]

    # The other half by keyboard; then the menu is ready.
    type_button(author, 1250, 0, 1250, 843, "message", text="子育て広場の予定")
    author.locator("button[name=op][value='save:1']").click()
    author.wait_for_url(re.compile(r"\?saved=1"))
    expect(author.locator("#t1_canvas g.area")).to_have_count(2)
    expect(author.locator("#menu-problems")).to_have_count(0)
    screens.look(author, "09-editor", full_page=True)

    # デザインデータ一式: design.json and the tab's image.
    with author.expect_download() as downloading:
        author.get_by_role("link", name="デザインデータ一式をダウンロード").click()
    with zipfile.ZipFile(downloading.value.path()) as archive:
        assert {"design.json", "tab-1.png"} <= set(archive.namelist())

    # The author may not publish: no button, and a forged POST is refused.
    assert author.get_by_role("button", name="LINEに公開する").count() == 0
    token = author.locator("#menu-form input[name=csrf_token]").input_value()
    forged = author.context.request.post(f"{console.url}/richmenus/{menu_id}/publish",
                                         form={"csrf_token": token, "version": "1"})
    assert forged.status == 403, forged.status

    # The approver of 子育て支援課 publishes it and makes it the default.
    approver = screens.signed_in(console.accounts["suzuki"])  # 承認者 of 子育て支援課
    approver.goto(f"/richmenus/{menu_id}")
    rich_menu_id = publish(approver)
    assert rich_menu_id.startswith("richmenu-"), rich_menu_id
    screens.look(approver, "09-published")
    approver.get_by_role("link", name="表示ルール").first.click()
    approver.wait_for_url(re.compile(r"/richmenus/rules$"))
    approver.get_by_role("radio", name="既定").check()
    approver.get_by_label("表示するメニュー（公開済みのもの）").select_option(menu_id)
    approver.get_by_role("button", name="ルールを追加する").click()
    approver.wait_for_url(re.compile(r"/richmenus/rules\?done=saved$"))
    row = approver.locator("main table.rules tbody tr", has_text="子育て応援メニュー")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("既定")
    expect(approver.locator("dl.facts")).to_contain_text("子育て応援メニュー")  # the LINE default now

    wait_for_default(console, rich_menu_id)
    every_friend_sees(console, rich_menu_id)

    # A システム管理者 generates a menu from a template and gives it a period rule.
    period_menu = create_menu(admin, "年末年始のお知らせメニュー", "2500x1686", "kouhou")
    admin.get_by_role("link", name=re.compile(r"テンプレートから作成\s*（タブ 1）")).click()
    admin.wait_for_url(re.compile(rf"/richmenus/{period_menu}/template\?tab=1$"))
    admin.get_by_role("radio", name=re.compile("ボタン4個")).check()
    expect(admin.locator("fieldset.button-design[data-button='5']")).to_be_hidden()
    before = admin.locator("#template-preview").get_attribute("src")
    labels = ["ごみ収集", "休日診療", "窓口の休み", "お問い合わせ"]
    for number, label in enumerate(labels, start=1):
        admin.locator(f"#b{number}_label").fill(label)
        admin.locator(f"#b{number}a_type").select_option("uri" if number < 4 else "message")
        if number < 4:
            admin.locator(f"#b{number}a_uri").fill(f"https://www.city.itami.lg.jp/nenmatsu/{number}")
        else:
            admin.locator(f"#b{number}a_text").fill("問い合わせ先")
    admin.locator("#b1_icon").select_option(index=1)
    expect(admin.locator("#template-preview")).not_to_have_attribute("src", before)  # redrawn as typed
    expect(admin.locator("#template-preview")).to_have_attribute("src", re.compile("b4_label="))
    admin.wait_for_function("() => { const i = document.getElementById('template-preview');"
                            " return i.complete && i.naturalWidth === 2500; }")
    screens.look(admin, "09-template", full_page=True)
    admin.get_by_role("button", name="このデザインで保存").click()
    admin.wait_for_url(re.compile(r"\?designed=1"))
    expect(admin.locator("#t1_canvas g.area")).to_have_count(4)
    publish(admin)

    start = date.today() + timedelta(days=30)
    admin.goto("/richmenus/rules")
    admin.get_by_role("radio", name="期間限定").check()
    admin.get_by_label("表示するメニュー（公開済みのもの）").select_option(period_menu)
    admin.get_by_label("開始日").fill(start.isoformat())
    admin.get_by_label("開始時刻（例 9:00）").fill("9:00")
    admin.get_by_label("終了日").fill((start + timedelta(days=6)).isoformat())
    admin.get_by_label("終了時刻（例 0:00）").fill("0:00")
    admin.get_by_role("button", name="ルールを追加する").click()
    admin.wait_for_url(re.compile(r"\?done=saved$"))
    period = admin.locator("main table.rules tbody tr", has_text="年末年始のお知らせメニュー")
    expect(period).to_contain_text(f"{start.isoformat()} 09:00 〜 {(start + timedelta(days=6)).isoformat()} 00:00")
    expect(period).to_contain_text("いいえ")  # not in force yet
    expect(admin.locator("dl.facts")).to_contain_text(f"{start.isoformat()} 09:00")  # the next change
    screens.look(admin, "09-rules", full_page=True)

    # プレビュー: during the period its menu, now the default, each with the reason.
    admin.get_by_role("link", name="プレビュー").first.click()
    admin.get_by_label("日付").fill((start + timedelta(days=1)).isoformat())
    admin.get_by_label("時刻（例 9:00）").fill("12:00")
    admin.get_by_role("button", name="表示されるメニューを確かめる").click()
    result = admin.locator("#preview-result")
    expect(result).to_contain_text("年末年始のお知らせメニュー")
    screens.look(admin, "09-preview", full_page=True)
    admin.get_by_label("日付").fill("")
    admin.get_by_role("button", name="表示されるメニューを確かめる").click()
    expect(admin.locator("#preview-result")).to_contain_text("子育て応援メニュー")

    # 災害時モード: an approver of 防災危機管理課 publishes the disaster menu and switches it on, confirming it.
    disaster_menu = create_menu(admin, "災害時メニュー", "2500x843", "bousai")
    upload_image(admin, 2500, 843)
    type_button(admin, 0, 0, 2500, 843, "uri", uri="https://www.city.itami.lg.jp/bousai/")
    admin.locator("button[name=op][value='save:1']").click()
    admin.wait_for_url(re.compile(r"\?saved=1"))
    bousai = screens.signed_in(console.accounts["approver"])  # demo-approver: 承認者 of 防災危機管理課
    bousai.goto(f"/richmenus/{disaster_menu}")
    disaster_id = publish(bousai)
    bousai.goto("/richmenus/disaster")
    bousai.get_by_label("災害時に表示するメニュー（公開済みのもの）").select_option(disaster_menu)
    bousai.get_by_role("button", name="災害時モードにする…").click()
    expect(bousai.get_by_role("heading", name="災害時モードを開始しますか")).to_be_visible()
    expect(bousai.locator("main")).to_contain_text("「災害時メニュー」に切り替わります")
    screens.look(bousai, "09-disaster-confirm")
    assert emulator(console, "/stats")["defaultRichMenu"] == rich_menu_id  # nothing changed before confirming
    bousai.get_by_role("button", name="災害時モードを開始する").click()
    bousai.wait_for_url(re.compile(r"/richmenus/disaster\?done=on$"))
    wait_for_default(console, disaster_id)
    every_friend_sees(console, disaster_id)
    bousai.reload()
    expect(bousai.locator("dl.facts")).to_contain_text("災害時モード中")
    expect(bousai.locator("#change-status")).to_have_text("完了", timeout=30_000)  # reloaded by richmenu-changes.js
    screens.look(bousai, "09-disaster", full_page=True)

    admin.goto("/richmenus")
    expect(admin.locator("section.disaster-state")).to_contain_text("災害時モード中です")
    screens.look(admin, "09-list", full_page=True)

    # …and off again: back to the default menu.
    bousai.get_by_role("button", name="通常のメニューに戻す…").click()
    expect(bousai.get_by_role("heading", name="通常のメニューに戻しますか")).to_be_visible()
    screens.look(bousai)
    bousai.get_by_role("button", name="通常のメニューに戻す", exact=True).click()
    bousai.wait_for_url(re.compile(r"/richmenus/disaster\?done=off$"))
    wait_for_default(console, rich_menu_id)
    every_friend_sees(console, rich_menu_id)
    expect(bousai.locator("dl.facts")).to_contain_text("オフ")

    # The 操作ログ records both switches, by whom.
    admin.goto("/audit?action=richmenu.disaster_on")
    expect(admin.locator("main table tbody tr", has_text="demo-approver")).to_have_count(1)
    admin.goto("/audit?action=richmenu.publish")
    expect(admin.locator("main table tbody tr", has_text="suzuki.ichiro")).to_have_count(1)
    for page in (author, approver, bousai):
        page.get_by_role("button", name="サインアウト").click()
        page.wait_for_url(re.compile(r"/signin"))


def test_a_viewer_reads_the_menus_but_changes_nothing(screens, console):
    viewer = screens.signed_in(console.accounts["viewer"])  # demo-viewer: 閲覧者 of 広報課
    viewer.goto("/richmenus")
    assert viewer.get_by_role("link", name="メニューを作成する").count() == 0
    assert viewer.locator("section.disaster-state button").count() == 0
    viewer.goto("/richmenus/rules")
    assert viewer.get_by_role("button", name="ルールを追加する").count() == 0
    screens.look(viewer)
    token = viewer.locator("header form input[name=csrf_token]").first.input_value()
    forged = viewer.context.request.post(f"{console.url}/richmenus/disaster",
                                         form={"csrf_token": token, "on": "1", "confirm": "災害時モード"})
    assert forged.status == 403, forged.status
