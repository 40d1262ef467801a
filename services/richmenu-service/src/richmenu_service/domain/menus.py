"""A menu set (メニュー): one or more tabs (タブ), each a LINE rich menu, joined by richmenuswitch actions.

Plain Python, no I/O. Staff build a set in the console; :func:`validate_menu_set` returns every problem at once,
each a Japanese sentence naming the tab and the button (ボタン = a tap area), e.g.
``2つ目のタブの3番目のボタン: 画像からはみ出しています（右端 2600 > 幅 2500）。``
:func:`rich_menu_request` turns one valid tab into LINE's ``RichMenuRequest`` JSON (camelCase, as in
messaging-api.yml).

Where the limits come from (/work/shared/reference/line-platform.md §2.3 and §4; REF = LINE's
Messaging API reference, #rich-menu-object, #action-objects; OAS = messaging-api.yml):
- size: width 800–2500 px, height ≥ 250 px, width/height ≥ 1.45 (REF#rich-menu-object; the emulator enforces
  the same). LINE's classic sizes (2500×1686, 2500×843, 1200×810, 1200×405, 800×540, 800×270) all satisfy it
  and are offered as :data:`STANDARD_SIZES`; other sizes inside the rule are accepted, as LINE accepts them.
- ``name`` 1–300, ``chatBarText`` 1–14 (OAS maxLength; REF requires both), areas ≤ 20 (REF). We require at
  least one area: a menu nobody can tap is a mistake, not a design.
- bounds: x, y ≥ 0, width, height ≥ 1 (OAS RichMenuBounds), inside the image (REF "area must lie inside").
  **Overlapping areas are allowed**: LINE does not forbid them (the topmost-listed wins on a phone is not
  documented), so :func:`overlapping_buttons` only offers them to the editor as a warning.
- actions (rich menus take postback, message, uri, datetimepicker, richmenuswitch; we leave out clipboard):
  ``label`` ≤ 20 (optional, read aloud by accessibility features); uri ≤ 1000 with http/https/tel/line
  schemes (REF#uri-action, stricter than the SDK's 10000); message ``text`` 1–300; postback ``data`` 1–300,
  ``displayText`` ≤ 300; datetimepicker ``data`` 1–300 and initial/max/min in the mode's format, inside
  1900-01-01 … 2100-12-31, ``min`` < ``max`` and the initial value between them (REF#datetime-picker-action);
  richmenuswitch ``richMenuAliasId`` and ``data`` 1–300 (REF#richmenuswitch-action).
- aliases: ``[a-z0-9_-]{1,32}`` (OAS CreateRichMenuAliasRequest). Every tab has one, unique in the set, and a
  switch must name a tab of the same set: a switch to another set's alias works on LINE but would let a
  resident wander into a menu the rules did not give them. Aliases are unique per channel on LINE (≤ 1000):
  that check needs every set and belongs to the service layer (:func:`alias_ids` helps).
- Lengths are counted in characters (code points), as the reference states them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any, cast

MIN_WIDTH, MAX_WIDTH, MIN_HEIGHT = 800, 2500, 250
MIN_ASPECT_PERCENT = 145  # width / height ≥ 1.45, compared as integers: 100 × width ≥ 145 × height
NAME_MAX = 300
CHAT_BAR_TEXT_MAX = 14
AREAS_MAX = 20
LABEL_MAX = 20
URI_MAX = 1000
URI_SCHEMES = ("https://", "http://", "tel:", "line://")
TEXT_MAX = 300  # message action text
DATA_MAX = 300  # postback / datetimepicker / richmenuswitch data
DISPLAY_TEXT_MAX = 300
ALIAS_PATTERN = re.compile(r"[a-z0-9_-]{1,32}")
INPUT_OPTIONS = ("closeRichMenu", "openRichMenu", "openKeyboard", "openVoice")
PICKER_FIRST, PICKER_LAST = datetime(1900, 1, 1), datetime(2100, 12, 31, 23, 59)


@dataclass(frozen=True)
class Size:
    width: int
    height: int

    def __str__(self) -> str:
        return f"{self.width}×{self.height}"


LARGE = Size(2500, 1686)  # 大
COMPACT = Size(2500, 843)  # 小
STANDARD_SIZES = (LARGE, COMPACT, Size(1200, 810), Size(1200, 405), Size(800, 540), Size(800, 270))


@dataclass(frozen=True)
class Bounds:
    x: int
    y: int
    width: int
    height: int

    @property
    def right(self) -> int:
        return self.x + self.width

    @property
    def bottom(self) -> int:
        return self.y + self.height

    def overlaps(self, other: Bounds) -> bool:
        return self.x < other.right and other.x < self.right and self.y < other.bottom and other.y < self.bottom


@dataclass(frozen=True)
class UriAction:
    """リンクを開く"""

    uri: str
    label: str | None = None


@dataclass(frozen=True)
class MessageAction:
    """メッセージを送る (the resident sends ``text`` to the account)"""

    text: str
    label: str | None = None


@dataclass(frozen=True)
class PostbackAction:
    """ボタンの合図を送る (our webhook receives ``data``; the chat shows ``display_text`` if given)"""

    data: str
    display_text: str | None = None
    input_option: str | None = None
    label: str | None = None


class PickerMode(StrEnum):
    DATE = "date"
    TIME = "time"
    DATETIME = "datetime"


@dataclass(frozen=True)
class DatetimePickerAction:
    """日時を選ぶ. initial/max/min as LINE writes them: 2026-12-01, 09:30, 2026-12-01T09:30."""

    data: str
    mode: PickerMode
    initial: str | None = None
    max: str | None = None
    min: str | None = None
    label: str | None = None


@dataclass(frozen=True)
class SwitchAction:
    """タブを切り替える: shows the tab whose alias is ``alias_id`` (LINE's richmenuswitch)."""

    alias_id: str
    data: str
    label: str | None = None


Action = UriAction | MessageAction | PostbackAction | DatetimePickerAction | SwitchAction


@dataclass(frozen=True)
class Area:
    """A button (ボタン): a rectangle of the image and what a tap does."""

    bounds: Bounds
    action: Action


@dataclass(frozen=True)
class Tab:
    """A tab (タブ) = one LINE rich menu. ``alias_id`` is its LINE alias, what switches name."""

    alias_id: str
    name: str  # 管理用の名前, not shown to residents
    chat_bar_text: str  # トークルーム下部のメニュー名
    size: Size
    areas: tuple[Area, ...]
    selected: bool = False  # open the menu when the chat opens


@dataclass(frozen=True)
class MenuSet:
    """メニュー: the tabs residents switch between; the first tab is the one linked to a resident."""

    menu_set_id: str
    title: str
    tabs: tuple[Tab, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong. ``tab`` and ``area`` are 1-based (0 = the set / the tab itself); ``field`` a
    JSON-ish path for the editor to highlight; ``text`` the sentence for staff."""

    tab: int
    area: int
    field: str
    text: str

    def __str__(self) -> str:
        return self.text


class InvalidMenu(ValueError):
    """A menu that cannot go to LINE. ``problems``: every :class:`Problem`."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(" ".join(p.text for p in problems))
        self.problems = problems


# -- validation ----------------------------------------------------------------------------------------------

def validate_menu_set(menu_set: MenuSet) -> list[Problem]:
    """Every problem of the set; an empty list means LINE will accept each tab and the switches hold."""
    problems: list[Problem] = []
    if not menu_set.title.strip():
        problems.append(Problem(0, 0, "title", "メニューの名前を入力してください。"))
    if not menu_set.tabs:
        problems.append(Problem(0, 0, "tabs", "タブを1つ以上作ってください。"))
        return problems
    several = len(menu_set.tabs) > 1
    seen: dict[str, int] = {}
    for number, tab in enumerate(menu_set.tabs, start=1):
        problems.extend(_validate_tab(tab, number, several))
        if tab.alias_id in seen:
            problems.append(Problem(number, 0, "aliasId", f"{_where(number, 0, several)}: タブのID「{tab.alias_id}」は"
                                    f"{seen[tab.alias_id]}つ目のタブと同じです。別のIDにしてください。"))
        seen.setdefault(tab.alias_id, number)
    for number, tab in enumerate(menu_set.tabs, start=1):
        for position, area in enumerate(tab.areas[:AREAS_MAX], start=1):
            target = area.action.alias_id if isinstance(area.action, SwitchAction) else None
            if target is not None and ALIAS_PATTERN.fullmatch(target) and target not in seen:
                problems.append(Problem(number, position, "action.richMenuAliasId",
                                        f"{_where(number, position, several)}: 切り替え先のタブ「{target}」が"
                                        "このメニューにありません。"))
    return problems


def validate_tab(tab: Tab) -> list[Problem]:
    """The problems of one tab on its own (switch targets need the set: :func:`validate_menu_set`)."""
    return _validate_tab(tab, 1, False)


def _where(tab: int, area: int, several: bool) -> str:
    parts = [f"{tab}つ目のタブ"] if several else []
    if area:
        parts.append(f"{area}番目のボタン")
    return "の".join(parts) or "このタブ"


class _Found:
    def __init__(self, tab: int, several: bool) -> None:
        self.tab, self.several = tab, several
        self.problems: list[Problem] = []

    def add(self, area: int, field: str, text: str) -> None:
        self.problems.append(Problem(self.tab, area, field, f"{_where(self.tab, area, self.several)}: {text}"))

    def text(self, area: int, field: str, what: str, value: str | None, maximum: int, *, required: bool) -> None:
        if value is None or value == "":
            if required:
                self.add(area, field, f"{what}を入力してください。")
            return
        if len(value) > maximum:
            self.add(area, field, f"{what}は{maximum}文字以内にしてください（現在{len(value)}文字）。")


def _validate_tab(tab: Tab, number: int, several: bool) -> list[Problem]:
    found = _Found(number, several)
    if not ALIAS_PATTERN.fullmatch(tab.alias_id):
        found.add(0, "aliasId", f"タブのID「{tab.alias_id}」は半角の英小文字・数字・「-」「_」で"
                  "1〜32文字にしてください。")
    found.text(0, "name", "管理用の名前", tab.name, NAME_MAX, required=True)
    found.text(0, "chatBarText", "メニューバーの文字", tab.chat_bar_text, CHAT_BAR_TEXT_MAX, required=True)
    size_ok = _check_size(found, tab.size)
    if not tab.areas:
        found.add(0, "areas", "ボタンを1つ以上置いてください。")
    if len(tab.areas) > AREAS_MAX:
        found.add(0, "areas", f"ボタンは{AREAS_MAX}個までです（現在{len(tab.areas)}個）。")
    for position, area in enumerate(tab.areas[:AREAS_MAX], start=1):
        _check_bounds(found, position, area.bounds, tab.size if size_ok else None)
        _check_action(found, position, area.action)
    return found.problems


def _check_size(found: _Found, size: Size) -> bool:
    before = len(found.problems)
    if not MIN_WIDTH <= size.width <= MAX_WIDTH:
        found.add(0, "size.width", f"画像の幅は{MIN_WIDTH}〜{MAX_WIDTH}ピクセルにしてください（現在{size.width}）。")
    if size.height < MIN_HEIGHT:
        found.add(0, "size.height", f"画像の高さは{MIN_HEIGHT}ピクセル以上にしてください（現在{size.height}）。")
    elif 100 * size.width < MIN_ASPECT_PERCENT * size.height:
        found.add(0, "size.height", f"画像が縦長すぎます。高さは幅の1/1.45以下にしてください（{size}）。"
                  f"よく使う大きさ: {'、'.join(str(s) for s in STANDARD_SIZES[:2])}")
    return len(found.problems) == before


def _check_bounds(found: _Found, position: int, bounds: Bounds, size: Size | None) -> None:
    field = "bounds"
    if bounds.x < 0 or bounds.y < 0:
        found.add(position, field, f"位置がマイナスになっています（左 {bounds.x}、上 {bounds.y}）。")
    if bounds.width < 1 or bounds.height < 1:
        found.add(position, field,
                  f"幅と高さは1ピクセル以上にしてください（幅 {bounds.width}、高さ {bounds.height}）。")
        return
    if size is None:
        return
    if bounds.right > size.width:
        found.add(position, field, f"画像からはみ出しています（右端 {bounds.right} > 幅 {size.width}）。")
    if bounds.bottom > size.height:
        found.add(position, field, f"画像からはみ出しています（下端 {bounds.bottom} > 高さ {size.height}）。")


def _check_action(found: _Found, position: int, action: Action) -> None:
    found.text(position, "action.label", "読み上げ用のラベル", action.label, LABEL_MAX, required=False)
    if isinstance(action, UriAction):
        found.text(position, "action.uri", "リンク先", action.uri, URI_MAX, required=True)
        if action.uri and not action.uri.startswith(URI_SCHEMES):
            found.add(position, "action.uri",
                      "リンク先は https:// ・ http:// ・ tel: ・ line:// のいずれかで始めてください。")
    elif isinstance(action, MessageAction):
        found.text(position, "action.text", "送るメッセージ", action.text, TEXT_MAX, required=True)
    elif isinstance(action, PostbackAction):
        found.text(position, "action.data", "送る合図（データ）", action.data, DATA_MAX, required=True)
        found.text(position, "action.displayText", "トークに表示する文字", action.display_text, DISPLAY_TEXT_MAX,
                   required=False)
        if action.input_option is not None and action.input_option not in INPUT_OPTIONS:
            found.add(position, "action.inputOption", f"タップ後の動き「{action.input_option}」は使えません。")
    elif isinstance(action, DatetimePickerAction):
        found.text(position, "action.data", "送る合図（データ）", action.data, DATA_MAX, required=True)
        _check_picker(found, position, action)
    else:
        found.text(position, "action.data", "送る合図（データ）", action.data, DATA_MAX, required=True)
        if not ALIAS_PATTERN.fullmatch(action.alias_id):
            found.add(position, "action.richMenuAliasId", f"切り替え先のタブID「{action.alias_id}」が正しくありません"
                      "（半角の英小文字・数字・「-」「_」で1〜32文字）。")


_PICKER_EXAMPLES = {PickerMode.DATE: "2026-12-01", PickerMode.TIME: "09:30", PickerMode.DATETIME: "2026-12-01T09:30"}
_PICKER_WORDS = {"initial": "最初に表示する値", "max": "選べる最後", "min": "選べる最初"}


def parse_picker_value(mode: PickerMode, value: str) -> datetime | None:
    """A datetimepicker value in its mode's format, as a naive datetime (time values on 1900-01-01)."""
    patterns = {PickerMode.DATE: r"\d{4}-\d{2}-\d{2}", PickerMode.TIME: r"\d{2}:\d{2}",
                PickerMode.DATETIME: r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}"}
    if not re.fullmatch(patterns[mode], value):
        return None
    try:
        if mode is PickerMode.DATE:
            return datetime.combine(date.fromisoformat(value), time())
        if mode is PickerMode.TIME:
            return datetime.combine(PICKER_FIRST.date(), time.fromisoformat(value))
        return datetime.fromisoformat(value.replace("t", "T"))
    except ValueError:
        return None


def _check_picker(found: _Found, position: int, action: DatetimePickerAction) -> None:
    try:
        mode = PickerMode(action.mode)
    except ValueError:
        found.add(position, "action.mode", "日時の種類は date・time・datetime のいずれかにしてください。")
        return
    values: dict[str, datetime] = {}
    for field in ("initial", "max", "min"):
        text = getattr(action, field)
        if text is None:
            continue
        value = parse_picker_value(mode, text)
        if value is None or not PICKER_FIRST <= value <= PICKER_LAST:
            found.add(position, f"action.{field}", f"{_PICKER_WORDS[field]}「{text}」の形が正しくありません"
                      f"（例: {_PICKER_EXAMPLES[mode]}、1900年〜2100年）。")
        else:
            values[field] = value
    low, high, initial = values.get("min"), values.get("max"), values.get("initial")
    if low is not None and high is not None and low >= high:
        found.add(position, "action.max",
                  f"選べる最後（{action.max}）は選べる最初（{action.min}）より後にしてください。")
    if initial is not None and ((low is not None and initial < low) or (high is not None and initial > high)):
        found.add(position, "action.initial", f"最初に表示する値（{action.initial}）は選べる範囲の中にしてください。")


def overlapping_buttons(tab: Tab) -> list[tuple[int, int]]:
    """Pairs of buttons (1-based) whose areas overlap: allowed by LINE, shown to staff as a warning."""
    areas = [area.bounds for area in tab.areas]
    return [(i + 1, j + 1) for i in range(len(areas)) for j in range(i + 1, len(areas)) if areas[i].overlaps(areas[j])]


def alias_ids(menu_set: MenuSet) -> list[str]:
    """The LINE aliases the set needs (unique per channel, at most 1000 per account)."""
    return [tab.alias_id for tab in menu_set.tabs]


# -- LINE's JSON -----------------------------------------------------------------------------------------------

def rich_menu_request(tab: Tab) -> dict[str, Any]:
    """LINE's ``RichMenuRequest`` for a tab; raises :class:`InvalidMenu` if the tab is not valid."""
    problems = validate_tab(tab)
    if problems:
        raise InvalidMenu(problems)
    return {
        "size": {"width": tab.size.width, "height": tab.size.height},
        "selected": tab.selected,
        "name": tab.name,
        "chatBarText": tab.chat_bar_text,
        "areas": [{"bounds": {"x": a.bounds.x, "y": a.bounds.y, "width": a.bounds.width, "height": a.bounds.height},
                   "action": action_json(a.action)} for a in tab.areas],
    }


def action_json(action: Action) -> dict[str, Any]:
    """LINE's action object (camelCase; optional fields left out when unset)."""
    body: dict[str, Any]
    if isinstance(action, UriAction):
        body = {"type": "uri", "uri": action.uri}
    elif isinstance(action, MessageAction):
        body = {"type": "message", "text": action.text}
    elif isinstance(action, PostbackAction):
        body = {"type": "postback", "data": action.data, "displayText": action.display_text,
                "inputOption": action.input_option}
    elif isinstance(action, DatetimePickerAction):
        body = {"type": "datetimepicker", "data": action.data, "mode": str(action.mode),
                "initial": action.initial, "max": action.max, "min": action.min}
    else:
        body = {"type": "richmenuswitch", "richMenuAliasId": action.alias_id, "data": action.data}
    body["label"] = action.label
    return {key: value for key, value in body.items() if value is not None}


# -- the console's JSON (API.md "Tab") -------------------------------------------------------------------------

def tab_json(tab: Tab) -> dict[str, Any]:
    """A tab as the console and our storage write it: LINE's fields plus its alias (no validation)."""
    return {"aliasId": tab.alias_id, "name": tab.name, "chatBarText": tab.chat_bar_text,
            "size": {"width": tab.size.width, "height": tab.size.height}, "selected": tab.selected,
            "areas": [{"bounds": {"x": a.bounds.x, "y": a.bounds.y, "width": a.bounds.width,
                                  "height": a.bounds.height}, "action": action_json(a.action)} for a in tab.areas]}


_ACTION_TYPES = {"uri": "リンクを開く", "message": "メッセージを送る", "postback": "合図を送る",
                 "datetimepicker": "日時を選ぶ", "richmenuswitch": "タブを切り替える"}


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise TypeError("not a whole number")
    return int(value)


def action_from_json(raw: Any) -> Action:
    if not isinstance(raw, dict):
        raise TypeError("an action is an object")
    kind, label = raw.get("type"), _text_or_none(raw.get("label"))
    if kind == "uri":
        return UriAction(str(raw.get("uri") or ""), label)
    if kind == "message":
        return MessageAction(str(raw.get("text") or ""), label)
    if kind == "postback":
        return PostbackAction(str(raw.get("data") or ""), _text_or_none(raw.get("displayText")),
                              _text_or_none(raw.get("inputOption")), label)
    if kind == "datetimepicker":
        # the mode is checked with the rest (_check_picker): a draft keeps what staff typed
        return DatetimePickerAction(str(raw.get("data") or ""), cast(PickerMode, raw.get("mode")),
                                    _text_or_none(raw.get("initial")), _text_or_none(raw.get("max")),
                                    _text_or_none(raw.get("min")), label)
    if kind == "richmenuswitch":
        return SwitchAction(str(raw.get("richMenuAliasId") or ""), str(raw.get("data") or ""), label)
    raise ValueError(kind)


def tabs_from_json(raw: Any) -> tuple[Tab, ...]:
    """The console's tabs as domain objects; :class:`InvalidMenu` names every part that has the wrong shape
    (the rules LINE sets are checked afterwards by :func:`validate_menu_set`)."""
    if not isinstance(raw, list):
        raise InvalidMenu([Problem(0, 0, "tabs", "タブの一覧の形が正しくありません。")])
    problems: list[Problem] = []
    tabs: list[Tab] = []
    several = len(raw) > 1
    for number, item in enumerate(raw, start=1):
        where = _where(number, 0, several)
        if not isinstance(item, dict):
            problems.append(Problem(number, 0, "", f"{where}: タブの形が正しくありません。"))
            continue
        try:
            size = Size(_integer(item["size"]["width"]), _integer(item["size"]["height"]))
        except (KeyError, TypeError, ValueError):
            problems.append(Problem(number, 0, "size", f"{where}: 画像の大きさ（幅と高さ）を指定してください。"))
            continue
        areas: list[Area] = []
        raw_areas = item.get("areas", [])
        if not isinstance(raw_areas, list):
            problems.append(Problem(number, 0, "areas", f"{where}: ボタンの一覧の形が正しくありません。"))
            raw_areas = []
        for position, area in enumerate(raw_areas, start=1):
            place = _where(number, position, several)
            try:
                b = area["bounds"]
                bounds = Bounds(_integer(b["x"]), _integer(b["y"]), _integer(b["width"]), _integer(b["height"]))
            except (KeyError, TypeError, ValueError):
                problems.append(Problem(number, position, "bounds", f"{place}: 位置と大きさを数字で指定してください。"))
                continue
            try:
                action = action_from_json(area.get("action"))
            except ValueError:
                problems.append(Problem(number, position, "action.type",
                                        f"{place}: 動作は{'・'.join(_ACTION_TYPES.values())}から選んでください。"))
                continue
            except TypeError:
                problems.append(Problem(number, position, "action", f"{place}: 動作を選んでください。"))
                continue
            areas.append(Area(bounds, action))
        tabs.append(Tab(str(item.get("aliasId") or ""), str(item.get("name") or ""),
                        str(item.get("chatBarText") or ""), size, tuple(areas), bool(item.get("selected", False))))
    if problems:
        raise InvalidMenu(problems)
    return tuple(tabs)
