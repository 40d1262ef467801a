"""配信内容 against LINE's rules, one message type at a time, with the limits' boundaries: the last length
that passes and the first that fails. Every problem names the message and the field in Japanese."""

import pytest
from dispatcher.domain.messages import preview_text, utf16_length, validate_messages


def texts(messages):
    return [problem.text for problem in validate_messages(messages)]


def one(message):
    return texts([message])


def msg_action(label="詳しく", text="詳しく"):
    return {"type": "message", "label": label, "text": text}


def uri_action(uri="https://www.city.itami.lg.jp/", label="サイト"):
    return {"type": "uri", "label": label, "uri": uri}


def postback_action(data="answer=yes", label="はい"):
    return {"type": "postback", "label": label, "data": data}


# -- the list --------------------------------------------------------------------------------------------

def test_one_to_five_messages():
    hello = {"type": "text", "text": "こんにちは"}
    assert texts([hello] * 5) == []
    assert texts([]) == ["メッセージを1件以上入力してください。"]
    assert texts([hello] * 6) == ["メッセージは5件までです（現在6件）。"]
    assert texts("hello") == ["メッセージの形式が正しくありません。"]


def test_an_unknown_type_is_named():
    assert one({"type": "video"}) == ["1件目: 対応していない種類のメッセージです（video）。"]


def test_an_unknown_template_is_named():
    assert one({"type": "template", "altText": "a", "template": {"type": "image_carousel"}}) == [
        "1件目（テンプレート）: 種類は buttons・confirm・carousel のいずれかにしてください。"]


def test_problems_are_all_reported_not_just_the_first():
    problems = validate_messages([{"type": "text", "text": ""}, {"type": "sticker"}])
    assert [(p.number, p.field) for p in problems] == [(1, "text"), (2, "packageId"), (2, "stickerId")]


# -- text ------------------------------------------------------------------------------------------------

def test_text_up_to_5000_characters():
    assert one({"type": "text", "text": "あ" * 5000}) == []
    assert texts([{"type": "text", "text": "ok"}, {"type": "text", "text": "あ" * 5001}]) == [
        "2件目（テキスト）: 5000文字以内で入力してください（現在5001文字）。"]
    assert one({"type": "text", "text": ""}) == ["1件目（テキスト）: 入力してください。"]


def test_text_length_counts_utf16_units_like_line():
    assert utf16_length("🍎") == 2
    assert one({"type": "text", "text": "🍎" * 2500}) == []
    assert one({"type": "text", "text": "🍎" * 2500 + "a"}) != []


def test_line_emoji_must_point_at_a_dollar_placeholder():
    emoji = {"productId": "5ac1bfd5040ab15980c9b435", "emojiId": "001"}
    assert one({"type": "text", "text": "$ 防災の日", "emojis": [{"index": 0, **emoji}]}) == []
    assert one({"type": "text", "text": "🍎$", "emojis": [{"index": 2, **emoji}]}) == []  # 🍎 takes two units
    assert one({"type": "text", "text": "a$", "emojis": [{"index": 0, **emoji}]}) == [
        "1件目（テキスト）: 1個目の絵文字は本文中の $ の位置を指していません。"]
    assert one({"type": "text", "text": "$", "emojis": [{"index": 5, **emoji}]}) != []
    assert one({"type": "text", "text": "$", "emojis": [{"index": 0}]}) == [
        "1件目（テキスト）: 1個目の絵文字はproductId と emojiId を指定してください。"]


def test_at_most_20_line_emoji():
    emoji = {"productId": "p", "emojiId": "001"}
    ok = {"type": "text", "text": "$" * 21, "emojis": [{"index": i, **emoji} for i in range(20)]}
    assert one(ok) == []
    too_many = {**ok, "emojis": [{"index": i, **emoji} for i in range(21)]}
    assert one(too_many) == ["1件目（テキスト）: 絵文字は20個までです（現在21個）。"]


# -- image and sticker -----------------------------------------------------------------------------------

def test_an_image_is_an_uploaded_asset_or_two_https_urls():
    assert one({"type": "image", "assetId": "a1b2"}) == []
    url = "https://cdn.example.jp/" + "a" * (2000 - len("https://cdn.example.jp/"))
    assert one({"type": "image", "originalContentUrl": url, "previewImageUrl": url}) == []
    assert one({"type": "image", "originalContentUrl": url + "a", "previewImageUrl": "http://x.jp/p.png"}) == [
        "1件目（画像）: 画像のURLは2000文字以内で入力してください（現在2001文字）。",
        "1件目（画像）: プレビュー画像のURLはhttps:// で始まるURLを指定してください。",
    ]
    assert one({"type": "image", "assetId": "a1", "previewImageUrl": url}) == [
        "1件目（画像）: 画像はアップロード画像とURLのどちらか一方だけを指定してください。"]


def test_a_sticker_names_its_package_and_sticker():
    assert one({"type": "sticker", "packageId": "446", "stickerId": "1988"}) == []
    assert one({"type": "sticker", "packageId": 446, "stickerId": "1988"}) == [
        "1件目（スタンプ）: packageIdは必須です（文字列で指定してください）。"]


# -- imagemap --------------------------------------------------------------------------------------------

def imagemap(**overrides):
    message = {
        "type": "imagemap", "baseUrl": "https://cdn.example.jp/map", "altText": "地図",
        "baseSize": {"width": 1040, "height": 1040},
        "actions": [{"type": "uri", "linkUri": "https://www.city.itami.lg.jp/",
                     "area": {"x": 0, "y": 0, "width": 1040, "height": 1040}}],
    }
    message.update(overrides)
    return message


def test_a_valid_imagemap_and_one_on_an_uploaded_asset():
    assert one(imagemap()) == []
    without_url = imagemap(assetId="m1")
    del without_url["baseUrl"]
    assert one(without_url) == []


def test_imagemap_areas_stay_inside_the_image():
    outside = {"type": "message", "text": "はい", "area": {"x": 1000, "y": 0, "width": 41, "height": 10}}
    assert one(imagemap(actions=[outside])) == [
        "1件目（イメージマップ）: 1個目のアクションの範囲は画像の内側に収めてください。"]
    low = {"type": "message", "text": "はい", "area": {"x": 0, "y": 1000, "width": 10, "height": 41}}
    assert one(imagemap(actions=[low])) != []


def test_imagemap_width_alt_text_and_action_count():
    area = {"x": 0, "y": 0, "width": 10, "height": 10}
    actions = [{"type": "message", "text": "x", "area": area}] * 50
    assert one(imagemap(actions=actions, altText="あ" * 1500)) == []
    small = {"width": 1000, "height": 5}
    assert one(imagemap(actions=[*actions, actions[0]], altText="あ" * 1501, baseSize=small)) == [
        "1件目（イメージマップ）: 画像の幅は1040にしてください。",
        "1件目（イメージマップ）: 代替テキストは1500文字以内で入力してください（現在1501文字）。",
        "1件目（イメージマップ）: アクションは50個までです（現在51個）。",
    ] + ["1件目（イメージマップ）: " + f"{n}個目のアクションの範囲は画像の内側に収めてください。" for n in range(1, 52)]
    assert one(imagemap(actions=[])) == ["1件目（イメージマップ）: アクションは1個以上指定してください。"]


# -- templates -------------------------------------------------------------------------------------------

def template(kind, **fields):
    return {"type": "template", "altText": "お知らせ", "template": {"type": kind, **fields}}


def test_buttons_text_is_160_or_60_with_a_title():
    assert one(template("buttons", text="あ" * 160, actions=[msg_action()])) == []
    assert one(template("buttons", text="あ" * 161, actions=[msg_action()])) == [
        "1件目（ボタン）: 本文は160文字以内で入力してください（現在161文字）。"]
    assert one(template("buttons", title="健診", text="あ" * 60, actions=[msg_action()])) == []
    assert one(template("buttons", title="健診", text="あ" * 61, actions=[msg_action()])) == [
        "1件目（ボタン）: 本文は60文字以内で入力してください（現在61文字）。"]
    assert one(template("buttons", title="あ" * 41, text="x", actions=[msg_action()])) == [
        "1件目（ボタン）: タイトルは40文字以内で入力してください（現在41文字）。"]


def test_buttons_have_one_to_four_actions():
    assert one(template("buttons", text="x", actions=[msg_action()] * 4)) == []
    assert one(template("buttons", text="x", actions=[msg_action()] * 5)) == [
        "1件目（ボタン）: アクションは1〜4個にしてください（現在5個）。"]
    assert one(template("buttons", text="x", actions=[])) == [
        "1件目（ボタン）: アクションは1〜4個にしてください（現在0個）。"]


def test_action_limits():
    good = [msg_action("あ" * 20, "あ" * 300), uri_action("tel:0727831234"), postback_action("d" * 300)]
    assert one(template("buttons", text="x", actions=good)) == []
    bad = [msg_action("あ" * 21, "あ" * 301), uri_action("ftp://x"), postback_action("d" * 301), {"type": "camera"}]
    assert one(template("buttons", text="x", actions=bad)) == [
        "1件目（ボタン）: 1個目のアクションのラベルは20文字以内で入力してください（現在21文字）。",
        "1件目（ボタン）: 1個目のアクションの送信テキストは300文字以内で入力してください（現在301文字）。",
        "1件目（ボタン）: 2個目のアクションのURLはhttps:・http:・tel:・line: のいずれかで始めてください。",
        "1件目（ボタン）: 3個目のアクションのデータは300文字以内で入力してください（現在301文字）。",
        "1件目（ボタン）: 4個目のアクションのラベルは必須です。入力してください。",
        "1件目（ボタン）: 4個目のアクションはmessage・uri・postback のいずれかにしてください。",
    ]
    long_uri = "https://x.jp/" + "a" * (1000 - len("https://x.jp/"))
    assert one(template("buttons", text="x", actions=[uri_action(long_uri)])) == []
    assert one(template("buttons", text="x", actions=[uri_action(long_uri + "a")])) != []


def test_confirm_has_exactly_two_actions_and_240_characters():
    assert one(template("confirm", text="あ" * 240, actions=[postback_action(), postback_action()])) == []
    assert one(template("confirm", text="あ" * 241, actions=[postback_action()])) == [
        "1件目（確認）: 本文は240文字以内で入力してください（現在241文字）。",
        "1件目（確認）: アクションはちょうど2個にしてください（現在1個）。",
    ]


def column(text="x", actions=1, **fields):
    return {"text": text, "actions": [msg_action()] * actions, **fields}


def test_carousel_columns():
    assert one(template("carousel", columns=[column("あ" * 120)] * 10)) == []
    assert one(template("carousel", columns=[column()] * 11)) == [
        "1件目（カルーセル）: パネルは1〜10枚にしてください（現在11枚）。"]
    assert one(template("carousel", columns=[column("あ" * 61, title="t")])) == [
        "1件目（カルーセル）: 1枚目のパネルの本文は60文字以内で入力してください（現在61文字）。"]
    assert one(template("carousel", columns=[column(actions=4)])) == [
        "1件目（カルーセル）: 1枚目のパネルのアクションは1〜3個にしてください（現在4個）。"]


def test_carousel_columns_must_match_each_other():
    assert one(template("carousel", columns=[column(actions=1), column(actions=2)])) == [
        "1件目（カルーセル）: パネルはすべてのパネルでアクションの数をそろえてください。"]
    assert one(template("carousel", columns=[column(title="a"), column()])) != []


# -- flex ------------------------------------------------------------------------------------------------

def bubble(padding=0):
    return {"type": "bubble", "body": {"type": "box", "layout": "vertical",
                                       "contents": [{"type": "text", "text": "x" * max(padding, 1)}]}}


def sized_bubble(size):
    """A bubble whose compact JSON is exactly ``size`` bytes."""
    base = len(_json(bubble(1))) - 1
    return bubble(size - base)


def _json(value):
    import json
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def test_flex_bubble_up_to_30kb():
    assert len(_json(sized_bubble(30_000))) == 30_000
    assert one({"type": "flex", "altText": "お知らせ", "contents": sized_bubble(30_000)}) == []
    assert one({"type": "flex", "altText": "お知らせ", "contents": sized_bubble(30_001)}) == [
        "1件目（Flex）: 内容は30KB以内にしてください（現在30,001バイト）。"]


def test_flex_carousel_up_to_12_bubbles_and_50kb():
    assert one({"type": "flex", "altText": "a", "contents": {"type": "carousel", "contents": [bubble()] * 12}}) == []
    assert one({"type": "flex", "altText": "a", "contents": {"type": "carousel", "contents": [bubble()] * 13}}) == [
        "1件目（Flex）: カルーセルはバブルを1〜12個にしてください。"]
    heavy = {"type": "carousel", "contents": [sized_bubble(20_000)] * 3}
    assert one({"type": "flex", "altText": "a", "contents": heavy})[0].startswith("1件目（Flex）: 内容は50KB以内")


def test_flex_needs_alt_text_and_a_container():
    assert one({"type": "flex", "contents": {"type": "box"}}) == [
        "1件目（Flex）: 代替テキストは必須です。入力してください。",
        "1件目（Flex）: 内容はbubble か carousel を指定してください。",
    ]


# -- preview ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("message", "shown"), [
    ({"type": "text", "text": "健診のお知らせ"}, "健診のお知らせ"),
    ({"type": "image", "assetId": "a"}, "［画像］"),
    ({"type": "sticker", "packageId": "1", "stickerId": "2"}, "［スタンプ］"),
    (template("buttons", text="x", actions=[]), "お知らせ"),
    ({"type": "flex", "altText": "イベント情報", "contents": bubble()}, "イベント情報"),
])
def test_preview_shows_what_the_phone_shows(message, shown):
    assert preview_text(message) == shown
