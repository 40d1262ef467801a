"""Friends by the day: how many residents followed and blocked the account on each day. Plain Python.

A resident's status change (友だち追加 / ブロック) is counted on the city's calendar day of the LINE
event that caused it, in the same transaction as the change, so the counts are the changes the
service applied: a redelivered event, or one older than the resident's latest change (LINE may
deliver out of order), changes nothing and counts nothing. The counts hold no personal data — a
day, and how many.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

CITY_TIMEZONE = "Asia/Tokyo"
MAX_DAYS = 90  # the longest series the internal API answers
DEFAULT_DAYS = 30
# Counters of one day are spread over a few rows (the resident id picks one), so consumers recording
# changes of the same day at once do not queue on one row lock. Reads add the rows up.
SHARDS = 8


class FriendChange(enum.Enum):
    FOLLOW = "follow"  # 友だち追加 (a first follow, or coming back after a block)
    UNFOLLOW = "unfollow"  # ブロック


def city_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name[:64]!r}") from None


def day_of(occurred_at_ms: int, timezone: ZoneInfo) -> date:
    """The city's calendar day of a LINE event's timestamp (milliseconds since the epoch)."""
    return datetime.fromtimestamp(occurred_at_ms / 1000, UTC).astimezone(timezone).date()


def today_in(timezone: ZoneInfo, now: datetime) -> date:
    return now.astimezone(timezone).date()


def shard_of(resident_id_int: int) -> int:
    return resident_id_int % SHARDS


@dataclass(frozen=True)
class DailyChanges:
    day: date
    follows: int
    unfollows: int


@dataclass(frozen=True)
class FriendSummary:
    """友だち数, ブロック数 and the changes of the last ``len(days)`` days (oldest first, today last).

    ``recorded_since``: the first day anything was counted (None: nothing yet); days before it
    are not known, rather than zero."""

    following: int
    blocked: int
    timezone: str
    today: date
    recorded_since: date | None
    days: tuple[DailyChanges, ...]

    def as_json(self) -> dict[str, object]:
        return {
            "following": self.following,
            "blocked": self.blocked,
            "timezone": self.timezone,
            "today": self.today.isoformat(),
            "recordedSince": self.recorded_since.isoformat() if self.recorded_since else None,
            "days": [{"date": each.day.isoformat(), "follows": each.follows, "unfollows": each.unfollows}
                     for each in self.days],
        }


def window(today: date, days: int) -> tuple[date, date]:
    """The first and last day of a series of ``days`` days ending today."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be from 1 to {MAX_DAYS}")
    return today - timedelta(days=days - 1), today


def daily_series(counts: dict[date, tuple[int, int]], today: date, days: int) -> tuple[DailyChanges, ...]:
    """Every day of the window, a day without a count as zero: (follows, unfollows) per day."""
    first, _last = window(today, days)
    series = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        follows, unfollows = counts.get(day, (0, 0))
        series.append(DailyChanges(day, follows, unfollows))
    return tuple(series)
