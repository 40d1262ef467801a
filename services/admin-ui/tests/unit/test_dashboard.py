"""ダッシュボード as a story, in memory: one cheap call to segment-service on behalf of the member,
and the figures shaped for the page (table and chart)."""

from datetime import date, timedelta

import pytest
from admin_ui.adapters.internal_api import AbstractInternalApi, parse_friend_figures
from admin_ui.domain.commands import ShowDashboard
from admin_ui.domain.dashboard import DASHBOARD_DAYS, DayFigures, FriendFigures
from admin_ui.domain.status import ServiceStatus, StatusTarget
from admin_ui.service_layer.handlers import handlers
from cityline_common.internal_auth import RoleGrant, StaffClaims
from cityline_common.messagebus import MessageBus
from cityline_common.unit_of_work import InMemoryUnitOfWork

VIEWER = StaffClaims("staff-1", (RoleGrant("総務課", "viewer"),))
TODAY = date(2026, 11, 26)


def figures(changes, since=TODAY - timedelta(days=29)):
    """``changes``: (follows, unfollows) per day, oldest first, ending today."""
    first = TODAY - timedelta(days=len(changes) - 1)
    days = tuple(DayFigures(first + timedelta(days=k), f, u, since is not None and first + timedelta(days=k) >= since)
                 for k, (f, u) in enumerate(changes))
    return FriendFigures(1200, 34, TODAY, "Asia/Tokyo", since, days)


class SegmentOnly(AbstractInternalApi):
    def __init__(self, answer):
        self.answer = answer
        self.asked: list[tuple[StaffClaims, int]] = []

    def readiness(self, targets: list[StatusTarget]) -> list[ServiceStatus]:
        raise AssertionError("the dashboard probes no process (that is システム状態's work)")

    def resident_counts(self, staff):
        raise AssertionError("the dashboard asks for the summary, counts included")

    def friend_figures(self, staff, days):
        self.asked.append((staff, days))
        return self.answer


class AdminUnitOfWork(InMemoryUnitOfWork):
    pass


def test_the_dashboard_asks_segment_service_once_on_behalf_of_the_member():
    platform = SegmentOnly(figures([(1, 0)] * 30))
    board = MessageBus(AdminUnitOfWork, handlers(platform, [])).handle(ShowDashboard(staff=VIEWER))
    assert board.friends is not None and board.friends.following == 1200
    assert platform.asked == [(VIEWER, DASHBOARD_DAYS)]


def test_a_silent_segment_service_leaves_the_figures_out_rather_than_wrong():
    board = MessageBus(AdminUnitOfWork, handlers(SegmentOnly(None), [])).handle(ShowDashboard(staff=VIEWER))
    assert board.friends is None


def test_totals_and_the_table_newest_first():
    shown = figures([(3, 1), (0, 0), (5, 2)], since=TODAY - timedelta(days=1))
    assert (shown.follows_total, shown.unfollows_total, shown.net_total) == (8, 3, 5)
    assert [d.day for d in shown.newest_first] == [TODAY, TODAY - timedelta(days=1), TODAY - timedelta(days=2)]
    assert [d.recorded for d in shown.newest_first] == [True, True, False]
    assert shown.partly_unrecorded
    assert [d.net for d in shown.days] == [2, 0, 3]


def test_the_chart_puts_follows_above_the_line_and_blocks_below_on_one_scale():
    chart = figures([(4, 0), (0, 0), (2, 1)]).chart(width=300, height=100)
    assert chart.axis_y == 50 and chart.peak == 4
    follows = [bar for bar in chart.bars if bar.kind == "follows"]
    blocks = [bar for bar in chart.bars if bar.kind == "unfollows"]
    assert [bar.value for bar in follows] == [4, 2] and [bar.value for bar in blocks] == [1]
    for bar in follows:
        assert bar.y + bar.height == pytest.approx(50)  # stands on the zero line
    assert blocks[0].y == 50  # hangs from it
    assert follows[0].height == pytest.approx(46)  # the peak fills the half, 4 units clear
    assert follows[1].height == pytest.approx(23) and blocks[0].height == pytest.approx(11.5)
    assert all(bar.x >= 0 and bar.x + bar.width <= 300 for bar in chart.bars)
    assert follows[1].x > follows[0].x  # oldest left, today right


def test_a_quiet_month_draws_no_bars():
    assert figures([(0, 0)] * 30).chart().bars == ()


ANSWER = {"following": 12, "blocked": 3, "timezone": "Asia/Tokyo", "today": "2026-11-26",
          "recordedSince": "2026-11-25",
          "days": [{"date": "2026-11-24", "follows": 0, "unfollows": 0},
                   {"date": "2026-11-25", "follows": 2, "unfollows": 1},
                   {"date": "2026-11-26", "follows": 1, "unfollows": 0}]}


def test_segment_services_answer_is_read_strictly():
    shown = parse_friend_figures(ANSWER)
    assert shown is not None and (shown.following, shown.blocked) == (12, 3)
    assert [d.recorded for d in shown.days] == [False, True, True]
    assert parse_friend_figures(None) is None
    for broken in ({**ANSWER, "following": -1}, {**ANSWER, "blocked": "3"}, {**ANSWER, "following": True},
                   {**ANSWER, "days": "none"}, {**ANSWER, "today": "yesterday"},
                   {**ANSWER, "days": list(reversed(ANSWER["days"]))}, {k: v for k, v in ANSWER.items() if k != "days"},
                   [ANSWER]):
        with pytest.raises((KeyError, TypeError, ValueError)):
            parse_friend_figures(broken)
