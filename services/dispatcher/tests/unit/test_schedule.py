"""予約配信 and 定期配信 as stories on Japan's real calendar: 勤労感謝の日 on a Monday, Silver Week, month ends,
第2・第4水曜, and the words staff read on the screen."""

import json
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from dispatcher.domain.schedule import (
    LAST,
    HolidayPolicy,
    InvalidRule,
    Monthly,
    Once,
    Weekly,
    describe,
    next_occurrence,
    next_weekday,
    occurrences,
    rule_from_dict,
    rule_to_dict,
)

TOKYO = ZoneInfo("Asia/Tokyo")
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def jst(year, month, day, hour=0, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=TOKYO)


def test_a_weekly_monday_send_on_labour_thanksgiving_day():
    # 2026-11-23 (月) is 勤労感謝の日.
    friday = jst(2026, 11, 20, 12)
    monday = lambda policy: Weekly(frozenset({MON}), time(7, 30), policy)  # noqa: E731
    assert next_occurrence(monday(HolidayPolicy.SEND), friday) == jst(2026, 11, 23, 7, 30)
    assert next_occurrence(monday(HolidayPolicy.SKIP), friday) == jst(2026, 11, 30, 7, 30)
    assert next_occurrence(monday(HolidayPolicy.NEXT_WEEKDAY), friday) == jst(2026, 11, 24, 7, 30)


def test_the_answer_is_in_japan_time_and_the_input_may_be_any_zone():
    rule = Weekly(frozenset({MON}), time(7, 30))
    found = next_occurrence(rule, datetime(2026, 11, 22, 22, 0, tzinfo=UTC))  # 07:00 JST Monday
    assert found == jst(2026, 11, 23, 7, 30) and found.tzinfo == TOKYO
    assert next_occurrence(rule, jst(2026, 11, 23, 7, 30)) == jst(2026, 11, 30, 7, 30)  # strictly after


def test_golden_week_moves_to_the_first_working_day():
    # 5/4 みどりの日, 5/5 こどもの日, 5/6 振替休日 in 2026.
    assert next_weekday(date(2026, 5, 4)) == date(2026, 5, 7)
    rule = Weekly(frozenset({MON}), time(9, 0), HolidayPolicy.NEXT_WEEKDAY)
    assert next_occurrence(rule, jst(2026, 5, 1)) == jst(2026, 5, 7, 9, 0)


def test_a_moved_monday_still_counts_after_the_monday_has_passed():
    rule = Weekly(frozenset({MON}), time(9, 0), HolidayPolicy.NEXT_WEEKDAY)
    # On the holiday itself, after 9:00, the send moved to Tuesday is still ahead.
    assert next_occurrence(rule, jst(2026, 11, 23, 18)) == jst(2026, 11, 24, 9, 0)


def test_a_moved_send_landing_on_another_occurrence_is_one_send():
    rule = Weekly(frozenset({MON, TUE}), time(9, 0), HolidayPolicy.NEXT_WEEKDAY)
    assert occurrences(rule, jst(2026, 11, 22), 3) == [jst(2026, 11, 24, 9), jst(2026, 11, 30, 9), jst(2026, 12, 1, 9)]


def test_the_second_and_fourth_wednesday():
    rule = Monthly(time(10, 0), weeks=(2, 4), weekday=WED)
    assert occurrences(rule, jst(2026, 12, 1), 3) == [jst(2026, 12, 9, 10), jst(2026, 12, 23, 10), jst(2027, 1, 13, 10)]


def test_the_fourth_wednesday_of_silver_week_moves_to_thursday():
    # 2026-09-23 (水) is 秋分の日, the 4th Wednesday; 9/21 and 9/22 are holidays too.
    rule = Monthly(time(10, 0), weeks=(2, 4), weekday=WED, holidays=HolidayPolicy.NEXT_WEEKDAY)
    assert occurrences(rule, jst(2026, 9, 1), 2) == [jst(2026, 9, 9, 10), jst(2026, 9, 24, 10)]
    skipping = Monthly(time(10, 0), weeks=(2, 4), weekday=WED, holidays=HolidayPolicy.SKIP)
    assert occurrences(skipping, jst(2026, 9, 1), 2) == [jst(2026, 9, 9, 10), jst(2026, 10, 14, 10)]


def test_the_last_friday_and_a_missing_fifth_wednesday():
    assert next_occurrence(Monthly(time(17), weeks=(LAST,), weekday=FRI), jst(2026, 11, 1)) == jst(2026, 11, 27, 17)
    fifth = Monthly(time(10), weeks=(5,), weekday=WED)  # Nov 2026 has four Wednesdays; Dec has five
    assert next_occurrence(fifth, jst(2026, 11, 1)) == jst(2026, 12, 30, 10)


def test_the_31st_falls_on_the_last_day_of_shorter_months():
    rule = Monthly(time(9), day=31)
    assert occurrences(rule, jst(2027, 1, 31, 12), 3) == [jst(2027, 2, 28, 9), jst(2027, 3, 31, 9), jst(2027, 4, 30, 9)]
    assert next_occurrence(Monthly(time(9), day=30), jst(2028, 2, 1)) == jst(2028, 2, 29, 9)  # leap year


def test_an_end_date_stops_the_series():
    rule = Weekly(frozenset({THU}), time(9), until=date(2026, 12, 10))
    assert occurrences(rule, jst(2026, 12, 1), 5) == [jst(2026, 12, 3, 9), jst(2026, 12, 10, 9)]
    # A send moved past the end date does not happen.
    moved = Weekly(frozenset({MON}), time(9), HolidayPolicy.NEXT_WEEKDAY, until=date(2026, 11, 23))
    assert next_occurrence(moved, jst(2026, 11, 20)) is None


def test_once_happens_once():
    rule = Once(jst(2026, 12, 1, 9))
    assert next_occurrence(rule, jst(2026, 11, 30)) == jst(2026, 12, 1, 9)
    assert next_occurrence(rule, jst(2026, 12, 1, 9)) is None
    assert next_occurrence(Once(jst(2026, 11, 23, 9), HolidayPolicy.NEXT_WEEKDAY), jst(2026, 11, 1)) == jst(
        2026, 11, 24, 9)
    assert next_occurrence(Once(jst(2026, 11, 23, 9), HolidayPolicy.SKIP), jst(2026, 11, 1)) is None


@pytest.mark.parametrize(("rule", "words"), [
    (Weekly(frozenset({MON, THU}), time(7, 30), HolidayPolicy.NEXT_WEEKDAY), "毎週 月・木 7:30（祝日は翌平日）"),
    (Weekly(frozenset({SAT}), time(18, 0), until=date(2027, 3, 31)), "毎週 土 18:00、2027年3月31日まで"),
    (Monthly(time(10), weeks=(4, 2), weekday=WED), "毎月 第2・第4水曜 10:00"),
    (Monthly(time(10), weeks=(LAST,), weekday=FRI, holidays=HolidayPolicy.SKIP),
     "毎月 最終金曜 10:00（祝日は配信しない）"),
    (Monthly(time(9), day=15), "毎月 15日 9:00"),
    (Monthly(time(9), day=31), "毎月 31日 9:00（ない月は月末）"),
    (Monthly(time(9), day=30, holidays=HolidayPolicy.NEXT_WEEKDAY), "毎月 30日 9:00（ない月は月末・祝日は翌平日）"),
    (Once(datetime(2026, 11, 30, 23, 0, tzinfo=UTC)), "2026年12月1日（火）8:00"),
])
def test_rules_in_words_for_the_screen(rule, words):
    assert describe(rule) == words


@pytest.mark.parametrize("rule", [
    Once(jst(2026, 12, 1, 9)),
    Weekly(frozenset({MON, THU}), time(7, 30), HolidayPolicy.NEXT_WEEKDAY, until=date(2027, 3, 31)),
    Monthly(time(10), weeks=(2, 4), weekday=WED, holidays=HolidayPolicy.SKIP),
    Monthly(time(10), weeks=(LAST,), weekday=FRI),
    Monthly(time(9), day=31),
])
def test_rules_round_trip_through_json(rule):
    stored = json.loads(json.dumps(rule_to_dict(rule)))
    assert rule_from_dict(stored) == rule


def test_the_stored_form_is_readable():
    rule = Monthly(time(10), weeks=(2, 4), weekday=WED, holidays=HolidayPolicy.NEXT_WEEKDAY)
    assert rule_to_dict(rule) == {"kind": "monthly", "time": "10:00", "weeks": [2, 4], "weekday": "wed",
                                  "holidays": "next_weekday"}


@pytest.mark.parametrize(("data", "problem"), [
    ({"kind": "weekly", "weekdays": [], "time": "07:30"}, "曜日を1つ以上選んでください。"),
    ({"kind": "weekly", "weekdays": ["mon"], "time": "25:00"}, "時刻「25:00」が正しくありません（例: 07:30）。"),
    ({"kind": "weekly", "weekdays": ["getsu"], "time": "07:30"}, "曜日「getsu」が正しくありません（mon〜sun）。"),
    ({"kind": "monthly", "time": "09:00"}, "「毎月○日」か「第○○曜日」のどちらか一方を指定してください。"),
    ({"kind": "monthly", "time": "09:00", "day": 32}, "日は1〜31で指定してください。"),
    ({"kind": "monthly", "time": "09:00", "weeks": [6], "weekday": "wed"},
     "週「6」が正しくありません（1〜5 または last）。"),
    ({"kind": "once", "at": "2026-12-01T09:00:00"}, "日時にはタイムゾーン（+09:00 など）を付けてください。"),
    ({"kind": "weekly", "weekdays": ["mon"], "time": "07:30", "holidays": "maybe"},
     "祝日の扱いは send・skip・next_weekday のいずれかで指定してください。"),
    ({"kind": "daily"}, "配信スケジュールの種類（1回・毎週・毎月）を指定してください。"),
    ("weekly", "配信スケジュールの形式が正しくありません。"),
])
def test_bad_stored_rules_are_refused_in_japanese(data, problem):
    with pytest.raises(InvalidRule) as refused:
        rule_from_dict(data)
    assert problem in refused.value.problems


def test_naive_moments_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        next_occurrence(Weekly(frozenset({MON}), time(9)), datetime(2026, 11, 20))
    with pytest.raises(InvalidRule):
        Once(datetime(2026, 12, 1, 9))
