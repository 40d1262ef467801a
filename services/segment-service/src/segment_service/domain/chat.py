"""受信設定 in the chat: what a resident's text or tap asks for, and the LINE messages that answer it.
Plain Python, no I/O; driven by the current taxonomy.

The flow: categories (several; each tap toggles one, 「次へ」 goes on) → district → age band → language
→ children (birth year and month through LINE's date picker, several) → a flex summary whose buttons
go back to any step. Every tap stores at once (one change, source ``chat``), so there is no draft to
keep between messages and nothing is lost when a resident stops half-way.

Postback data is never trusted: at most 300 characters, one strict grammar
(``pref=<step>&v=<taxonomy version>[&k=<key>][&p=<page>]``), the version must be the current one
(an older button says the choices changed and shows them anew) and every key must be one of the
current taxonomy's keys for that step. The resident is always the event's sender (LINE's signed
webhook), never anything in the data.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from segment_service.domain.preferences import EXPECTED_MONTHS_AHEAD, OLDEST_CHILD_YEARS, Answers, ChildBirth
from segment_service.domain.taxonomy import Taxonomy
from segment_service.domain.texts import PREFERENCES_POSTBACK

TRIGGER_WORDS = frozenset({"受信設定", "設定"})
MAX_DATA = 300  # LINE's limit for postback data
QUICK_REPLY_MAX = 13  # LINE's limit of quick-reply items
LABEL_MAX = 20  # LINE's limit of a quick-reply label
PAGE = 10  # districts per quick-reply page (+ previous, next, skip)
SKIP = "-"  # "回答しない"

STEPS = ("start", "cat", "cat-done", "dist", "age", "lang", "child", "child-clear", "done", "show")
SECTIONS = {"cat": "categories", "dist": "districts", "age": "age_bands", "lang": "languages", "child": "children"}
_DATA = re.compile(r"pref=(?P<step>[a-z-]{1,12})(?:&v=(?P<v>[0-9]{1,9}))?(?:&k=(?P<k>[A-Za-z0-9_-]{1,40}))?"
                   r"(?:&p=(?P<p>[0-9]{1,2}))?")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


class InvalidPostback(ValueError):
    """Data no button of ours carries (forged, truncated or from another system)."""


@dataclass(frozen=True)
class Tap:
    step: str
    version: int | None = None
    key: str | None = None
    page: int = 0
    picked: date | None = None  # the date picker's answer


def is_trigger(text: str) -> bool:
    """「受信設定」 or 「設定」 (full- or half-width, spaces around ignored)."""
    return unicodedata.normalize("NFKC", text).strip() in TRIGGER_WORDS


def parse_postback(data: object, params: object = None) -> Tap | None:
    """The tap, or None when the data is not ours to handle; InvalidPostback when it claims to be ours
    but does not parse."""
    if not isinstance(data, str):
        return None
    if data == PREFERENCES_POSTBACK:
        return Tap("start")
    if not data.startswith("pref="):
        return None
    found = _DATA.fullmatch(data) if len(data) <= MAX_DATA else None
    if found is None or found["step"] not in STEPS:
        raise InvalidPostback("postback data does not parse")
    picked = None
    if found["step"] == "child":
        raw = params.get("date") if isinstance(params, dict) else None
        parts = _DATE.fullmatch(raw) if isinstance(raw, str) else None
        if parts is None:
            raise InvalidPostback("the date picker gave no date")
        try:
            picked = date(int(parts[1]), int(parts[2]), int(parts[3]))
        except ValueError:
            raise InvalidPostback("the date picker gave no date") from None
    return Tap(found["step"], int(found["v"]) if found["v"] else None, found["k"], int(found["p"] or 0), picked)


def check_keys(tap: Tap, taxonomy: Taxonomy) -> None:
    """Every key of the tap must be the current taxonomy's, for its step."""
    if tap.step == "show":
        if tap.key not in SECTIONS:
            raise InvalidPostback("unknown section")
        return
    dimension = SECTIONS.get(tap.step)
    if dimension in ("categories", "districts", "age_bands", "languages"):
        allowed = set(taxonomy.keys(dimension)) | ({SKIP} if dimension != "categories" else set())
        if tap.key not in allowed:
            raise InvalidPostback(f"{tap.key!r} is not a current {dimension} key")
    if tap.step == "cat" and tap.key in taxonomy.always_delivered():
        raise InvalidPostback("an always-delivered category cannot be changed")


def apply(tap: Tap, answers: Answers) -> Answers | None:
    """The answers after the tap, or None when the tap changes nothing (it only moves on)."""
    key = None if tap.key == SKIP else tap.key
    changes: dict[str, Any] = {}
    if tap.step == "cat" and tap.key is not None:
        changes["categories"] = answers.categories ^ {tap.key}
    elif tap.step in ("dist", "age", "lang"):
        changes[{"dist": "district", "age": "age_band", "lang": "language"}[tap.step]] = key
    elif tap.step == "child" and tap.picked is not None:
        born = ChildBirth(tap.picked.year, tap.picked.month)
        changes["children"] = tuple(sorted({*answers.children, born}))
    elif tap.step == "child-clear":
        changes["children"] = ()
    return replace(answers, **changes) if changes else None


def next_section(tap: Tap) -> str:
    """The step shown after the tap: categories stay open for more taps, single choices move on."""
    return {"start": "cat", "cat": "cat", "cat-done": "dist", "dist": "age", "age": "lang", "lang": "child",
            "child": "child", "child-clear": "child", "done": "summary"}.get(tap.step, tap.key or "summary")


# -- messages ----------------------------------------------------------------------------------------


def _label(text: str) -> str:
    return text if len(text) <= LABEL_MAX else text[:LABEL_MAX - 1] + "…"


def _postback(label: str, data: str, display: str | None = None) -> dict[str, Any]:
    action: dict[str, Any] = {"type": "postback", "label": _label(label), "data": data}
    if display:
        action["displayText"] = display[:300]
    return {"type": "action", "action": action}


def _text(text: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "text", "text": text, "quickReply": {"items": items[:QUICK_REPLY_MAX]}}


def step_messages(section: str, taxonomy: Taxonomy, version: int, answers: Answers, *, today: date,
                  page: int = 0) -> list[dict[str, Any]]:
    v = f"v={version}"
    if section == "cat":
        fixed = [taxonomy.label("categories", key) or key for key in taxonomy.keys("categories")
                 if key in taxonomy.always_delivered()]
        choosable = tuple(key for key in taxonomy.keys("categories") if key not in taxonomy.always_delivered())
        shown, more = choosable, False
        if len(choosable) > QUICK_REPLY_MAX - 1:  # pages of PAGE, with previous / more
            shown, more = choosable[page * PAGE:(page + 1) * PAGE], (page + 1) * PAGE < len(choosable)
        on_page = f"&p={page}" if page else ""  # a toggle shows the same page again
        items = [_postback(("✓ " if key in answers.categories else "") + (taxonomy.label("categories", key) or key),
                           f"pref=cat&{v}&k={key}{on_page}") for key in shown]
        if page > 0:
            items.append(_postback("前へ", f"pref=show&{v}&k=cat&p={page - 1}"))
        if more:
            items.append(_postback("ほかの項目", f"pref=show&{v}&k=cat&p={page + 1}"))
        items.append(_postback("次へ", f"pref=cat-done&{v}", "次へ"))
        chosen = [taxonomy.label("categories", key) or key for key in taxonomy.keys("categories")
                  if key in answers.categories and key not in taxonomy.always_delivered()]
        text = ("受け取りたい情報を選んでください(複数選べます。もう一度押すと外れます)。\n"
                f"選択中: {'、'.join(chosen) or 'なし'}")
        if fixed:
            text += f"\n※{'、'.join(fixed)}は全員にお届けします。"
        return [_text(text + "\n選び終えたら「次へ」を押してください。", items)]
    if section in ("dist", "age", "lang"):
        dimension = SECTIONS[section]
        keys = taxonomy.keys(dimension)
        titles = {"dist": "お住まいの地区(小学校区)", "age": "年代", "lang": "受け取る言語"}
        shown, more = keys, False
        if len(keys) > QUICK_REPLY_MAX - 1:  # pages of PAGE, with previous / next
            shown, more = keys[page * PAGE:(page + 1) * PAGE], (page + 1) * PAGE < len(keys)
        items = [_postback(taxonomy.label(dimension, key) or key, f"pref={section}&{v}&k={key}",
                           taxonomy.label(dimension, key) or key) for key in shown]
        if page > 0:
            items.append(_postback("前へ", f"pref=show&{v}&k={section}&p={page - 1}"))
        if more:
            items.append(_postback("次へ", f"pref=show&{v}&k={section}&p={page + 1}"))
        items.append(_postback("回答しない", f"pref={section}&{v}&k={SKIP}", "回答しない"))
        if not keys:  # this city asks nothing here
            return step_messages(next_section(Tap(section)), taxonomy, version, answers, today=today)
        return [_text(f"{titles[section]}を選んでください。", items)]
    if section == "child":
        earliest = date(today.year - OLDEST_CHILD_YEARS, today.month, 1)
        ahead = today.year * 12 + today.month - 1 + EXPECTED_MONTHS_AHEAD
        latest = date(ahead // 12, ahead % 12 + 1, 1)
        picker = {"type": "action", "action": {
            "type": "datetimepicker", "label": "お子さまの生年月を追加", "data": f"pref=child&{v}", "mode": "date",
            "initial": today.isoformat(), "min": earliest.isoformat(), "max": latest.isoformat()}}
        items = [picker, _postback("いない・追加しない" if not answers.children else "完了", f"pref=done&{v}", "完了")]
        if answers.children:
            items.append(_postback("登録したお子さまを消す", f"pref=child-clear&{v}", "お子さまの登録を消す"))
        known = "、".join(f"{child.year}年{child.month}月" for child in answers.children) or "なし"
        return [_text("お子さまの生まれた年月(出産予定の月も可)を追加できます。何人でも追加できます。\n"
                      f"登録中: {known}", items)]
    return [summary(taxonomy, version, answers)]


def summary(taxonomy: Taxonomy, version: int, answers: Answers) -> dict[str, Any]:
    """A flex bubble: each answer with a button to change it."""
    def label(dimension: str, key: str | None) -> str:
        return (taxonomy.label(dimension, key) or key) if key else "未回答"

    rows = [
        ("受け取る情報", "、".join(label("categories", key) for key in taxonomy.keys("categories")
                             if key in answers.categories) or "未回答", "cat"),
        ("地区", label("districts", answers.district), "dist"),
        ("年代", label("age_bands", answers.age_band), "age"),
        ("言語", label("languages", answers.language), "lang"),
        ("お子さま", "、".join(f"{child.year}年{child.month}月生まれ" for child in answers.children) or "なし",
         "child"),
    ]
    body: list[dict[str, Any]] = [{"type": "text", "text": "受信設定の内容", "weight": "bold", "size": "lg"}]
    for title, value, _section in rows:
        body.append({"type": "box", "layout": "vertical", "margin": "md", "contents": [
            {"type": "text", "text": title, "size": "sm", "color": "#555555"},
            {"type": "text", "text": value[:200], "wrap": True}]})
    buttons = [{"type": "button", "style": "link", "height": "sm",
                "action": {"type": "postback", "label": f"{title}を変更",
                           "data": f"pref=show&v={version}&k={section}"}}
               for title, _value, section in rows]
    return {"type": "flex", "altText": "受信設定の内容", "contents": {
        "type": "bubble",
        "body": {"type": "box", "layout": "vertical", "contents": body},
        "footer": {"type": "box", "layout": "vertical", "contents": buttons},
    }}


def notice(text: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": text}]
