"""友だち数 and its growth by day, as stories in memory: what is counted, on which day, and what is not."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from cityline_common.messagebus import MessageBus
from segment_service.adapters.in_memory import InMemorySegmentData
from segment_service.domain.commands import FollowResident, UnfollowResident
from segment_service.domain.friends import MAX_DAYS, SHARDS, city_timezone, day_of, window
from segment_service.service_layer import views
from segment_service.service_layer.handlers import handlers

TOKYO = ZoneInfo("Asia/Tokyo")
HANAKO, TARO, JIRO = "U" + "a1" * 16, "U" + "b2" * 16, "U" + "c3" * 16


def ms(year, month, day, hour=12, minute=0):
    """A LINE timestamp (ms) of a moment in Japan."""
    return int(datetime(year, month, day, hour, minute, tzinfo=TOKYO).timestamp() * 1000)


NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)  # 12:00 in Itami


@pytest.fixture
def city():
    data = InMemorySegmentData()
    return data, MessageBus(data.uow, handlers(lambda resident_id, line_id: "sealed", TOKYO))


def summary(bus, days=30, now=NOW):
    return bus.query(views.friend_summary(days, TOKYO, now))


def by_day(result):
    return {each.day: (each.follows, each.unfollows) for each in result.days if each.follows or each.unfollows}


def test_follows_and_blocks_are_counted_on_the_citys_day_of_the_event(city):
    _data, bus = city
    bus.handle(FollowResident(HANAKO, ms(2026, 11, 24, 23, 59)))
    bus.handle(FollowResident(TARO, ms(2026, 11, 25, 0, 1)))  # 15:01 UTC on the 24th: the 25th in Itami
    bus.handle(UnfollowResident(HANAKO, ms(2026, 11, 25, 9)))
    bus.handle(FollowResident(HANAKO, ms(2026, 11, 26, 8)))  # she came back

    result = summary(bus)
    assert (result.following, result.blocked) == (2, 0)
    assert by_day(result) == {date(2026, 11, 24): (1, 0), date(2026, 11, 25): (1, 1), date(2026, 11, 26): (1, 0)}
    assert result.today == date(2026, 11, 26) and result.timezone == "Asia/Tokyo"
    assert result.recorded_since == date(2026, 11, 24)


def test_redelivered_late_and_repeated_events_count_nothing(city):
    _data, bus = city
    bus.handle(FollowResident(HANAKO, ms(2026, 11, 20)))
    bus.handle(FollowResident(HANAKO, ms(2026, 11, 20)))  # LINE redelivered it
    bus.handle(UnfollowResident(HANAKO, ms(2026, 11, 22)))
    bus.handle(FollowResident(HANAKO, ms(2026, 11, 21)))  # older than the block: ignored
    bus.handle(UnfollowResident(HANAKO, ms(2026, 11, 23)))  # already blocked

    assert by_day(summary(bus)) == {date(2026, 11, 20): (1, 0), date(2026, 11, 22): (0, 1)}


def test_a_block_by_someone_who_followed_before_the_system_counts_on_its_day(city):
    _data, bus = city
    bus.handle(UnfollowResident(JIRO, ms(2026, 11, 25)))
    result = summary(bus)
    assert (result.following, result.blocked) == (0, 1)
    assert by_day(result) == {date(2026, 11, 25): (0, 1)}


def test_the_series_has_every_day_of_the_window_oldest_first_and_nothing_older(city):
    _data, bus = city
    bus.handle(FollowResident(HANAKO, ms(2026, 10, 1)))  # long before the window
    bus.handle(FollowResident(TARO, ms(2026, 10, 28)))  # the window's first day
    result = summary(bus, days=30)
    assert len(result.days) == 30
    assert result.days[0].day == date(2026, 10, 28) and result.days[-1].day == date(2026, 11, 26)
    assert by_day(result) == {date(2026, 10, 28): (1, 0)}
    assert result.recorded_since == date(2026, 10, 1)
    assert sum(each.follows for each in summary(bus, days=1).days) == 0


def test_nothing_counted_yet_says_so_rather_than_showing_zeros_as_facts(city):
    _data, bus = city
    result = summary(bus, days=7)
    assert result.recorded_since is None and len(result.days) == 7
    assert result.as_json()["recordedSince"] is None


def test_the_summary_as_the_internal_api_answers_it(city):
    _data, bus = city
    bus.handle(FollowResident(HANAKO, ms(2026, 11, 26, 9)))
    answer = summary(bus, days=2).as_json()
    assert answer == {
        "following": 1, "blocked": 0, "timezone": "Asia/Tokyo", "today": "2026-11-26",
        "recordedSince": "2026-11-26",
        "days": [{"date": "2026-11-25", "follows": 0, "unfollows": 0},
                 {"date": "2026-11-26", "follows": 1, "unfollows": 0}],
    }


def test_counts_are_spread_over_shards_and_hold_no_personal_data(city):
    data, bus = city
    for n in range(40):
        bus.handle(FollowResident("U" + f"{n:032x}", ms(2026, 11, 26, 9)))
    assert {shard for _day, shard in data.friend_changes} <= set(range(SHARDS))
    assert len({shard for _day, shard in data.friend_changes}) > 1
    assert sum(follows for follows, _ in data.friend_changes.values()) == 40
    assert "U" not in repr(data.friend_changes)


def test_windows_days_and_time_zones_are_checked():
    with pytest.raises(ValueError, match="days must be"):
        window(date(2026, 11, 26), 0)
    with pytest.raises(ValueError, match="days must be"):
        window(date(2026, 11, 26), MAX_DAYS + 1)
    with pytest.raises(ValueError, match="unknown time zone"):
        city_timezone("Mars/Olympus_Mons")
    assert day_of(ms(2026, 1, 1, 0, 0), city_timezone("Asia/Tokyo")) == date(2026, 1, 1)
    assert day_of(ms(2026, 1, 1, 0, 0), city_timezone("UTC")) == date(2025, 12, 31)


def test_friend_and_block_counts_are_counted_at_most_once_per_max_age(city):
    _data, bus = city
    ticks = [100.0]
    counts = views.StatusCounts(max_age=10.0, clock=lambda: ticks[0])
    bus.handle(FollowResident(HANAKO, ms(2026, 11, 26, 9)))
    assert bus.query(views.friend_summary(30, TOKYO, NOW, counts)).following == 1
    bus.handle(FollowResident(TARO, ms(2026, 11, 26, 10)))
    ticks[0] += 9.9
    cached = bus.query(views.friend_summary(30, TOKYO, NOW, counts))
    assert cached.following == 1  # seconds old: the count of the first ask
    assert by_day(cached) == {date(2026, 11, 26): (2, 0)}  # the day's counters are always read afresh
    ticks[0] += 0.1
    assert bus.query(views.friend_summary(30, TOKYO, NOW, counts)).following == 2
