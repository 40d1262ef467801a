"""友だち数 and growth by day against the real database: the counters, and the internal API the
staff console's ダッシュボード calls."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from cityline_common.settings import load_settings
from segment_service.adapters.orm import friend_changes_daily, residents
from segment_service.bootstrap import bootstrap
from segment_service.config import Settings
from segment_service.domain.commands import FollowResident, UnfollowResident
from segment_service.entrypoints.flask_app import create_app
from sqlalchemy import select

from testsupport import internal_headers

pytestmark = pytest.mark.integration


@pytest.fixture
def service(service_env):
    service = bootstrap(load_settings(Settings))
    with service.engine.begin() as connection:  # each test starts from empty tables
        connection.execute(residents.delete())
        connection.execute(friend_changes_daily.delete())
    yield service
    service.engine.dispose()


def line_id(n):
    return "U" + f"{n:032x}"


TOKYO = ZoneInfo("Asia/Tokyo")  # the default CITY_TIMEZONE


def ms_days_ago(days):
    """A LINE timestamp ``days`` days before today at noon in Itami (today: whatever time it is now)."""
    now = datetime.now(UTC).astimezone(TOKYO)
    moment = now if days == 0 else now.replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=days)
    return int(moment.timestamp() * 1000)


def test_changes_are_counted_in_the_same_transaction_and_read_back_by_day(service):
    for n in range(5):
        service.bus.handle(FollowResident(line_id(n), ms_days_ago(2)))
    service.bus.handle(UnfollowResident(line_id(0), ms_days_ago(1)))
    service.bus.handle(UnfollowResident(line_id(0), ms_days_ago(1)))  # again: already blocked, not counted
    service.bus.handle(FollowResident(line_id(0), ms_days_ago(0)))

    client = create_app(service).test_client()
    answer = client.get("/internal/residents/summary?days=3", headers=internal_headers("segment")).json
    assert (answer["following"], answer["blocked"]) == (5, 0)
    assert [(d["follows"], d["unfollows"]) for d in answer["days"]] == [(5, 0), (0, 1), (1, 0)]
    today = datetime.now(TOKYO).date()
    assert [d["date"] for d in answer["days"]] == [(today - timedelta(days=k)).isoformat() for k in (2, 1, 0)]
    assert answer["today"] == today.isoformat() and answer["timezone"] == "Asia/Tokyo"
    assert answer["recordedSince"] == (today - timedelta(days=2)).isoformat()

    with service.engine.connect() as connection:  # counters only: a day, a shard, two numbers
        rows = connection.execute(select(friend_changes_daily)).all()
    assert {tuple(row._mapping) for row in rows} == {("day", "shard", "follows", "unfollows")}
    assert all(isinstance(row.day, date) and 0 <= row.shard < 8 for row in rows)


def test_concurrent_changes_of_one_day_all_count(service):
    def follow(n):
        service.bus.handle(FollowResident(line_id(1000 + n), ms_days_ago(0)))

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(follow, range(40)))
    with service.engine.connect() as connection:
        total = sum(row.follows for row in connection.execute(select(friend_changes_daily)))
    assert total == 40


def test_who_may_ask_and_what_is_refused(service):
    client = create_app(service).test_client()
    viewer = internal_headers("segment", (("総務課", "viewer"),))
    assert client.get("/internal/residents/summary").status_code == 401
    assert client.get("/internal/residents/summary", headers=internal_headers("richmenu")).status_code == 401
    assert client.get("/internal/residents/summary", headers=viewer).status_code == 200
    assert len(client.get("/internal/residents/summary", headers=viewer).json["days"]) == 30  # the default
    as_service = internal_headers("segment", service="dispatcher")
    assert client.get("/internal/residents/summary?days=90", headers=as_service).status_code == 200
    no_roles = internal_headers("segment", ())
    assert client.get("/internal/residents/summary", headers=no_roles).status_code == 403
    for bad in ("0", "91", "-1", "x", "３", "²", "1e2", "9" * 50):
        response = client.get(f"/internal/residents/summary?days={bad}", headers=viewer)
        assert response.status_code == 400, bad
        assert response.json["reason"] == "days must be a whole number from 1 to 90"
