"""Read-side queries (CQRS-lite): plain reads run through ``bus.query``, no aggregates."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from segment_service.domain.analysis import ChoiceTally
from segment_service.domain.friends import FriendSummary, daily_series, today_in, window
from segment_service.domain.taxonomy_history import summarise
from segment_service.service_layer.unit_of_work import AbstractSegmentUnitOfWork

T = TypeVar("T")


def resident_counts(uow: AbstractSegmentUnitOfWork) -> dict[str, int]:
    return uow.residents.count_by_status()


class CountedAtMostEvery(Generic[T]):
    """A value counted at most once per ``max_age`` seconds in a process; one thread counts while the
    others wait for its answer rather than all counting at once."""

    def __init__(self, max_age: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._value: T | None = None
        self._counted_at = 0.0

    def value(self, count: Callable[[], T]) -> T:
        with self._lock:
            if self._value is None or self._clock() - self._counted_at >= self._max_age:
                self._value = count()
                self._counted_at = self._clock()
            return self._value


class StatusCounts(CountedAtMostEvery[dict[str, int]]):
    """友だち数 and ブロック数, at most ``max_age`` seconds old.

    Counting reads every resident's row (tens of milliseconds at a city's size: 60,000 rows took
    12-46 ms on the 2-core machine); the dashboard asks on every page view of every staff member, and
    a count a few seconds old serves as well."""

    def __init__(self, max_age: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(max_age, clock)

    def get(self, uow: AbstractSegmentUnitOfWork) -> dict[str, int]:
        return dict(self.value(uow.residents.count_by_status))


def friend_summary(
    days: int, timezone: ZoneInfo, now: datetime, counts: StatusCounts | None = None,
) -> Callable[[AbstractSegmentUnitOfWork], FriendSummary]:
    """ダッシュボード: 友だち数, ブロック数 and follows/blocks per day for the ``days`` days up to today
    (the city's today at ``now``). Counts by status (from ``counts`` when given: at most seconds
    old), and at most ``days`` × 8 counter rows read by their key (domain/friends.py)."""
    today = today_in(timezone, now)
    first, last = window(today, days)

    def view(uow: AbstractSegmentUnitOfWork) -> FriendSummary:
        counts_now = counts.get(uow) if counts is not None else uow.residents.count_by_status()
        return FriendSummary(
            following=counts_now.get("following", 0), blocked=counts_now.get("blocked", 0), timezone=str(timezone),
            today=today, recorded_since=uow.friend_changes.first_day(),
            days=daily_series(uow.friend_changes.between(first, last), today, days),
        )

    return view


class ChoiceTallies(CountedAtMostEvery[tuple[ChoiceTally, datetime]]):
    """友だち分析's tally and when it was counted, at most ``max_age`` seconds old: it reads every friend's
    row (a second or so at a million friends), staff open the page now and then, and counts a minute old
    serve as well."""

    def __init__(self, max_age: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(max_age, clock)

    def get(self, uow: AbstractSegmentUnitOfWork, now: datetime) -> tuple[ChoiceTally, datetime]:
        return self.value(lambda: (uow.answers.tally(), now))


def choice_tally(tallies: ChoiceTallies, now: datetime) -> Callable[[AbstractSegmentUnitOfWork], dict[str, Any]]:
    """``{"countedAt", "taxonomyVersion", "total": {…}, "districts": [{"district", …}]}``."""

    def view(uow: AbstractSegmentUnitOfWork) -> dict[str, Any]:
        tally, counted_at = tallies.get(uow, now)
        latest = uow.taxonomies.latest()
        return {"countedAt": counted_at.isoformat(), "taxonomyVersion": latest.version if latest else None,
                **tally.as_json()}

    return view


def taxonomy_versions(uow: AbstractSegmentUnitOfWork) -> list[dict[str, Any]]:
    """Every published version, newest first, with what it changed (domain/taxonomy_history.py)."""
    published = [(each.version, each.published_at, each.content_sha256, each.document)
                 for each in uow.taxonomies.all() if each.published_at is not None]
    return [summary.as_json() for summary in summarise(published, uow.answers.removals())]


def current_taxonomy(uow: AbstractSegmentUnitOfWork) -> dict[str, Any] | None:
    latest = uow.taxonomies.latest()
    if latest is None:
        return None
    return {"version": latest.version, "contentSha256": latest.content_sha256, "taxonomy": latest.document}


def account_texts(uow: AbstractSegmentUnitOfWork) -> list[dict[str, Any]]:
    """Every account text: the staff's where set (with who set it), the default otherwise."""
    from segment_service.domain.texts import DEFAULT_TEXTS

    stored = uow.texts.all()
    return [{"key": key, "text": stored[key][0] if key in stored else default, "default": key not in stored,
             "updatedBy": stored[key][1] if key in stored else None}
            for key, default in sorted(DEFAULT_TEXTS.items())]


def greeting_text(key: str) -> Callable[[AbstractSegmentUnitOfWork], str]:
    def view(uow: AbstractSegmentUnitOfWork) -> str:
        from segment_service.domain.texts import DEFAULT_TEXTS

        return uow.texts.get(key) or DEFAULT_TEXTS[key]

    return view
