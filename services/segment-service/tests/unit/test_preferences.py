"""受信設定 as stories, in memory: a resident answers, changes their mind, staff merge and retire keys."""

import uuid
from datetime import UTC, datetime

import pytest
from cityline_common.messagebus import MessageBus
from segment_service.adapters.in_memory import InMemorySegmentData
from segment_service.contracts import PreferencesChanged, TaxonomyKeysRemapped, TaxonomyPublished
from segment_service.domain.commands import (
    ChangePreferences,
    ChangePreferencesOfLineUser,
    FollowResident,
    PublishTaxonomy,
)
from segment_service.domain.preferences import Answers, ChangeSource, ChildBirth, InvalidAnswers
from segment_service.domain.taxonomy import InvalidTaxonomy
from segment_service.service_layer import taxonomy_changes
from segment_service.service_layer.handlers import handlers
from segment_service.service_layer.preferences import (
    NoTaxonomy,
    UnknownResident,
    current_taxonomy,
    preference_history,
    preferences_of,
    preferences_of_line_user,
)

HANAKO = "U" + "a1" * 16
TARO = "U" + "b2" * 16
NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


def document(categories=("bousai", "kosodate", "gomi", "event"), districts=("minami", "inano", "kozu"),
             always=("bousai",)):
    return {
        "municipality": {"code": "282073", "name": "伊丹市"},
        "categories": [{"key": k, "label": k, **({"always_delivered": True} if k in always else {})}
                       for k in categories],
        "districts": [{"key": k, "label": k} for k in districts],
        "age_bands": [{"key": "30s", "label": "30代"}, {"key": "40s", "label": "40代"}],
        "languages": [{"key": "ja", "label": "日本語"}, {"key": "en", "label": "English"}],
    }


@pytest.fixture
def city():
    data = InMemorySegmentData()
    bus = MessageBus(data.uow, handlers(lambda _resident, _line: "sealed", clock=lambda: NOW))
    bus.handle(PublishTaxonomy(document()))
    bus.handle(FollowResident(HANAKO, 1000))
    return data, bus


def changed(data):
    return [c for c in data.emitted() if isinstance(c, PreferencesChanged)]


def test_a_first_answer_is_stored_with_bousai_added_recorded_and_announced_by_resident_id(city):
    data, bus = city
    answers = Answers(frozenset({"kosodate"}), "minami", "30s", "ja", (ChildBirth(2022, 4), ChildBirth(2019, 1)))
    saved = bus.handle(ChangePreferencesOfLineUser(HANAKO, answers, ChangeSource.CHAT))

    assert saved.changed and saved.first_answer and saved.taxonomy_version == 1
    assert saved.answers.categories == {"kosodate", "bousai"}
    assert saved.answers.children == (ChildBirth(2019, 1), ChildBirth(2022, 4))
    assert bus.query(preferences_of_line_user(HANAKO)) == saved.answers
    [event] = changed(data)
    assert event.resident_id == saved.resident_id and event.source == "chat" and event.first_answer
    assert event.categories == ("bousai", "kosodate") and event.district == "minami"
    assert event.children == ("2019-01", "2022-04")
    assert HANAKO not in str(event.payload())
    [change] = bus.query(preference_history(saved.resident_id))
    assert change.before is None and change.after == saved.answers and change.source is ChangeSource.CHAT
    assert change.changed_at == NOW


def test_the_liff_page_changes_the_same_answers_and_the_same_answers_again_change_nothing(city):
    data, bus = city
    first = bus.handle(ChangePreferencesOfLineUser(HANAKO, Answers(frozenset({"gomi"})), ChangeSource.CHAT))
    later = bus.handle(ChangePreferences(first.resident_id, Answers(frozenset({"event"}), "kozu"), ChangeSource.LIFF))
    again = bus.handle(ChangePreferences(first.resident_id, Answers(frozenset({"event"}), "kozu"), ChangeSource.LIFF))

    assert later.changed and not later.first_answer and not again.changed
    assert [e.source for e in changed(data)] == ["chat", "liff"]
    history = bus.query(preference_history(first.resident_id))
    assert [h.source for h in history] == [ChangeSource.CHAT, ChangeSource.LIFF]
    assert history[1].before == first.answers


def test_unknown_keys_are_refused_all_at_once_and_nothing_changes(city):
    data, bus = city
    with pytest.raises(InvalidAnswers) as refused:
        bus.handle(ChangePreferencesOfLineUser(
            HANAKO, Answers(frozenset({"kosodate", "sports"}), "atlantis", language="xx"), ChangeSource.LIFF))
    message = str(refused.value)
    assert "sports" in message and "atlantis" in message and "xx" in message and "known:" in message
    assert changed(data) == [] and bus.query(preferences_of_line_user(HANAKO)) is None


def test_children_far_in_the_future_or_the_past_are_refused(city):
    _data, bus = city
    for child in (ChildBirth(2028, 1), ChildBirth(1990, 1), ChildBirth(2020, 13)):
        with pytest.raises(InvalidAnswers):
            bus.handle(ChangePreferencesOfLineUser(HANAKO, Answers(children=(child,)), ChangeSource.LIFF))
    expected = bus.handle(ChangePreferencesOfLineUser(HANAKO, Answers(children=(ChildBirth(2027, 5),)),
                                                      ChangeSource.LIFF))
    assert expected.changed  # 妊娠中: up to 10 months ahead


def test_strangers_and_an_empty_taxonomy_are_told_apart(city):
    _data, bus = city
    with pytest.raises(UnknownResident):
        bus.handle(ChangePreferencesOfLineUser(TARO, Answers(), ChangeSource.CHAT))
    with pytest.raises(UnknownResident):
        bus.handle(ChangePreferences(uuid.uuid4(), Answers(), ChangeSource.STAFF))
    assert bus.query(preferences_of(uuid.uuid4())) is None
    empty = InMemorySegmentData()
    fresh = MessageBus(empty.uow, handlers(lambda _r, _l: "sealed"))
    fresh.handle(FollowResident(HANAKO, 1))
    with pytest.raises(NoTaxonomy):
        fresh.handle(ChangePreferencesOfLineUser(HANAKO, Answers(), ChangeSource.CHAT))
    assert fresh.query(current_taxonomy) is None
    assert bus.query(current_taxonomy).taxonomy.keys("languages") == ("ja", "en")


def test_merging_and_retiring_keys_moves_the_answers_and_says_how_many_beforehand(city):
    data, bus = city
    bus.handle(FollowResident(TARO, 1001))
    bus.handle(ChangePreferencesOfLineUser(HANAKO, Answers(frozenset({"gomi", "event"}), "kozu"), ChangeSource.CHAT))
    taro = bus.handle(ChangePreferencesOfLineUser(TARO, Answers(frozenset({"gomi"}), "minami"), ChangeSource.LIFF))
    # gomi merges into a new key "kankyo"; district kozu is retired; event stays
    new = document(categories=("bousai", "kosodate", "kankyo", "event"), districts=("minami", "inano"))

    with pytest.raises(InvalidTaxonomy, match="'gomi' is gone but 2 residents chose it"):
        bus.handle(PublishTaxonomy(new))
    mappings = {"categories": {"gomi": "kankyo"}, "districts": {"kozu": None}}
    seen = bus.query(taxonomy_changes.preview(new, mappings))
    assert seen.problems == ()
    assert {(c.dimension, c.key, c.to, c.residents, c.kind) for c in seen.changes} == {
        ("categories", "gomi", "kankyo", 2, "merge"), ("districts", "kozu", None, 1, "retire")}
    assert ("categories", "kankyo") in seen.added

    assert bus.handle(PublishTaxonomy(new, mappings)) == (2, True)
    hanako = bus.query(preferences_of_line_user(HANAKO))
    assert hanako == Answers(frozenset({"bousai", "kankyo", "event"}), None)
    assert bus.query(preferences_of(taro.resident_id)).categories == {"bousai", "kankyo"}
    remapped = [c for c in data.emitted() if isinstance(c, TaxonomyKeysRemapped)]
    assert {(r.dimension, r.from_key, r.to_key, r.residents_moved) for r in remapped} == {
        ("categories", "gomi", "kankyo", 2), ("districts", "kozu", None, 1)}
    assert isinstance(data.emitted()[-1], TaxonomyPublished)
    codes = data.answers.codes
    assert codes.code("categories", "kankyo") not in {codes.code("categories", k) for k in ("bousai", "gomi")}


def test_bad_mappings_are_refused_with_reasons(city):
    _data, bus = city
    new = document(categories=("bousai", "kosodate", "event"))
    refused = bus.query(taxonomy_changes.preview(new, {"categories": {"gomi": "nothing", "event": None},
                                                       "colours": {}}))
    text = " ".join(refused.problems)
    assert "'nothing' is not a key" in text and "event: the key is still" in text and "colours" in text


def test_a_category_made_always_delivered_reaches_everyone_who_answered(city):
    _data, bus = city
    bus.handle(ChangePreferencesOfLineUser(HANAKO, Answers(frozenset({"event"})), ChangeSource.CHAT))
    new = document(always=("bousai", "gomi"))
    [change] = bus.query(taxonomy_changes.preview(new, {})).changes
    assert (change.key, change.kind, change.residents) == ("gomi", "always_delivered", 1)
    bus.handle(PublishTaxonomy(new))
    assert bus.query(preferences_of_line_user(HANAKO)).categories == {"bousai", "gomi", "event"}


def test_answers_round_trip_through_json():
    answers = Answers(frozenset({"a", "b"}), "d", None, "en", (ChildBirth(2020, 2),))
    assert Answers.from_json(answers.as_json()) == answers
    with pytest.raises(InvalidAnswers):
        Answers.from_json({"categories": "a", "children": ["2020-x"]})
