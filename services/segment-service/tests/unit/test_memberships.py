"""Memberships and member lists in memory (richmenu-service's questions): the handler stories the SQL
integration tests repeat against PostgreSQL (tests/integration/test_richmenu_api.py)."""

import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from cityline_common.messagebus import MessageBus
from segment_service.adapters.in_memory import InMemorySegmentData
from segment_service.domain.commands import (
    ChangePreferencesOfLineUser,
    FollowResident,
    FreezeRecipients,
    PublishTaxonomy,
    SaveSegment,
    UnfollowResident,
)
from segment_service.domain.preferences import Answers, ChangeSource
from segment_service.domain.segments import InvalidSegment
from segment_service.service_layer import segments
from segment_service.service_layer.handlers import handlers

TOKYO = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
DOCUMENT = {
    "municipality": {"code": "282073", "name": "伊丹市"},
    "categories": [{"key": "bousai", "label": "防災", "always_delivered": True},
                   {"key": "kosodate", "label": "子育て"}],
    "districts": [{"key": "minami", "label": "南"}],
}


def line_id(n):
    return "U" + f"{n:032x}"


@pytest.fixture
def city():
    data = InMemorySegmentData()
    bus = MessageBus(data.uow, handlers(lambda _r, _l: "sealed", TOKYO, clock=lambda: NOW))
    bus.handle(PublishTaxonomy(DOCUMENT))
    for n in range(4):
        bus.handle(FollowResident(line_id(n), 1000 + n))
    bus.handle(ChangePreferencesOfLineUser(line_id(0), Answers(frozenset({"kosodate"}), "minami"), ChangeSource.CHAT))
    bus.handle(ChangePreferencesOfLineUser(line_id(1), Answers(frozenset()), ChangeSource.CHAT))
    bus.handle(ChangePreferencesOfLineUser(line_id(3), Answers(frozenset({"kosodate"})), ChangeSource.CHAT))
    bus.handle(UnfollowResident(line_id(3), 9000))
    ids = {n: next(r.id for r in data.residents.values() if r.line_user_id == line_id(n)) for n in range(4)}
    kosodate = bus.handle(SaveSegment("子育て", "子育て支援課", {"category": ["kosodate"]}, "staff-1", None)).id
    bousai = bus.handle(SaveSegment("防災", "防災危機管理課", {"category": ["bousai"]}, "staff-1", None)).id
    return bus, ids, kosodate, bousai


def test_memberships_exclude_the_unanswered_and_the_unfollowed(city):
    bus, ids, kosodate, bousai = city
    unknown = uuid.uuid4()
    member = bus.query(segments.memberships(ids[0], [bousai, kosodate, unknown, kosodate], TOKYO, NOW))
    assert member.as_json() == {"residentId": str(ids[0]), "following": True, "lineUserId": line_id(0),
                                "memberOf": [str(bousai), str(kosodate)], "unknownSegments": [str(unknown)]}
    assert bus.query(segments.memberships(ids[1], [bousai, kosodate], TOKYO, NOW)).member_of == [bousai]
    assert bus.query(segments.memberships(ids[2], [bousai, kosodate], TOKYO, NOW)).member_of == []  # unanswered
    blocked = bus.query(segments.memberships(ids[3], [bousai, kosodate], TOKYO, NOW))
    assert (blocked.resident.following, blocked.resident.line_user_id, blocked.member_of) == (False, None, [])
    assert bus.query(segments.memberships(uuid.uuid4(), [bousai], TOKYO, NOW)) is None
    with pytest.raises(InvalidSegment):
        segments.memberships(ids[0], [uuid.uuid4() for _ in range(101)], TOKYO)


def test_a_member_list_is_a_frozen_recipient_list_under_its_own_name(city):
    bus, _ids, _kosodate, bousai = city
    name = segments.member_list_name("tab-bousai_1")
    assert name == "richmenu:tab-bousai_1"
    frozen = bus.handle(FreezeRecipients(name, None, bousai, "exclude"))
    assert (frozen.members, frozen.created) == (2, True)
    page = bus.query(segments.recipients_page(name, 0, 10, with_line_user_id=True))
    assert {m.line_user_id for m in page.members} == {line_id(0), line_id(1)}
    for bad in ("", "x" * 41, "a.b", "ü"):
        with pytest.raises(InvalidSegment):
            segments.member_list_name(bad)
