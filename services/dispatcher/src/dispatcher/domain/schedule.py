"""予約配信 and 定期配信: when a delivery (or a recurring one) is due, in Japan time, knowing Japan's holidays.

Plain Python, no I/O: the moment to look after is always passed in. Japan has no daylight saving time, so
"7:30 every Monday" is the same UTC instant pattern all year.

Three rules, each with a :class:`HolidayPolicy` and an optional last day (``until``, a JST date, inclusive,
compared with the day the send would actually happen):
- :class:`Once` (1回): a moment;
- :class:`Weekly` (毎週): weekdays and a time;
- :class:`Monthly` (毎月): a day of the month, or nth weekdays (第2・第4水曜, 最終金曜).

Decisions:
- :func:`next_occurrence` answers an aware datetime in **Japan time** (``Asia/Tokyo``), strictly after the
  moment given (any aware datetime); ``None`` when the rule has no further occurrence.
- A day of the month the month lacks (31日 in February, 30日 in February…) falls on the month's last day:
  "毎月31日" is read as 月末, which is what staff mean by it; the description says so.
- 第5水曜 in a month with four Wednesdays does not happen that month.
- "Next weekday" (翌平日) is the next Monday–Friday that is not a public holiday (``jpholiday``); the city's
  year-end closure (12/29–1/3) is not a public holiday and is not skipped.
- When moving a holiday onto the next weekday lands on another occurrence (毎週 月・火, Monday a holiday),
  the two are one send.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import jpholiday  # type: ignore[import-untyped,unused-ignore]

TOKYO = ZoneInfo("Asia/Tokyo")
WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()
WEEKDAY_NAMES = ("月", "火", "水", "木", "金", "土", "日")
LAST = -1  # in Monthly.weeks: the last such weekday of the month (最終)
_SEARCH_DAYS = 3 * 366  # give up looking after three years: a rule that never fires is a broken rule


class InvalidRule(ValueError):
    """A schedule rule that cannot be used. ``problems``: Japanese sentences for staff."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


class HolidayPolicy(StrEnum):
    SEND = "send"  # 祝日も配信
    SKIP = "skip"  # 祝日は配信しない
    NEXT_WEEKDAY = "next_weekday"  # 祝日は翌平日に配信

    @property
    def label(self) -> str:
        return {"send": "祝日も配信", "skip": "祝日は配信しない", "next_weekday": "祝日は翌平日"}[self.value]


def is_holiday(day: date) -> bool:
    """A Japanese public holiday (国民の祝日・振替休日・国民の休日)."""
    return bool(jpholiday.is_holiday(day))


def next_weekday(day: date) -> date:
    """``day`` itself if it is a Monday–Friday and not a holiday, else the next such day."""
    while day.weekday() >= 5 or is_holiday(day):
        day += timedelta(days=1)
    return day


@dataclass(frozen=True)
class Once:
    at: datetime  # aware
    holidays: HolidayPolicy = HolidayPolicy.SEND

    def __post_init__(self) -> None:
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise InvalidRule(["日時にはタイムゾーンが必要です。"])

    @property
    def until(self) -> date | None:
        return None


@dataclass(frozen=True)
class Weekly:
    weekdays: frozenset[int]  # 0 = Monday … 6 = Sunday, as date.weekday()
    at: time
    holidays: HolidayPolicy = HolidayPolicy.SEND
    until: date | None = None

    def __post_init__(self) -> None:
        problems = [] if self.weekdays else ["曜日を1つ以上選んでください。"]
        if any(not 0 <= day <= 6 for day in self.weekdays):
            problems.append("曜日の指定が正しくありません。")
        if problems:
            raise InvalidRule(problems)


@dataclass(frozen=True)
class Monthly:
    """Either ``day`` (1–31; beyond the month's end means its last day), or ``weeks`` (1–5, or LAST) with
    ``weekday`` (0 = Monday): 第2・第4水曜 is ``weeks=(2, 4), weekday=2``."""

    at: time
    day: int | None = None
    weeks: tuple[int, ...] = ()
    weekday: int | None = None
    holidays: HolidayPolicy = HolidayPolicy.SEND
    until: date | None = None

    def __post_init__(self) -> None:
        problems = []
        if (self.day is None) == (not self.weeks):
            problems.append("「毎月○日」か「第○○曜日」のどちらか一方を指定してください。")
        if self.day is not None and not 1 <= self.day <= 31:
            problems.append("日は1〜31で指定してください。")
        if self.weeks and (self.weekday is None or not 0 <= self.weekday <= 6):
            problems.append("曜日の指定が正しくありません。")
        if any(week not in (1, 2, 3, 4, 5, LAST) for week in self.weeks):
            problems.append("週は第1〜第5または最終で指定してください。")
        if problems:
            raise InvalidRule(problems)


Rule = Once | Weekly | Monthly


def next_occurrence(rule: Rule, after: datetime) -> datetime | None:
    """The first send strictly after ``after`` (aware), in Japan time; ``None`` if there is none."""
    if after.tzinfo is None or after.utcoffset() is None:
        raise ValueError("after must be timezone-aware")
    after = after.astimezone(TOKYO)
    # Start a week early: a holiday moved forward from last week may still be ahead of us.
    for nominal in _nominal_days(rule, after.date() - timedelta(days=7)):
        actual = _apply_holidays(nominal, rule.holidays)
        if actual is None:
            continue
        if rule.until is not None and actual > rule.until:
            return None
        moment = datetime.combine(actual, _time_of(rule), TOKYO)
        if moment > after:
            return moment
    return None


def occurrences(rule: Rule, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` sends after ``after`` (for the console's "next sends" preview)."""
    found: list[datetime] = []
    moment: datetime | None = after
    while moment is not None and len(found) < count:
        moment = next_occurrence(rule, moment)
        if moment is not None:
            found.append(moment)
    return found


def _time_of(rule: Rule) -> time:
    return rule.at.astimezone(TOKYO).time().replace(tzinfo=None) if isinstance(rule, Once) else rule.at


def _apply_holidays(day: date, policy: HolidayPolicy) -> date | None:
    if policy is HolidayPolicy.SEND or not is_holiday(day):
        return day
    if policy is HolidayPolicy.SKIP:
        return None
    return next_weekday(day)


def _nominal_days(rule: Rule, start: date) -> Iterator[date]:
    """The days the rule names, in order, from ``start`` on (before holidays move them)."""
    if isinstance(rule, Once):
        day = rule.at.astimezone(TOKYO).date()
        if day >= start:
            yield day
        return
    end = start + timedelta(days=_SEARCH_DAYS)
    if isinstance(rule, Weekly):
        day = start
        while day <= end:
            if day.weekday() in rule.weekdays:
                yield day
            day += timedelta(days=1)
        return
    year, month = start.year, start.month
    while date(year, month, 1) <= end:
        for day in _monthly_days(rule, year, month):
            if day >= start:
                yield day
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _monthly_days(rule: Monthly, year: int, month: int) -> list[date]:
    length = calendar.monthrange(year, month)[1]
    if rule.day is not None:
        return [date(year, month, min(rule.day, length))]
    all_days = (date(year, month, d) for d in range(1, length + 1))
    same_weekday = [day for day in all_days if day.weekday() == rule.weekday]
    days = {same_weekday[-1] if week == LAST else same_weekday[week - 1]
            for week in rule.weeks if week == LAST or week <= len(same_weekday)}
    return sorted(days)


# -- words for screens -------------------------------------------------------------------------------------

def describe(rule: Rule) -> str:
    """The rule in Japanese for the console, e.g. ``毎週 月・木 7:30（祝日は翌平日）``."""
    if isinstance(rule, Once):
        local = rule.at.astimezone(TOKYO)
        text = f"{local.year}年{local.month}月{local.day}日（{WEEKDAY_NAMES[local.weekday()]}）{_clock(local.time())}"
    elif isinstance(rule, Weekly):
        text = f"毎週 {'・'.join(WEEKDAY_NAMES[d] for d in sorted(rule.weekdays))} {_clock(rule.at)}"
    elif rule.day is not None:
        text = f"毎月 {rule.day}日 {_clock(rule.at)}"
    else:
        weeks = "・".join("最終" if week == LAST else f"第{week}" for week in sorted(rule.weeks, key=_week_order))
        text = f"毎月 {weeks}{WEEKDAY_NAMES[rule.weekday or 0]}曜 {_clock(rule.at)}"
    notes = ["ない月は月末"] if isinstance(rule, Monthly) and (rule.day or 0) > 28 else []
    if rule.holidays is not HolidayPolicy.SEND:
        notes.append(rule.holidays.label)
    if notes:
        text += f"（{'・'.join(notes)}）"
    if rule.until is not None:
        text += f"、{rule.until.year}年{rule.until.month}月{rule.until.day}日まで"
    return text


def _clock(moment: time) -> str:
    return f"{moment.hour}:{moment.minute:02d}"


def _week_order(week: int) -> int:
    return 99 if week == LAST else week


# -- storage form ------------------------------------------------------------------------------------------

def rule_to_dict(rule: Rule) -> dict[str, Any]:
    """A JSON-ready dict; :func:`rule_from_dict` reads it back."""
    data: dict[str, Any]
    if isinstance(rule, Once):
        data = {"kind": "once", "at": rule.at.isoformat()}
    elif isinstance(rule, Weekly):
        data = {"kind": "weekly", "weekdays": [WEEKDAY_KEYS[d] for d in sorted(rule.weekdays)],
                "time": rule.at.strftime("%H:%M")}
    else:
        data = {"kind": "monthly", "time": rule.at.strftime("%H:%M")}
        if rule.day is not None:
            data["day"] = rule.day
        else:
            data["weeks"] = ["last" if w == LAST else w for w in sorted(rule.weeks, key=_week_order)]
            data["weekday"] = WEEKDAY_KEYS[rule.weekday or 0]
    data["holidays"] = rule.holidays.value
    if rule.until is not None:
        data["until"] = rule.until.isoformat()
    return data


def rule_from_dict(data: Any) -> Rule:
    """Reads a stored or submitted rule; raises :class:`InvalidRule` naming every problem in Japanese."""
    if not isinstance(data, Mapping):
        raise InvalidRule(["配信スケジュールの形式が正しくありません。"])
    problems: list[str] = []
    holidays = _holidays(data.get("holidays", "send"), problems)
    until = _date(data.get("until"), problems)
    kind = data.get("kind")
    if kind == "once":
        at = _datetime(data.get("at"), problems)
        _done(problems)
        assert at is not None
        return Once(at, holidays)
    if kind == "weekly":
        weekdays = data.get("weekdays")
        if not isinstance(weekdays, list) or not weekdays:
            problems.append("曜日を1つ以上選んでください。")
            weekdays = []
        days = frozenset(_weekday(each, problems) for each in weekdays)
        at_time = _time(data.get("time"), problems)
        _done(problems)
        assert at_time is not None
        return Weekly(days, at_time, holidays, until)
    if kind == "monthly":
        at_time = _time(data.get("time"), problems)
        day, weeks, weekday = data.get("day"), data.get("weeks"), None
        if day is not None and (not isinstance(day, int) or isinstance(day, bool)):
            problems.append("日は1〜31の整数で指定してください。")
        parsed_weeks: tuple[int, ...] = ()
        if weeks is not None:
            if not isinstance(weeks, list) or not weeks:
                problems.append("週（第○）を1つ以上選んでください。")
            else:
                parsed_weeks = tuple(LAST if w == "last" else _week(w, problems) for w in weeks)
            weekday = _weekday(data.get("weekday"), problems)
        _done(problems)
        assert at_time is not None
        return Monthly(at_time, day, parsed_weeks, weekday, holidays, until)
    raise InvalidRule(["配信スケジュールの種類（1回・毎週・毎月）を指定してください。", *problems])


def _done(problems: list[str]) -> None:
    if problems:
        raise InvalidRule(problems)


def _holidays(value: Any, problems: list[str]) -> HolidayPolicy:
    try:
        return HolidayPolicy(value)
    except ValueError:
        problems.append("祝日の扱いは send・skip・next_weekday のいずれかで指定してください。")
        return HolidayPolicy.SEND


def _weekday(value: Any, problems: list[str]) -> int:
    if value in WEEKDAY_KEYS:
        return WEEKDAY_KEYS.index(value)
    problems.append(f"曜日「{value}」が正しくありません（mon〜sun）。")
    return 0


def _week(value: Any, problems: list[str]) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 5:
        return value
    problems.append(f"週「{value}」が正しくありません（1〜5 または last）。")
    return 1


def _time(value: Any, problems: list[str]) -> time | None:
    try:
        hour, minute = (int(part) for part in str(value).split(":"))
        return time(hour, minute)
    except (ValueError, TypeError):
        problems.append(f"時刻「{value}」が正しくありません（例: 07:30）。")
        return None


def _date(value: Any, problems: list[str]) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        problems.append(f"終了日「{value}」が正しくありません（例: 2027-03-31）。")
        return None


def _datetime(value: Any, problems: list[str]) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        problems.append(f"日時「{value}」が正しくありません（例: 2026-12-01T09:00:00+09:00）。")
        return None
    if moment.tzinfo is None:
        problems.append("日時にはタイムゾーン（+09:00 など）を付けてください。")
        return None
    return moment
