"""The content of a delivery (配信内容): up to 5 LINE message objects, checked against LINE's rules.

Plain Python, no I/O. Messages are plain JSON dicts, as staff compose them and as LINE takes them, with
one addition: an image (and an imagemap's base image) may name one of our own uploaded assets
(``{"type": "image", "assetId": "..."}``); the send step fills in the URLs.

:func:`validate_messages` returns every problem it finds (an empty list means valid) so the console
can show them all at once; each :class:`Problem` names the message and the field in Japanese, e.g.
``2件目（テキスト）: 5000文字以内で入力してください。``

Where the limits come from (the OpenAPI files state only a few of them; the rest is LINE's reference,
https://developers.line.biz/en/reference/messaging-api/, read 2026-08, see
/work/shared/reference/line-platform.md §2.3):
- 1–5 messages per request: messaging-api.yml ``MulticastRequest.messages`` (minItems 1, maxItems 5).
- postback ``data`` ≤ 300: messaging-api.yml ``PostbackAction.data`` (maxLength 300).
- everything else below: the reference (#text-message, #image-message, #imagemap-message,
  #buttons, #confirm, #carousel, #flex-message, #bubble, #f-carousel, #action-objects).
  ``altText`` is ≤ 1500 there (LINE raised it from the old 400), so we use 1500.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_MESSAGES = 5  # OAS MulticastRequest.messages maxItems
TEXT_MAX = 5000  # REF#text-message; counted in UTF-16 code units (🍎 counts 2)
EMOJIS_MAX = 20  # REF#text-message
URL_MAX = 2000  # REF#image-message, #imagemap-message (baseUrl)
ALT_TEXT_MAX = 1500  # REF#imagemap-message, #template-messages, #flex-message
IMAGEMAP_WIDTH = 1040  # REF#imagemap-message: baseSize.width must be 1040
IMAGEMAP_ACTIONS_MAX = 50
IMAGEMAP_MESSAGE_TEXT_MAX = 400
ACTION_LABEL_MAX = 20  # REF#action-objects
ACTION_TEXT_MAX = 300  # REF#message-action
POSTBACK_DATA_MAX = 300  # OAS PostbackAction.data maxLength
URI_MAX = 1000  # REF#uri-action (the SDK allows 10000; the reference is stricter, we follow it)
URI_SCHEMES = ("https://", "http://", "tel:", "line://")
BUTTONS_TEXT_MAX, BUTTONS_TEXT_WITH_TITLE_MAX, BUTTONS_ACTIONS_MAX = 160, 60, 4
TITLE_MAX = 40
CONFIRM_TEXT_MAX = 240
CAROUSEL_COLUMNS_MAX, CAROUSEL_TEXT_MAX, CAROUSEL_TEXT_WITH_TITLE_MAX, CAROUSEL_ACTIONS_MAX = 10, 120, 60, 3
FLEX_BUBBLE_BYTES_MAX = 30_000  # REF#bubble "30 KB"; we read KB as 1000 bytes, the stricter reading
FLEX_CAROUSEL_BYTES_MAX = 50_000  # REF#f-carousel "50 KB"
FLEX_CAROUSEL_BUBBLES_MAX = 12

KIND_NAMES = {
    "text": "テキスト",
    "image": "画像",
    "sticker": "スタンプ",
    "imagemap": "イメージマップ",
    "buttons": "ボタン",
    "confirm": "確認",
    "carousel": "カルーセル",
    "flex": "Flex",
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the content. ``number``: which message (1-based; 0 = the list itself);
    ``field``: a JSON-ish path for the screen to highlight; ``text``: the sentence for staff."""

    number: int
    field: str
    text: str

    def __str__(self) -> str:
        return self.text


def utf16_length(text: str) -> int:
    """Length as LINE counts a text message: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def validate_messages(messages: Any) -> list[Problem]:
    """Every problem in a delivery's content; an empty list means LINE will accept it."""
    if not isinstance(messages, Sequence) or isinstance(messages, str | bytes):
        return [Problem(0, "", "メッセージの形式が正しくありません。")]
    if not messages:
        return [Problem(0, "", "メッセージを1件以上入力してください。")]
    problems: list[Problem] = []
    if len(messages) > MAX_MESSAGES:
        problems.append(Problem(0, "", f"メッセージは{MAX_MESSAGES}件までです（現在{len(messages)}件）。"))
    for number, message in enumerate(messages[:MAX_MESSAGES], start=1):
        problems.extend(validate_message(number, message))
    return problems


def validate_message(number: int, message: Any) -> list[Problem]:
    """The problems of one message; ``number`` (1-based) only names it in the texts."""
    if not isinstance(message, Mapping):
        return [Problem(number, "", f"{number}件目: メッセージの形式が正しくありません。")]
    kind = _kind_of(message)
    check = _CHECKS.get(kind)
    if check is None and message.get("type") == "template":
        return [Problem(number, "template.type",
                        f"{number}件目（テンプレート）: 種類は buttons・confirm・carousel のいずれかにしてください。")]
    if check is None:
        return [Problem(number, "type", f"{number}件目: 対応していない種類のメッセージです（{message.get('type')}）。")]
    found = _Found(number, KIND_NAMES[kind])
    check(found, message)
    return found.problems


def preview_text(message: Mapping[str, Any]) -> str:
    """What a phone shows for the message in the chat list and notification, for the confirmation screen:
    the text itself, the alternative text of rich messages, or a bracketed word for pictures."""
    kind = _kind_of(message)
    if kind == "text":
        return str(message.get("text", ""))
    if kind == "image":
        return "［画像］"
    if kind == "sticker":
        return "［スタンプ］"
    if kind in KIND_NAMES:
        return str(message.get("altText", ""))
    return "［未対応のメッセージ］"


def _kind_of(message: Mapping[str, Any]) -> str:
    kind = message.get("type")
    if kind == "template" and isinstance(message.get("template"), Mapping):
        return str(message["template"].get("type"))
    return str(kind)


class _Found:
    """Collects problems of one message, phrased the same way everywhere."""

    def __init__(self, number: int, kind: str) -> None:
        self.number, self.kind = number, kind
        self.problems: list[Problem] = []

    def add(self, field: str, where: str, text: str) -> None:
        subject = f"{where}は" if where else ""
        self.problems.append(Problem(self.number, field, f"{self.number}件目（{self.kind}）: {subject}{text}"))

    def string(self, message: Mapping[str, Any], field: str, where: str, maximum: int, *,
               required: bool = True, utf16: bool = False, path: str = "") -> str | None:
        """Checks an optional or required string field of length 1..maximum; returns it when it is one."""
        value = message.get(field)
        path = path or field
        if value is None or value == "":
            if required:
                self.add(path, where, "必須です。入力してください。" if where else "入力してください。")
            return None
        if not isinstance(value, str):
            self.add(path, where, "文字列で入力してください。")
            return None
        length = utf16_length(value) if utf16 else len(value)
        if length > maximum:
            self.add(path, where, f"{maximum}文字以内で入力してください（現在{length}文字）。")
        return value

    def url(self, message: Mapping[str, Any], field: str, where: str, *, path: str = "",
            required: bool = True) -> None:
        value = self.string(message, field, where, URL_MAX, path=path, required=required)
        if value is not None and not value.startswith("https://"):
            self.add(path or field, where, "https:// で始まるURLを指定してください。")


def _check_text(found: _Found, message: Mapping[str, Any]) -> None:
    text = found.string(message, "text", "", TEXT_MAX, utf16=True)
    emojis = message.get("emojis")
    if emojis is None:
        return
    if not isinstance(emojis, list):
        found.add("emojis", "絵文字", "一覧の形式が正しくありません。")
        return
    if len(emojis) > EMOJIS_MAX:
        found.add("emojis", "絵文字", f"{EMOJIS_MAX}個までです（現在{len(emojis)}個）。")
    for position, emoji in enumerate(emojis, start=1):
        path, where = f"emojis[{position - 1}]", f"{position}個目の絵文字"
        if not isinstance(emoji, Mapping) or not emoji.get("productId") or not emoji.get("emojiId"):
            found.add(path, where, "productId と emojiId を指定してください。")
            continue
        index = emoji.get("index")
        # LINE's index counts UTF-16 code units, like the length; the character there must be the $ placeholder.
        units = text.encode("utf-16-le") if text else b""
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(units) // 2 \
                or units[index * 2:index * 2 + 2] != "$".encode("utf-16-le"):
            found.add(f"{path}.index", where, "本文中の $ の位置を指していません。")


def _check_image(found: _Found, message: Mapping[str, Any]) -> None:
    if message.get("assetId") is not None:
        found.string(message, "assetId", "画像", 200)
        if message.get("originalContentUrl") or message.get("previewImageUrl"):
            found.add("assetId", "画像", "アップロード画像とURLのどちらか一方だけを指定してください。")
        return
    found.url(message, "originalContentUrl", "画像のURL")
    found.url(message, "previewImageUrl", "プレビュー画像のURL")


def _check_sticker(found: _Found, message: Mapping[str, Any]) -> None:
    for field in ("packageId", "stickerId"):
        value = message.get(field)
        if not isinstance(value, str) or not value.strip():
            found.add(field, field, "必須です（文字列で指定してください）。")


def _check_imagemap_base(found: _Found, message: Mapping[str, Any]) -> int | None:
    """Checks the base image and its size; returns the height when it is usable."""
    if message.get("assetId") is not None:
        found.string(message, "assetId", "画像", 200)
    else:
        found.url(message, "baseUrl", "画像のURL（baseUrl）")
    size = message.get("baseSize")
    if not isinstance(size, Mapping):
        found.add("baseSize", "画像サイズ", "必須です。")
        return None
    if size.get("width") != IMAGEMAP_WIDTH:
        found.add("baseSize.width", "画像の幅", f"{IMAGEMAP_WIDTH}にしてください。")
    height = size.get("height")
    if isinstance(height, int) and _positive_int(height):
        return height
    found.add("baseSize.height", "画像の高さ", "1以上の整数にしてください。")
    return None


def _check_imagemap(found: _Found, message: Mapping[str, Any]) -> None:
    height = _check_imagemap_base(found, message)
    found.string(message, "altText", "代替テキスト", ALT_TEXT_MAX)
    actions = message.get("actions")
    if not isinstance(actions, list) or not actions:
        found.add("actions", "アクション", "1個以上指定してください。")
        return
    if len(actions) > IMAGEMAP_ACTIONS_MAX:
        found.add("actions", "アクション", f"{IMAGEMAP_ACTIONS_MAX}個までです（現在{len(actions)}個）。")
    for position, action in enumerate(actions, start=1):
        path, where = f"actions[{position - 1}]", f"{position}個目のアクション"
        if not isinstance(action, Mapping):
            found.add(path, where, "形式が正しくありません。")
            continue
        if action.get("type") == "uri":
            _check_uri(found, action, "linkUri", f"{path}.linkUri", f"{where}のURL")
        elif action.get("type") == "message":
            found.string(action, "text", f"{where}のテキスト", IMAGEMAP_MESSAGE_TEXT_MAX, path=f"{path}.text")
        else:
            found.add(f"{path}.type", where, "uri か message を指定してください。")
        _check_area(found, action.get("area"), path, where, width=IMAGEMAP_WIDTH, height=height)


def _check_area(found: _Found, area: Any, path: str, where: str, *, width: int, height: int | None) -> None:
    if not isinstance(area, Mapping) or not all(isinstance(area.get(k), int) for k in ("x", "y", "width", "height")):
        found.add(f"{path}.area", f"{where}の範囲", "x, y, width, height を整数で指定してください。")
        return
    x, y, w, h = (int(area[k]) for k in ("x", "y", "width", "height"))
    inside_x = x >= 0 and w > 0 and x + w <= width
    inside_y = y >= 0 and h > 0 and (height is None or y + h <= height)
    if not (inside_x and inside_y):
        found.add(f"{path}.area", f"{where}の範囲", "画像の内側に収めてください。")


def _check_action(found: _Found, action: Any, path: str, where: str) -> None:
    """A template action: message, uri or postback, each with a label (ラベル) of at most 20 characters."""
    if not isinstance(action, Mapping):
        found.add(path, where, "形式が正しくありません。")
        return
    found.string(action, "label", f"{where}のラベル", ACTION_LABEL_MAX, path=f"{path}.label")
    kind = action.get("type")
    if kind == "message":
        found.string(action, "text", f"{where}の送信テキスト", ACTION_TEXT_MAX, path=f"{path}.text")
    elif kind == "uri":
        _check_uri(found, action, "uri", f"{path}.uri", f"{where}のURL")
    elif kind == "postback":
        found.string(action, "data", f"{where}のデータ", POSTBACK_DATA_MAX, path=f"{path}.data")
        found.string(action, "displayText", f"{where}の表示テキスト", ACTION_TEXT_MAX, path=f"{path}.displayText",
                     required=False)
    else:
        found.add(f"{path}.type", where, "message・uri・postback のいずれかにしてください。")


def _check_uri(found: _Found, action: Mapping[str, Any], field: str, path: str, where: str) -> None:
    value = found.string(action, field, where, URI_MAX, path=path)
    if value is not None and not value.startswith(URI_SCHEMES):
        found.add(path, where, "https:・http:・tel:・line: のいずれかで始めてください。")


def _check_actions(found: _Found, actions: Any, path: str, where_prefix: str, *, lowest: int, highest: int) -> int:
    """Checks a template's action list; returns how many there are."""
    if not isinstance(actions, list):
        found.add(path, f"{where_prefix}アクション", "一覧を指定してください。")
        return 0
    if lowest == highest and len(actions) != lowest:
        found.add(path, f"{where_prefix}アクション", f"ちょうど{lowest}個にしてください（現在{len(actions)}個）。")
    elif not lowest <= len(actions) <= highest:
        found.add(path, f"{where_prefix}アクション", f"{lowest}〜{highest}個にしてください（現在{len(actions)}個）。")
    for position, action in enumerate(actions, start=1):
        _check_action(found, action, f"{path}[{position - 1}]", f"{where_prefix}{position}個目のアクション")
    return len(actions)


def _check_buttons(found: _Found, message: Mapping[str, Any]) -> None:
    found.string(message, "altText", "代替テキスト", ALT_TEXT_MAX)
    template = message["template"]
    illustrated = bool(template.get("title") or template.get("thumbnailImageUrl"))
    found.string(template, "title", "タイトル", TITLE_MAX, required=False, path="template.title")
    if template.get("thumbnailImageUrl") is not None:
        found.url(template, "thumbnailImageUrl", "画像のURL", path="template.thumbnailImageUrl")
    limit = BUTTONS_TEXT_WITH_TITLE_MAX if illustrated else BUTTONS_TEXT_MAX
    found.string(template, "text", "本文", limit, path="template.text")
    _check_actions(found, template.get("actions"), "template.actions", "", lowest=1, highest=BUTTONS_ACTIONS_MAX)


def _check_confirm(found: _Found, message: Mapping[str, Any]) -> None:
    found.string(message, "altText", "代替テキスト", ALT_TEXT_MAX)
    template = message["template"]
    found.string(template, "text", "本文", CONFIRM_TEXT_MAX, path="template.text")
    _check_actions(found, template.get("actions"), "template.actions", "", lowest=2, highest=2)


def _check_carousel(found: _Found, message: Mapping[str, Any]) -> None:
    found.string(message, "altText", "代替テキスト", ALT_TEXT_MAX)
    columns = message["template"].get("columns")
    if not isinstance(columns, list) or not 1 <= len(columns) <= CAROUSEL_COLUMNS_MAX:
        count = len(columns) if isinstance(columns, list) else 0
        found.add("template.columns", "パネル", f"1〜{CAROUSEL_COLUMNS_MAX}枚にしてください（現在{count}枚）。")
        if not isinstance(columns, list):
            return
    counts: set[int] = set()
    shapes: set[tuple[bool, bool]] = set()
    for position, column in enumerate(columns, start=1):
        path, where = f"template.columns[{position - 1}]", f"{position}枚目のパネルの"
        if not isinstance(column, Mapping):
            found.add(path, f"{position}枚目のパネル", "形式が正しくありません。")
            continue
        shapes.add((bool(column.get("title")), bool(column.get("thumbnailImageUrl"))))
        illustrated = bool(column.get("title") or column.get("thumbnailImageUrl"))
        found.string(column, "title", f"{where}タイトル", TITLE_MAX, required=False, path=f"{path}.title")
        if column.get("thumbnailImageUrl") is not None:
            found.url(column, "thumbnailImageUrl", f"{where}画像のURL", path=f"{path}.thumbnailImageUrl")
        limit = CAROUSEL_TEXT_WITH_TITLE_MAX if illustrated else CAROUSEL_TEXT_MAX
        found.string(column, "text", f"{where}本文", limit, path=f"{path}.text")
        counts.add(_check_actions(found, column.get("actions"), f"{path}.actions", where, lowest=1,
                                  highest=CAROUSEL_ACTIONS_MAX))
    # REF#carousel: every column has the same number of actions, and a title/image on all columns or none.
    if len(counts) > 1:
        found.add("template.columns", "パネル", "すべてのパネルでアクションの数をそろえてください。")
    if len(shapes) > 1:
        found.add("template.columns", "パネル",
                  "タイトルと画像は、すべてのパネルで付けるか、すべてで付けないかにそろえてください。")


def _check_flex(found: _Found, message: Mapping[str, Any]) -> None:
    found.string(message, "altText", "代替テキスト", ALT_TEXT_MAX)
    contents = message.get("contents")
    if not isinstance(contents, Mapping) or contents.get("type") not in ("bubble", "carousel"):
        found.add("contents", "内容", "bubble か carousel を指定してください。")
        return
    size = len(json.dumps(contents, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    if contents["type"] == "bubble":
        if size > FLEX_BUBBLE_BYTES_MAX:
            limit = FLEX_BUBBLE_BYTES_MAX // 1000
            found.add("contents", "内容", f"{limit}KB以内にしてください（現在{size:,}バイト）。")
        return
    bubbles = contents.get("contents")
    if not isinstance(bubbles, list) or not 1 <= len(bubbles) <= FLEX_CAROUSEL_BUBBLES_MAX:
        found.add("contents.contents", "カルーセル", f"バブルを1〜{FLEX_CAROUSEL_BUBBLES_MAX}個にしてください。")
        return
    for position, bubble in enumerate(bubbles, start=1):
        if not isinstance(bubble, Mapping) or bubble.get("type") != "bubble":
            found.add(f"contents.contents[{position - 1}]", f"{position}個目", "bubble にしてください。")
        elif len(json.dumps(bubble, ensure_ascii=False, separators=(",", ":")).encode()) > FLEX_BUBBLE_BYTES_MAX:
            found.add(f"contents.contents[{position - 1}]", f"{position}個目のバブル",
                      f"{FLEX_BUBBLE_BYTES_MAX // 1000}KB以内にしてください。")
    if size > FLEX_CAROUSEL_BYTES_MAX:
        found.add("contents", "内容", f"{FLEX_CAROUSEL_BYTES_MAX // 1000}KB以内にしてください（現在{size:,}バイト）。")


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


_CHECKS = {
    "text": _check_text,
    "image": _check_image,
    "sticker": _check_sticker,
    "imagemap": _check_imagemap,
    "buttons": _check_buttons,
    "confirm": _check_confirm,
    "carousel": _check_carousel,
    "flex": _check_flex,
}
