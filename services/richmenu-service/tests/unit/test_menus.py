"""A department builds a tabbed menu: every LINE rule at its boundary, all problems at once in words staff
understand, and LINE's RichMenuRequest JSON checked against LINE's own OpenAPI schema."""

from dataclasses import replace
from functools import cache

import jsonschema
import pytest
import yaml
from richmenu_service.domain.menus import (
    COMPACT,
    LARGE,
    STANDARD_SIZES,
    Area,
    Bounds,
    DatetimePickerAction,
    InvalidMenu,
    MenuSet,
    MessageAction,
    PickerMode,
    PostbackAction,
    Size,
    SwitchAction,
    Tab,
    UriAction,
    action_json,
    overlapping_buttons,
    rich_menu_request,
    validate_menu_set,
    validate_tab,
)

from testsupport.openapi import line_openapi_dir


def button(x, y, action=None, width=833, height=843):
    return Area(Bounds(x, y, width, height), action or MessageAction("ごみの出し方"))


def tab(alias="kurashi", areas=None, **changes):
    areas = areas if areas is not None else (button(0, 0), button(833, 0), button(1666, 0, width=834))
    return replace(Tab(alias, "くらしタブ", "メニュー", LARGE, tuple(areas)), **changes)


def texts(problems):
    return [p.text for p in problems]


# -- the Itami story ----------------------------------------------------------------------------------------

def itami_set():
    kurashi = tab("kurashi", (
        button(0, 0, SwitchAction("kosodate", "tab=kosodate"), width=1250, height=300),
        button(1250, 0, SwitchAction("kurashi", "tab=kurashi"), width=1250, height=300),
        button(0, 300, UriAction("https://www.city.itami.lg.jp/"), width=1250, height=1386),
        button(1250, 300, PostbackAction("action=settings", display_text="受信設定"), width=1250, height=1386),
    ))
    kosodate = tab("kosodate", (
        button(0, 0, SwitchAction("kosodate", "tab=kosodate"), width=1250, height=300),
        button(1250, 0, SwitchAction("kurashi", "tab=kurashi"), width=1250, height=300),
        button(0, 300, DatetimePickerAction("action=kenshin", PickerMode.DATE, "2026-12-01", "2027-03-31",
                                            "2026-11-26"), width=2500, height=1386),
    ), name="子育てタブ")
    return MenuSet("itami-main", "伊丹市メニュー", (kurashi, kosodate))


def test_a_two_tab_menu_joined_by_switches_is_valid():
    assert validate_menu_set(itami_set()) == []


def test_every_problem_is_reported_at_once_naming_tab_and_button():
    menu = itami_set()
    broken = replace(menu.tabs[1], chat_bar_text="子育て応援メニューはこちらです", areas=(
        *menu.tabs[1].areas[:2], button(0, 300, MessageAction(""), width=2600, height=1386)))
    problems = texts(validate_menu_set(replace(menu, tabs=(menu.tabs[0], broken))))
    assert problems == [
        "2つ目のタブ: メニューバーの文字は14文字以内にしてください（現在15文字）。",
        "2つ目のタブの3番目のボタン: 画像からはみ出しています（右端 2600 > 幅 2500）。",
        "2つ目のタブの3番目のボタン: 送るメッセージを入力してください。",
    ]


def test_a_single_tab_names_only_the_button():
    assert texts(validate_tab(tab(areas=[button(0, 1000)]))) == [
        "1番目のボタン: 画像からはみ出しています（下端 1843 > 高さ 1686）。"]


def test_a_switch_must_name_a_tab_of_the_same_set():
    menu = itami_set()
    stray = replace(menu.tabs[0], areas=(button(0, 0, SwitchAction("bousai", "tab=bousai")),))
    assert texts(validate_menu_set(replace(menu, tabs=(stray, menu.tabs[1])))) == [
        "1つ目のタブの1番目のボタン: 切り替え先のタブ「bousai」がこのメニューにありません。"]


def test_two_tabs_with_one_alias():
    menu = itami_set()
    twin = replace(menu.tabs[1], alias_id="kurashi")
    problems = texts(validate_menu_set(replace(menu, tabs=(menu.tabs[0], twin))))
    assert "2つ目のタブ: タブのID「kurashi」は1つ目のタブと同じです。別のIDにしてください。" in problems
    assert any("切り替え先のタブ「kosodate」" in text for text in problems)


def test_a_set_needs_a_title_and_a_tab():
    assert texts(validate_menu_set(MenuSet("x", " ", ()))) == [
        "メニューの名前を入力してください。", "タブを1つ以上作ってください。"]


# -- sizes -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("size", STANDARD_SIZES)
def test_lines_classic_sizes_are_accepted(size):
    assert validate_tab(tab(size=size, areas=[button(0, 0, width=size.width, height=size.height)])) == []


@pytest.mark.parametrize(("size", "ok"), [
    (Size(800, 250), True), (Size(799, 250), False), (Size(2500, 250), True), (Size(2501, 843), False),
    (Size(1000, 249), False),
    (Size(1450, 1000), True), (Size(1449, 1000), False),  # width / height ≥ 1.45, exactly
    (Size(2500, 1724), True), (Size(2500, 1725), False),
])
def test_size_boundaries(size, ok):
    problems = validate_tab(tab(size=size, areas=[button(0, 0, width=100, height=100)]))
    assert (problems == []) is ok, problems


def test_a_too_tall_image_is_explained():
    assert texts(validate_tab(tab(size=Size(1000, 1000), areas=[button(0, 0, width=10, height=10)]))) == [
        "このタブ: 画像が縦長すぎます。高さは幅の1/1.45以下にしてください（1000×1000）。"
        "よく使う大きさ: 2500×1686、2500×843"]


# -- areas -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("bounds", "expected"), [
    (Bounds(0, 0, 2500, 1686), []),
    (Bounds(1, 0, 2500, 1686), ["画像からはみ出しています（右端 2501 > 幅 2500）。"]),
    (Bounds(0, 1, 2500, 1686), ["画像からはみ出しています（下端 1687 > 高さ 1686）。"]),
    (Bounds(-1, 0, 10, 10), ["位置がマイナスになっています（左 -1、上 0）。"]),
    (Bounds(0, -5, 10, 10), ["位置がマイナスになっています（左 0、上 -5）。"]),
    (Bounds(0, 0, 0, 10), ["幅と高さは1ピクセル以上にしてください（幅 0、高さ 10）。"]),
    (Bounds(0, 0, 10, 0), ["幅と高さは1ピクセル以上にしてください（幅 10、高さ 0）。"]),
    (Bounds(2499, 1685, 1, 1), []),
])
def test_bounds(bounds, expected):
    problems = texts(validate_tab(tab(areas=[Area(bounds, MessageAction("a"))])))
    assert problems == [f"1番目のボタン: {e}" for e in expected]


def test_one_to_twenty_buttons():
    twenty = [button(i * 125, 0, width=125, height=100) for i in range(20)]
    assert validate_tab(tab(areas=twenty)) == []
    assert texts(validate_tab(tab(areas=[*twenty, button(0, 200)]))) == ["このタブ: ボタンは20個までです（現在21個）。"]
    assert texts(validate_tab(tab(areas=[]))) == ["このタブ: ボタンを1つ以上置いてください。"]


def test_overlapping_buttons_are_allowed_but_pointed_out():
    areas = [button(0, 0), button(800, 0), button(1666, 843)]
    assert validate_tab(tab(areas=areas)) == []
    assert overlapping_buttons(tab(areas=areas)) == [(1, 2)]
    assert overlapping_buttons(tab()) == []  # touching edges are not overlapping


# -- texts and aliases -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("field", "limit", "what"), [
    ("name", 300, "管理用の名前"), ("chat_bar_text", 14, "メニューバーの文字")])
def test_tab_text_limits(field, limit, what):
    assert validate_tab(tab(**{field: "あ" * limit})) == []
    assert texts(validate_tab(tab(**{field: "あ" * (limit + 1)}))) == [
        f"このタブ: {what}は{limit}文字以内にしてください（現在{limit + 1}文字）。"]
    assert texts(validate_tab(tab(**{field: ""}))) == [f"このタブ: {what}を入力してください。"]


@pytest.mark.parametrize(("alias", "ok"), [
    ("a", True), ("a" * 32, True), ("a" * 33, False), ("", False), ("tab_1-x", True), ("Tab", False),
    ("子育て", False), ("tab 1", False), ("tab.1", False)])
def test_alias_format(alias, ok):
    assert (validate_tab(tab(alias)) == []) is ok
    switch = tab(areas=[button(0, 0, SwitchAction(alias, "d"))])
    assert (validate_tab(switch) == []) is ok


# -- actions ---------------------------------------------------------------------------------------------------

def action_problems(action):
    return [t.removeprefix("1番目のボタン: ") for t in texts(validate_tab(tab(areas=[button(0, 0, action)])))]


@pytest.mark.parametrize(("action", "expected"), [
    (UriAction("https://example.jp/" + "a" * 981), []),
    (UriAction("https://example.jp/" + "a" * 982), ["リンク先は1000文字以内にしてください（現在1001文字）。"]),
    (UriAction("http://example.jp"), []),
    (UriAction("tel:0727831234"), []),
    (UriAction("line://nv/location"), []),
    (UriAction("ftp://example.jp"), ["リンク先は https:// ・ http:// ・ tel: ・ line:// のいずれかで始めてください。"]),
    (UriAction(""), ["リンク先を入力してください。"]),
    (MessageAction("あ" * 300), []),
    (MessageAction("あ" * 301), ["送るメッセージは300文字以内にしてください（現在301文字）。"]),
    (PostbackAction("d" * 300, display_text="あ" * 300), []),
    (PostbackAction("d" * 301), ["送る合図（データ）は300文字以内にしてください（現在301文字）。"]),
    (PostbackAction(""), ["送る合図（データ）を入力してください。"]),
    (PostbackAction("d", display_text="あ" * 301),
     ["トークに表示する文字は300文字以内にしてください（現在301文字）。"]),
    (PostbackAction("d", input_option="openKeyboard"), []),
    (PostbackAction("d", input_option="shake"), ["タップ後の動き「shake」は使えません。"]),
    (SwitchAction("kurashi", "d" * 301), ["送る合図（データ）は300文字以内にしてください（現在301文字）。"]),
    (MessageAction("a", label="あ" * 20), []),
    (MessageAction("a", label="あ" * 21), ["読み上げ用のラベルは20文字以内にしてください（現在21文字）。"]),
])
def test_action_limits(action, expected):
    assert action_problems(action) == expected


def shape(word, value, example):
    return f"{word}「{value}」の形が正しくありません（例: {example}、1900年〜2100年）。"


@pytest.mark.parametrize(("mode", "initial", "high", "low", "expected"), [
    ("date", "2026-12-01", "2100-12-31", "1900-01-01", []),
    ("date", "2026-12-1", None, None, [shape("最初に表示する値", "2026-12-1", "2026-12-01")]),
    ("date", "2026-02-30", None, None, [shape("最初に表示する値", "2026-02-30", "2026-12-01")]),
    ("date", None, "2101-01-01", None, [shape("選べる最後", "2101-01-01", "2026-12-01")]),
    ("date", None, None, "1899-12-31", [shape("選べる最初", "1899-12-31", "2026-12-01")]),
    ("time", "09:30", "23:59", "00:00", []),
    ("time", "9:30", None, None, [shape("最初に表示する値", "9:30", "09:30")]),
    ("time", "24:00", None, None, [shape("最初に表示する値", "24:00", "09:30")]),
    ("datetime", "2026-12-01T09:30", None, None, []),
    ("datetime", "2026-12-01t09:30", None, None, []),
    ("datetime", "2026-12-01 09:30", None, None,
     [shape("最初に表示する値", "2026-12-01 09:30", "2026-12-01T09:30")]),
    ("date", None, "2026-12-01", "2026-12-01",
     ["選べる最後（2026-12-01）は選べる最初（2026-12-01）より後にしてください。"]),
    ("date", "2026-11-30", "2026-12-31", "2026-12-01",
     ["最初に表示する値（2026-11-30）は選べる範囲の中にしてください。"]),
    ("date", "2026-12-31", "2026-12-31", "2026-12-01", []),
    ("week", None, None, None, ["日時の種類は date・time・datetime のいずれかにしてください。"]),
])
def test_datetime_picker(mode, initial, high, low, expected):
    assert action_problems(DatetimePickerAction("d", mode, initial, high, low)) == expected


# -- LINE's JSON -----------------------------------------------------------------------------------------------

@cache
def rich_menu_request_schema():
    document = yaml.safe_load((line_openapi_dir() / "messaging-api.yml").read_text(encoding="utf-8"))
    schema = dict(document["components"]["schemas"]["RichMenuRequest"])
    schema["components"] = document["components"]  # so "#/components/schemas/..." resolves inside
    return schema


def assert_matches_line_schema(body):
    schema = rich_menu_request_schema()
    jsonschema.validate(body, schema, format_checker=jsonschema.FormatChecker())
    # The Action schema is polymorphic by a discriminator jsonschema does not follow: check each action
    # against its own component too.
    for area in body["areas"]:
        target = schema["components"]["schemas"]["Action"]["discriminator"]["mapping"][area["action"]["type"]]
        jsonschema.validate(area["action"], {"$ref": target, "components": schema["components"]},
                            format_checker=jsonschema.FormatChecker())


def test_the_request_matches_lines_openapi_schema():
    for each in itami_set().tabs:
        body = rich_menu_request(each)
        assert_matches_line_schema(body)
    body = rich_menu_request(itami_set().tabs[0])
    assert body["size"] == {"width": 2500, "height": 1686}
    assert body["chatBarText"] == "メニュー" and body["selected"] is False and body["name"] == "くらしタブ"
    assert body["areas"][0] == {"bounds": {"x": 0, "y": 0, "width": 1250, "height": 300},
                                "action": {"type": "richmenuswitch", "richMenuAliasId": "kosodate",
                                           "data": "tab=kosodate"}}


def test_every_action_kind_in_lines_words():
    assert action_json(PostbackAction("a=1", display_text="受信設定", input_option="openKeyboard", label="設定")) == {
        "type": "postback", "data": "a=1", "displayText": "受信設定", "inputOption": "openKeyboard", "label": "設定"}
    assert action_json(DatetimePickerAction("k", PickerMode.TIME, initial="09:00")) == {
        "type": "datetimepicker", "data": "k", "mode": "time", "initial": "09:00"}
    assert action_json(UriAction("tel:0727831234")) == {"type": "uri", "uri": "tel:0727831234"}
    assert action_json(MessageAction("防災")) == {"type": "message", "text": "防災"}
    every = tab(size=COMPACT, areas=[
        button(0, 0, PostbackAction("a=1", display_text="受信設定", input_option="openKeyboard", label="設定")),
        button(833, 0, DatetimePickerAction("k", PickerMode.DATETIME, "2026-12-01T09:00", "2026-12-31T23:59",
                                            "2026-12-01T00:00", label="日時")),
        button(1666, 0, UriAction("tel:0727831234")), button(0, 0, MessageAction("防災"), width=10, height=10),
        button(10, 0, SwitchAction("kurashi", "x"), width=10, height=10)])
    assert_matches_line_schema(rich_menu_request(every))


def test_an_invalid_tab_never_becomes_a_request():
    with pytest.raises(InvalidMenu) as caught:
        rich_menu_request(tab(chat_bar_text=""))
    assert texts(caught.value.problems) == ["このタブ: メニューバーの文字を入力してください。"]


def test_the_schema_check_is_live():
    body = rich_menu_request(tab())
    with pytest.raises(jsonschema.ValidationError):
        assert_matches_line_schema({**body, "chatBarText": "あ" * 15})
    with pytest.raises(jsonschema.ValidationError):
        assert_matches_line_schema({**body, "areas": [{**body["areas"][0], "bounds": {"x": -1, "y": 0, "width": 1,
                                                                                      "height": 1}}]})
