"""Segments and 受信設定 against the real PostgreSQL: the SQL compiler gives the same members as the
brute-force evaluation (hypothesis, random populations and expressions), answers and their history
are stored through the bus, merges move stored answers, and recipient lists freeze once and stream
by keyset with the LINE user ids opened."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from cityline_common.settings import load_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from segment_service.adapters.answers_repository import SqlAnswersRepository
from segment_service.adapters.orm import (
    plumbing,
    recipient_list_members,
    recipient_lists,
    resident_answers,
    residents,
    segments,
)
from segment_service.adapters.segment_repository import Evaluation, SqlSegmentRepository
from segment_service.adapters.segment_sql import membership
from segment_service.bootstrap import bootstrap
from segment_service.config import Settings
from segment_service.domain.analysis import ChoiceTally, TallyRow
from segment_service.domain.commands import (
    ChangePreferencesOfLineUser,
    FollowResident,
    FreezeRecipients,
    PublishTaxonomy,
    UnfollowResident,
)
from segment_service.domain.preferences import Answers, ChangeSource, ChildBirth
from segment_service.domain.segments import (
    And,
    Answered,
    ChildAge,
    FollowedWithin,
    InKeys,
    Not,
    Or,
    ResidentFacts,
    evaluate,
    is_member,
)
from segment_service.domain.taxonomy import parse_taxonomy
from segment_service.service_layer import segments as segment_views
from segment_service.service_layer import views
from segment_service.service_layer.preferences import preference_history, preferences_of_line_user
from sqlalchemy import select, text

pytestmark = pytest.mark.integration

CATEGORIES = ("bousai", "kosodate", "gomi", "event")
DISTRICTS = ("minami", "inano", "kozu")
AGE_BANDS = ("30s", "40s")
LANGUAGES = ("ja", "en", "vi")
DOCUMENT = {
    "municipality": {"code": "282073", "name": "伊丹市"},
    "categories": [{"key": k, "label": k, **({"always_delivered": True} if k == "bousai" else {})}
                   for k in CATEGORIES],
    "districts": [{"key": k, "label": k} for k in DISTRICTS],
    "age_bands": [{"key": k, "label": k} for k in AGE_BANDS],
    "languages": [{"key": k, "label": k} for k in LANGUAGES],
}
TAXONOMY = parse_taxonomy(DOCUMENT)
NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.date()


def wipe(engine):
    with engine.begin() as connection:
        for table in (recipient_lists, segments, residents, plumbing.outbox):
            connection.execute(table.delete())
        connection.execute(text("DELETE FROM segment.preference_changes"))


@pytest.fixture(scope="module")
def service(migrated_database_url, amqp_url):
    import os

    from testsupport import TEST_KEYS
    previous = dict(os.environ)
    os.environ.update({"DATABASE_URL": migrated_database_url, "AMQP_URL": amqp_url, "LOG_FORMAT": "text", **TEST_KEYS})
    try:
        service = bootstrap(load_settings(Settings))
    finally:
        os.environ.clear()
        os.environ.update(previous)
    wipe(service.engine)
    service.bus.handle(PublishTaxonomy(DOCUMENT))
    yield service
    wipe(service.engine)
    service.engine.dispose()


def line_id(n):
    return "U" + f"{n:032x}"


# --- the property: SQL == brute force ---------------------------------------------------------------

keys = {d: st.frozensets(st.sampled_from(v), min_size=1) for d, v in
        (("categories", CATEGORIES), ("districts", DISTRICTS), ("age_bands", AGE_BANDS), ("languages", LANGUAGES))}
leaves = st.one_of(
    *(st.builds(InKeys, st.just(d), s) for d, s in keys.items()),
    st.tuples(st.integers(0, 20), st.integers(0, 20)).map(lambda ab: ChildAge(min(ab), max(ab))),
    st.builds(FollowedWithin, st.integers(1, 60)),
    st.builds(Answered, st.booleans()),
)
expressions = st.recursive(leaves, lambda inner: st.one_of(
    st.lists(inner, min_size=1, max_size=3).map(lambda parts: And(tuple(parts))),
    st.lists(inner, min_size=1, max_size=3).map(lambda parts: Or(tuple(parts))),
    inner.map(Not)), max_leaves=8)
month_now = TODAY.year * 12 + TODAY.month - 1
answers = st.builds(
    Answers,
    categories=st.frozensets(st.sampled_from(CATEGORIES)),
    district=st.none() | st.sampled_from(DISTRICTS),
    age_band=st.none() | st.sampled_from(AGE_BANDS),
    language=st.none() | st.sampled_from(LANGUAGES),
    children=st.lists(st.integers(month_now - 240, month_now + 9).map(ChildBirth.from_index), max_size=3)
    .map(lambda c: tuple(sorted(c))),
)
population = st.lists(st.tuples(st.booleans(), st.none() | st.integers(0, 90), st.none() | answers), max_size=25)


def store_population(service, people):
    facts = []
    with service.engine.begin() as connection:
        connection.execute(residents.delete())
        repository = SqlAnswersRepository(connection)
        for following, days_ago, given_answers in people:
            resident_id = uuid.uuid4()
            followed_at = NOW - timedelta(days=days_ago, hours=1) if days_ago is not None else None
            connection.execute(residents.insert().values(
                id=resident_id, line_user_id_ct="-", line_user_id_bidx=uuid.uuid4().hex, origin="import",
                status="following" if following else "blocked", status_changed_at_ms=0, followed_at=followed_at))
            if given_answers is not None:
                repository.store(resident_id, given_answers, 1, NOW)
            facts.append(ResidentFacts(resident_id, following, followed_at, given_answers))
    return facts


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(people=population, chosen=st.lists(expressions, min_size=1, max_size=4), with_unanswered=st.booleans())
def test_sql_members_and_counts_equal_the_brute_force_evaluation(service, people, chosen, with_unanswered):
    facts = store_population(service, people)
    with service.engine.connect() as connection:
        codes = SqlAnswersRepository(connection).codes()
        repository = SqlSegmentRepository(connection, service.cipher)
        for expression in chosen:
            expected = {f.resident_id for f in facts
                        if is_member(expression, f, at=NOW, today=TODAY, with_unanswered=with_unanswered)}
            where = membership(expression, codes, at=NOW, today=TODAY, with_unanswered=with_unanswered)
            got = set(connection.execute(select(resident_answers.c.resident_id).where(where)).scalars())
            assert got == expected, expression
            counted = repository.count(Evaluation(expression, codes, NOW, TODAY, with_unanswered))
            following = [f for f in facts if f.following]
            assert counted.recipients == len(expected)
            assert counted.matching == sum(1 for f in following if evaluate(expression, f, NOW, TODAY))
            assert counted.unanswered == sum(1 for f in following if f.answers is None)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(people=population)
def test_the_sql_tally_of_choices_by_district_equals_counting_by_hand(service, people):
    facts = store_population(service, people)
    expected = ChoiceTally.of(
        TallyRow(f.answers.district if f.answers else None, f.answers.age_band if f.answers else None,
                 f.answers.language if f.answers else None, 1, 1 if f.answers else 0,
                 1 if f.answers and f.answers.children else 0,
                 dict.fromkeys(f.answers.categories, 1) if f.answers else {}, following=f.following)
        for f in facts)
    with service.engine.connect() as connection:
        got = SqlAnswersRepository(connection).tally()
    assert got.as_json() == expected.as_json()
    assert got.total().residents == sum(1 for f in facts if f.following)
    assert got.blocked == sum(1 for f in facts if not f.following)


# --- stories through the bus ------------------------------------------------------------------------

def test_answers_history_and_events_are_stored_and_follow_a_merge(service):
    with service.engine.begin() as connection:
        connection.execute(residents.delete())
    for n in range(3):
        service.bus.handle(FollowResident(line_id(n), 1000 + n))
    saved = service.bus.handle(ChangePreferencesOfLineUser(
        line_id(0), Answers(frozenset({"gomi"}), "kozu", "30s", "vi", (ChildBirth(2021, 4),)), ChangeSource.LIFF))
    service.bus.handle(ChangePreferencesOfLineUser(line_id(1), Answers(frozenset({"gomi", "event"})),
                                                   ChangeSource.CHAT))
    assert service.bus.query(preferences_of_line_user(line_id(0))) == saved.answers
    assert saved.answers.categories == {"bousai", "gomi"}
    [change] = service.bus.query(preference_history(saved.resident_id))
    assert change.source is ChangeSource.LIFF and change.before is None and change.after == saved.answers
    with service.engine.connect() as connection:
        [payload] = connection.execute(text(
            "SELECT payload FROM segment.outbox WHERE type = 'segment.PreferencesChanged.v1'"
            " AND payload->>'residentId' = :id"), {"id": str(saved.resident_id)}).scalars()
    assert payload["categories"] == ["bousai", "gomi"] and payload["children"] == ["2021-04"]
    assert line_id(0) not in str(payload)

    merged = {**DOCUMENT, "categories": [c for c in DOCUMENT["categories"] if c["key"] != "gomi"]
              + [{"key": "kankyo", "label": "環境"}],
              "districts": [d for d in DOCUMENT["districts"] if d["key"] != "kozu"]}
    preview = service.bus.query(segment_views.count({"category": ["gomi"]}, "exclude", service.timezone))
    assert preview.recipients == 2
    version, created = service.bus.handle(PublishTaxonomy(merged, {"categories": {"gomi": "kankyo"},
                                                                   "districts": {"kozu": None}}))
    assert created
    assert service.bus.query(preferences_of_line_user(line_id(0))) == Answers(
        frozenset({"bousai", "kankyo"}), None, "30s", "vi", (ChildBirth(2021, 4),))
    assert service.bus.query(preferences_of_line_user(line_id(1))).categories == {"bousai", "kankyo", "event"}
    counted = service.bus.query(segment_views.count({"category": ["kankyo"]}, "exclude", service.timezone))
    assert counted.recipients == 2
    with service.engine.connect() as connection:
        retired = connection.execute(text(
            "SELECT merged_into, retired_version FROM segment.taxonomy_codes WHERE key = 'gomi'")).one()
    assert tuple(retired) == ("kankyo", version)
    newest = service.bus.query(views.taxonomy_versions)[0]
    assert newest["version"] == version and newest["items"]["districts"] == len(DISTRICTS) - 1
    assert {(c["dimension"], c["key"], c["kind"], c["into"]) for c in newest["changes"]} == {
        ("categories", "kankyo", "added", None), ("categories", "gomi", "merged", "kankyo"),
        ("districts", "kozu", "retired", None)}
    # Undoing the merge: gomi comes back with its old code, kankyo's answers return to it.
    codes_before = {k: c for k, c in service.engine.connect().execute(text(
        "SELECT key, code FROM segment.taxonomy_codes WHERE dimension = 'categories'")).all()}
    assert service.bus.handle(PublishTaxonomy(DOCUMENT, {"categories": {"kankyo": "gomi"}}))[1]
    with service.engine.connect() as connection:
        back = connection.execute(text(
            "SELECT code, merged_into, retired_version FROM segment.taxonomy_codes WHERE key = 'gomi'")).all()
    assert [tuple(row) for row in back] == [(codes_before["gomi"], None, None)]
    assert service.bus.query(preferences_of_line_user(line_id(1))).categories == {"bousai", "gomi", "event"}


def test_a_recipient_list_is_frozen_once_and_streamed_by_keyset_with_line_ids(service):
    with service.engine.begin() as connection:
        connection.execute(residents.delete())
    for n in range(7):
        service.bus.handle(FollowResident(line_id(100 + n), 2000 + n))
        if n < 5:
            service.bus.handle(ChangePreferencesOfLineUser(line_id(100 + n), Answers(frozenset({"event"})),
                                                           ChangeSource.CHAT))
    service.bus.handle(UnfollowResident(line_id(100), 9000))  # blocked: never a member

    delivery = f"d-{uuid.uuid4().hex[:8]}"
    first = service.bus.handle(FreezeRecipients(delivery, {"category": ["event"]}))
    assert (first.members, first.created) == (4, True)
    with_bousai = service.bus.handle(FreezeRecipients(f"{delivery}-b", {"category": ["bousai"]}))
    assert with_bousai.members == 6  # auto: bousai is always delivered, so the 2 who never answered too
    service.bus.handle(ChangePreferencesOfLineUser(line_id(105), Answers(frozenset({"event"})), ChangeSource.CHAT))
    again = service.bus.handle(FreezeRecipients(delivery, {"category": ["event"]}))
    assert (again.members, again.created) == (4, False)  # frozen: later answers do not change it

    seen, after = [], 0
    while after is not None:
        page = service.bus.query(segment_views.recipients_page(delivery, after, 3))
        seen.extend(page.members)
        after = page.next_after
    assert [m.position for m in seen] == [1, 2, 3, 4]
    assert {m.line_user_id for m in seen} == {None}  # opaque resident ids by default: no join, nothing opened
    opened, after = [], 0
    while after is not None:
        page = service.bus.query(segment_views.recipients_page(delivery, after, 3, with_line_user_id=True))
        opened.extend(page.members)
        after = page.next_after
    assert [(m.position, m.resident_id) for m in opened] == [(m.position, m.resident_id) for m in seen]
    assert {m.line_user_id for m in opened} == {line_id(100 + n) for n in range(1, 5)}
    assert service.bus.query(segment_views.recipients_page("no-such-delivery", 0, 10)) is None
    with service.engine.connect() as connection:
        assert connection.execute(select(recipient_list_members.c.resident_id)).first() is not None
    # Positions are made without gaps; were one ever missing, a page is read row by row, not misnumbered.
    with service.engine.begin() as connection:
        connection.execute(recipient_list_members.delete().where(
            recipient_list_members.c.position == 2, recipient_list_members.c.list_id == select(
                recipient_lists.c.id).where(recipient_lists.c.delivery_id == delivery).scalar_subquery()))
    gapped = service.bus.query(segment_views.recipients_page(delivery, 0, 3))
    assert [(m.position, m.resident_id) for m in gapped.members] == [(1, seen[0].resident_id),
                                                                     (3, seen[2].resident_id)]
