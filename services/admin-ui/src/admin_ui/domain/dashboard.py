"""ダッシュボード: 友だち数, ブロック数 and 日別の増減, as staff read them. Plain Python.

The figures come from segment-service (its internal API); this module only shapes them for the page:
the table of days (newest first) and the bars of an inline SVG chart, whose geometry is computed
here so the template needs no arithmetic and no inline style (CSP ``style-src 'self'``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

DASHBOARD_DAYS = 30


@dataclass(frozen=True)
class DayFigures:
    day: date
    follows: int  # 友だち追加
    unfollows: int  # ブロック
    recorded: bool  # False: before counting began (unknown, not zero)

    @property
    def net(self) -> int:
        return self.follows - self.unfollows


@dataclass(frozen=True)
class Bar:
    """One bar of the chart, in the SVG's user units (y grows downwards)."""

    x: float
    y: float
    width: float
    height: float
    kind: str  # "follows" | "unfollows"
    day: date
    value: int


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    axis_y: float  # the zero line
    bars: tuple[Bar, ...]
    peak: int  # the largest daily value the scale is drawn for


@dataclass(frozen=True)
class FriendFigures:
    following: int  # 友だち数
    blocked: int  # ブロック数
    today: date
    timezone: str
    recorded_since: date | None
    days: tuple[DayFigures, ...]  # oldest first, today last

    @property
    def follows_total(self) -> int:
        return sum(each.follows for each in self.days)

    @property
    def unfollows_total(self) -> int:
        return sum(each.unfollows for each in self.days)

    @property
    def net_total(self) -> int:
        return self.follows_total - self.unfollows_total

    @property
    def newest_first(self) -> tuple[DayFigures, ...]:
        return tuple(reversed(self.days))

    @property
    def partly_unrecorded(self) -> bool:
        return any(not each.recorded for each in self.days)

    def chart(self, width: int = 600, height: int = 160, gap: float = 2.0) -> Chart:
        """Follows as bars above the zero line, blocks below it, one slot per day (oldest left)."""
        slots = max(len(self.days), 1)
        slot = width / slots
        bar_width = max((slot - gap) / 2, 0.5)
        peak = max([1, *(each.follows for each in self.days), *(each.unfollows for each in self.days)])
        half = height / 2
        scale = (half - 4) / peak  # keep 4 units clear at the top and bottom
        bars: list[Bar] = []
        for index, each in enumerate(self.days):
            left = index * slot + gap / 2
            if each.follows:
                tall = each.follows * scale
                bars.append(Bar(round(left, 2), round(half - tall, 2), round(bar_width, 2), round(tall, 2),
                                "follows", each.day, each.follows))
            if each.unfollows:
                tall = each.unfollows * scale
                bars.append(Bar(round(left + bar_width, 2), half, round(bar_width, 2), round(tall, 2),
                                "unfollows", each.day, each.unfollows))
        return Chart(width, height, half, tuple(bars), peak)


@dataclass(frozen=True)
class Dashboard:
    friends: FriendFigures | None  # None: segment-service did not answer (or refused)


def whole_count(value: object) -> int:
    """A count from another service's answer: a whole number ≥ 0, or ValueError (never shown as a fact)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError("a count is a whole number ≥ 0")
    return value
