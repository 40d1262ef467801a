"""Segments in memory: the expression language, its readable errors, and the handler stories
(count previews, saved segments per department, recipient lists frozen once)."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from cityline_common.messagebus import MessageBus
from segment_service.adapters.in_memory import InMemorySegmentData
from segment_service.domain.commands import (
    ChangePreferencesOfLineUser,
    DeleteSegment,
    FollowResident,
    FreezeRecipients,
    PublishTaxonomy,
    SaveSegment,
    UnfollowResident,
)
from segment_service.domain.preferences import Answers, ChangeSource, ChildBirth
from segment_service.domain.segments import (
    And,
    ChildAge,
    FollowedWithin,
    InKeys,
    InvalidSegment,
    Not,
    ResidentFacts,
    Unanswered,
    conditions,
    evaluate,
    include_unanswered,
    parse_expression,
    to_json,
)
from segment_service.domain.taxonomy import parse_taxonomy
from segment_service.service_layer import segments
from segment_service.service_layer.handlers import handlers
from segment_service.service_layer.segments import SegmentForbidden

TOKYO = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
DOCUMENT = {
    "municipality": {"code": "282073", "name": "伊丹市"},
    "categories": [{"key": "bousai", "label": "防災", "always_delivered": True},
                   {"key": "kosodate", "label": "子育て"}, {"key": "event", "label": "イベント"}],
    "districts": [{"key": "minami", "label": "南"}, {"key": "inano", "label": "稲野"},
                  {"key": "kozu", "label": "神津"}],
    "age_bands": [{"key": "30s", "label": "30代"}],
    "languages": [{"key": "ja", "label": "日本語"}, {"key": "en", "label": "English"}],
}
TAXONOMY = parse_taxonomy(DOCUMENT)
EXAMPLE = {"and": [{"category": ["kosodate"]}, {"district": ["minami", "inano"]}, {"child_age": {"between": [3, 5]}}]}


def test_the_issue_example_parses_and_round_trips():
    expression = parse_expression(EXAMPLE, TAXONOMY)
    assert expression == And((InKeys("categories", frozenset({"kosodate"})),
                              InKeys("districts", frozenset({"minami", "inano"})), ChildAge(3, 5)))
    assert parse_expression(to_json(expression), TAXONOMY) == expression and conditions(expression) == 3


def test_every_mistake_is_named_with_its_place():
    with pytest.raises(InvalidSegment) as refused:
        parse_expression({"and": [{"district": ["atlantis"]}, {"child_age": {"between": [5, 3]}},
                                  {"or": []}, {"followed_within_days": 0}, {"colour": ["red"]},
                                  {"not": {"answered": "yes"}}]}, TAXONOMY)
    message = str(refused.value)
    for expected in ("segment.and[0].district: unknown districts 'atlantis' (known: minami, inano, kozu)",
                     "segment.and[1].child_age", "segment.and[2].or: a non-empty list",
                     "segment.and[3].followed_within_days", "unknown condition 'colour'",
                     "segment.and[5].not.answered: true or false"):
        assert expected in message
    with pytest.raises(InvalidSegment, match="nested deeper"):
        deep: dict = {"answered": True}
        for _ in range(10):
            deep = {"not": deep}
        parse_expression(deep, TAXONOMY)


def test_children_ages_follow_the_calendar():
    facts = ResidentFacts(None, True, None, Answers(children=(ChildBirth(2021, 11),)))  # type: ignore[arg-type]
    assert evaluate(ChildAge(5, 5), facts, NOW, date(2026, 11, 1))
    assert not evaluate(ChildAge(5, 5), facts, NOW, date(2026, 10, 31))  # still 4 in October
    assert evaluate(ChildAge(3, 5), facts, NOW, date(2024, 11, 1))
    expecting = ResidentFacts(None, True, None, Answers(children=(ChildBirth(2027, 3),)))  # type: ignore[arg-type]
    assert not evaluate(ChildAge(0, 2), expecting, NOW, date(2026, 11, 26))


def test_not_means_not_also_for_those_who_never_answered():
    unanswered = ResidentFacts(None, True, NOW - timedelta(days=3), None)  # type: ignore[arg-type]
    assert not evaluate(InKeys("districts", frozenset({"minami"})), unanswered, NOW, NOW.date())
    assert evaluate(Not(InKeys("districts", frozenset({"minami"}))), unanswered, NOW, NOW.date())
    assert evaluate(FollowedWithin(7), unanswered, NOW, NOW.date())
    assert not evaluate(FollowedWithin(2), unanswered, NOW, NOW.date())


def test_the_unanswered_are_included_by_default_only_for_an_always_delivered_category():
    bousai = parse_expression({"category": ["bousai"]}, TAXONOMY)
    event = parse_expression({"category": ["event"]}, TAXONOMY)
    negated = parse_expression({"not": {"category": ["bousai"]}}, TAXONOMY)
    assert include_unanswered(Unanswered.AUTO, bousai, TAXONOMY)
    assert not include_unanswered(Unanswered.AUTO, event, TAXONOMY)
    assert not include_unanswered(Unanswered.AUTO, negated, TAXONOMY)
    assert include_unanswered(Unanswered.INCLUDE, event, TAXONOMY)
    assert not include_unanswered(Unanswered.EXCLUDE, bousai, TAXONOMY)


def line_id(n):
    return "U" + f"{n:032x}"


@pytest.fixture
def city():
    data = InMemorySegmentData()
    bus = MessageBus(data.uow, handlers(lambda _r, _l: "sealed", TOKYO, clock=lambda: NOW))
    bus.handle(PublishTaxonomy(DOCUMENT))
    for n in range(6):
        bus.handle(FollowResident(line_id(n), 1000 + n))
    bus.handle(ChangePreferencesOfLineUser(line_id(0), Answers(frozenset({"kosodate"}), "minami",
                                                               children=(ChildBirth(2022, 1),)), ChangeSource.CHAT))
    bus.handle(ChangePreferencesOfLineUser(line_id(1), Answers(frozenset({"kosodate"}), "kozu",
                                                               children=(ChildBirth(2022, 1),)), ChangeSource.LIFF))
    bus.handle(ChangePreferencesOfLineUser(line_id(2), Answers(frozenset({"event"}), "inano"), ChangeSource.LIFF))
    bus.handle(ChangePreferencesOfLineUser(line_id(3), Answers(frozenset({"kosodate"}), "inano",
                                                               children=(ChildBirth(2025, 1),)), ChangeSource.CHAT))
    bus.handle(UnfollowResident(line_id(3), 9000))  # blocked: never counted
    return data, bus


def test_a_count_preview_reports_the_unanswered_separately(city):
    _data, bus = city
    counted = bus.query(segments.count(EXAMPLE, "auto", TOKYO))
    assert (counted.matching, counted.unanswered, counted.recipients, counted.unanswered_included) == (1, 2, 1, False)
    everyone = bus.query(segments.count({"category": ["bousai"]}, "auto", TOKYO))
    assert (everyone.matching, everyone.recipients, everyone.unanswered_included) == (3, 5, True)
    assert bus.query(segments.count({"category": ["bousai"]}, "exclude", TOKYO)).recipients == 3
    with pytest.raises(InvalidSegment, match="unanswered"):
        bus.query(segments.count(EXAMPLE, "sometimes", TOKYO))


def test_segments_are_saved_and_changed_only_in_departments_the_caller_may_edit(city):
    _data, bus = city
    saved = bus.handle(SaveSegment("南と稲野の3〜5歳", "子育て支援課", EXAMPLE, "staff-7", frozenset({"子育て支援課"})))
    assert saved.created
    with pytest.raises(SegmentForbidden):
        bus.handle(SaveSegment("x", "子育て支援課", EXAMPLE, "staff-8", frozenset({"広報課"}), saved.id))
    with pytest.raises(SegmentForbidden):
        bus.handle(DeleteSegment(saved.id, frozenset({"広報課"})))
    with pytest.raises(InvalidSegment):
        bus.handle(SaveSegment("x", "子育て支援課", {"district": ["nowhere"]}, "staff-7", None))
    bus.handle(SaveSegment("改名", "子育て支援課", EXAMPLE, "staff-9", None, saved.id))  # システム管理者
    [segment] = bus.query(segments.saved_segments(frozenset({"子育て支援課"})))
    assert (segment.name, segment.created_by, segment.updated_by) == ("改名", "staff-7", "staff-9")
    assert bus.query(segments.saved_segments(frozenset({"広報課"}))) == []
    assert bus.handle(DeleteSegment(saved.id, None)) and not bus.handle(DeleteSegment(saved.id, None))


def test_a_recipient_list_is_frozen_once_per_delivery_and_paged_by_keyset(city):
    _data, bus = city
    saved = bus.handle(SaveSegment("子育て", "子育て支援課", {"category": ["kosodate"]}, "staff-7", None))
    first = bus.handle(FreezeRecipients("delivery-1", segment_id=saved.id))
    assert (first.members, first.created) == (2, True)
    bus.handle(ChangePreferencesOfLineUser(line_id(4), Answers(frozenset({"kosodate"})), ChangeSource.CHAT))
    again = bus.handle(FreezeRecipients("delivery-1", {"category": ["event"]}))
    assert (again.members, again.created) == (2, False)
    page = bus.query(segments.recipients_page("delivery-1", 0, 1))
    assert len(page.members) == 1 and page.next_after == 1
    rest = bus.query(segments.recipients_page("delivery-1", page.next_after, 10))
    assert rest.next_after is None
    assert {m.line_user_id for m in page.members + rest.members} == {None}  # opaque ids by default
    opened = bus.query(segments.recipients_page("delivery-1", 0, 10, with_line_user_id=True))
    assert [m.resident_id for m in opened.members] == [m.resident_id for m in page.members + rest.members]
    assert {m.line_user_id for m in opened.members} == {line_id(0), line_id(1)}
    with pytest.raises(InvalidSegment):
        bus.handle(FreezeRecipients("delivery-2"))
