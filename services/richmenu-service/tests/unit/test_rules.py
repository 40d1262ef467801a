"""Who sees which menu in Itami: disaster mode beats everything, a year-end period menu starts and ends on
Japan time, the 子育て menu comes back when the period ends; and what each change means for LINE."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from richmenu_service.domain.rules import (
    BULK_MAX,
    InvalidRule,
    Kind,
    MassMethod,
    MenuRef,
    Rule,
    change_scope,
    chunks,
    covers_everyone,
    effective_menu,
    in_force,
    japan_days,
    line_default_menu,
    link_target,
    mass_method,
    next_boundary,
    relink_plan,
    winning_rule,
)

TOKYO = ZoneInfo("Asia/Tokyo")
MAIN, KOSODATE, NENMATSU, SAIGAI, KITA = (MenuRef(m) for m in ("main", "kosodate", "nenmatsu", "saigai", "kita"))
CREATED = datetime(2026, 4, 1, 9, 0, tzinfo=TOKYO)


def jst(*args):
    return datetime(*args, tzinfo=TOKYO)


def member_of(segment, resident):
    """A resident here is the set of segments they belong to; segment-service would evaluate expressions."""
    return segment in resident


DEFAULT = Rule("default", Kind.DEFAULT, MAIN, CREATED)
PARENTS = Rule("parents", Kind.SEGMENT, KOSODATE, CREATED, segment="子育て")
YEAR_END = Rule("year-end", Kind.PERIOD, NENMATSU, CREATED, starts_at=jst(2026, 12, 28), ends_at=jst(2027, 1, 4))
DISASTER_ON = Rule("disaster", Kind.DISASTER, SAIGAI, CREATED, enabled=True)
DISASTER_OFF = Rule("disaster", Kind.DISASTER, SAIGAI, CREATED, enabled=False)
NORMAL = [DEFAULT, PARENTS, YEAR_END, DISASTER_OFF]
PARENT, OTHER = frozenset({"子育て"}), frozenset()


def menu(resident, rules, at):
    return effective_menu(resident, rules, at, member_of)


# -- stories ---------------------------------------------------------------------------------------------------

def test_an_ordinary_day():
    day = jst(2026, 11, 26, 12)
    assert menu(PARENT, NORMAL, day) == KOSODATE
    assert menu(OTHER, NORMAL, day) == MAIN


def test_the_year_end_menu_outranks_the_segment_menu_and_ends_on_time():
    assert menu(PARENT, NORMAL, jst(2026, 12, 27, 23, 59, 59)) == KOSODATE
    assert menu(PARENT, NORMAL, jst(2026, 12, 28)) == NENMATSU  # start inclusive
    assert menu(PARENT, NORMAL, jst(2027, 1, 3, 23, 59, 59)) == NENMATSU
    assert menu(PARENT, NORMAL, jst(2027, 1, 4)) == KOSODATE  # end exclusive: back to the 子育て menu
    assert menu(OTHER, NORMAL, jst(2027, 1, 4)) == MAIN


def test_disaster_mode_beats_everything():
    rules = [DEFAULT, PARENTS, YEAR_END, DISASTER_ON]
    for at in (jst(2026, 11, 26), jst(2026, 12, 30)):
        assert menu(PARENT, rules, at) == SAIGAI
        assert menu(OTHER, rules, at) == SAIGAI


def test_a_disaster_menu_for_one_district_only():
    kita = Rule("disaster-kita", Kind.DISASTER, KITA, CREATED, segment="地区:北")
    rules = [*NORMAL, kita]
    assert menu(frozenset({"地区:北", "子育て"}), rules, jst(2026, 12, 30)) == KITA
    assert menu(PARENT, rules, jst(2026, 12, 30)) == NENMATSU


def test_among_one_kind_the_priority_number_then_the_newest():
    older = Rule("a", Kind.SEGMENT, MenuRef("older"), CREATED, segment="子育て")
    newer = Rule("b", Kind.SEGMENT, MenuRef("newer"), CREATED + timedelta(days=1), segment="子育て")
    important = Rule("c", Kind.SEGMENT, MenuRef("important"), CREATED, segment="子育て", priority=10)
    assert menu(PARENT, [older, newer], jst(2026, 11, 26)) == MenuRef("newer")
    assert menu(PARENT, [older, newer, important], jst(2026, 11, 26)) == MenuRef("important")
    assert winning_rule(PARENT, [important, newer], jst(2026, 11, 26), member_of) is important


def test_no_rule_means_no_menu():
    assert menu(OTHER, [PARENTS], jst(2026, 11, 26)) is None
    assert menu(OTHER, [], jst(2026, 11, 26)) is None


def test_a_period_entered_as_days_is_japan_days():
    start, end = japan_days(date(2026, 12, 1), date(2026, 12, 31))
    assert (start, end) == (jst(2026, 12, 1), jst(2027, 1, 1))
    december = Rule("dec", Kind.PERIOD, NENMATSU, CREATED, starts_at=start, ends_at=end)
    # 2026-11-30 15:00 UTC is 12/1 0:00 in Japan; 2026-12-31 15:00 UTC is 1/1 0:00.
    assert not in_force(december, datetime(2026, 11, 30, 14, 59, 59, tzinfo=UTC))
    assert in_force(december, datetime(2026, 11, 30, 15, 0, tzinfo=UTC))
    assert in_force(december, datetime(2026, 12, 31, 14, 59, 59, tzinfo=UTC))
    assert not in_force(december, datetime(2026, 12, 31, 15, 0, tzinfo=UTC))


def test_the_clock_must_be_aware():
    with pytest.raises(ValueError, match="aware"):
        in_force(DEFAULT, datetime(2026, 11, 26))


def test_next_boundary_says_when_to_look_again():
    assert next_boundary(NORMAL, jst(2026, 11, 26)) == jst(2026, 12, 28)
    assert next_boundary(NORMAL, jst(2026, 12, 28)) == jst(2027, 1, 4)
    assert next_boundary(NORMAL, jst(2027, 1, 4)) is None


@pytest.mark.parametrize(("kwargs", "problems"), [
    (dict(kind=Kind.DEFAULT, segment="子育て"), ["既定のメニューにはセグメントを指定できません。"]),
    (dict(kind=Kind.SEGMENT), ["セグメント別メニューにはセグメントを指定してください。"]),
    (dict(kind=Kind.PERIOD), ["期間限定メニューには開始と終了の日時を指定してください。"]),
    (dict(kind=Kind.PERIOD, starts_at=jst(2026, 12, 2), ends_at=jst(2026, 12, 2)),
     ["終了日時は開始日時より後にしてください。"]),
    (dict(kind=Kind.PERIOD, starts_at=datetime(2026, 12, 1), ends_at=datetime(2026, 12, 2)),
     ["開始と終了の日時にはタイムゾーンが必要です。"]),
    (dict(kind=Kind.DISASTER, starts_at=jst(2026, 12, 1)), ["災害モードのルールには期間を指定できません。"]),
])
def test_rules_that_cannot_be_used(kwargs, problems):
    with pytest.raises(InvalidRule) as caught:
        Rule("r", menu=MAIN, created_at=CREATED, **kwargs)
    assert caught.value.problems == problems


# -- what a change means for LINE ------------------------------------------------------------------------------

def test_residents_on_the_default_menu_need_no_link():
    day = jst(2026, 11, 26)
    assert line_default_menu(NORMAL, day) == MAIN
    assert link_target(OTHER, NORMAL, day, member_of) is None
    assert link_target(PARENT, NORMAL, day, member_of) == KOSODATE


def test_disaster_mode_on_is_one_mass_change_that_unlinks_everyone():
    day = jst(2026, 11, 26)
    after = [DEFAULT, PARENTS, YEAR_END, DISASTER_ON]
    scope = change_scope(NORMAL, after, day, day)
    assert scope.mass and scope.everyone and scope.unlink_all
    assert (scope.default_before, scope.default_after) == (MAIN, SAIGAI)
    assert covers_everyone(after, day)
    assert mass_method(scope, batch_requests_last_hour=0) is MassMethod.BATCH_UNLINK_ALL
    assert mass_method(scope, batch_requests_last_hour=3) is MassMethod.BULK  # batch control is 3 per hour

    residents = [(f"r{i}", PARENT if i % 2 else OTHER) for i in range(2002)]
    plan = relink_plan(residents, NORMAL, after, before_at=day, after_at=day, member_of=member_of)
    assert plan.set_default and plan.default_menu == SAIGAI and plan.links == {}
    assert [len(c) for c in plan.unlinks] == [500, 500, 1]  # only the 1,001 parents had links


def test_disaster_mode_off_relinks_only_segment_members():
    day = jst(2026, 11, 26)
    on = [DEFAULT, PARENTS, YEAR_END, DISASTER_ON]
    scope = change_scope(on, NORMAL, day, day)
    assert scope.mass and not scope.unlink_all and scope.segments == {"子育て"}
    residents = [("p1", PARENT), ("o1", OTHER), ("p2", PARENT)]
    plan = relink_plan(residents, on, NORMAL, before_at=day, after_at=day, member_of=member_of)
    assert plan.set_default and plan.default_menu == MAIN
    assert plan.links == {KOSODATE: [["p1", "p2"]]} and plan.unlinks == []


def test_triggering_disaster_mode_twice_changes_nothing():
    day = jst(2026, 11, 26)
    on = [DEFAULT, PARENTS, DISASTER_ON]
    scope = change_scope(on, on, day, day)
    assert scope.nothing and mass_method(scope, 0) is MassMethod.NONE
    plan = relink_plan([("p1", PARENT)], on, on, before_at=day, after_at=day, member_of=member_of)
    assert not plan.set_default and plan.residents == 0


def test_the_year_end_period_starting_and_ending_is_a_mass_change():
    before, start = jst(2026, 12, 27, 23, 59), jst(2026, 12, 28)
    scope = change_scope(NORMAL, NORMAL, before, start)
    assert scope.mass and scope.unlink_all and scope.default_after == NENMATSU
    end = change_scope(NORMAL, NORMAL, jst(2027, 1, 3, 23, 59), jst(2027, 1, 4))
    assert end.mass and end.default_after == MAIN and end.segments == {"子育て"}
    plan = relink_plan([("p", PARENT), ("o", OTHER)], NORMAL, NORMAL, before_at=jst(2027, 1, 3, 23, 59),
                       after_at=jst(2027, 1, 4), member_of=member_of)
    assert plan.links == {KOSODATE: [["p"]]}


def test_a_new_segment_rule_concerns_only_its_members():
    day = jst(2026, 11, 26)
    elderly = Rule("elderly", Kind.SEGMENT, MenuRef("kenko"), CREATED, segment="年代:65+")
    scope = change_scope(NORMAL, [*NORMAL, elderly], day, day)
    assert not scope.mass and scope.segments == {"年代:65+"}
    assert mass_method(scope, 3) is MassMethod.BULK


def test_a_period_for_one_segment_starting_is_not_a_mass_change():
    summer = Rule("summer", Kind.PERIOD, MenuRef("natsu"), CREATED, segment="子育て",
                  starts_at=jst(2026, 7, 20), ends_at=jst(2026, 9, 1))
    scope = change_scope([*NORMAL, summer], [*NORMAL, summer], jst(2026, 7, 19, 23), jst(2026, 7, 20))
    assert not scope.mass and scope.segments == {"子育て"}


def test_a_new_default_relinks_the_segment_whose_menu_was_the_old_default():
    # 子育て members were shown MAIN through LINE's default (no link); MAIN stops being the default.
    day = jst(2026, 11, 26)
    same_as_default = Rule("parents", Kind.SEGMENT, MAIN, CREATED, segment="子育て")
    new_default = Rule("default", Kind.DEFAULT, MenuRef("main-2027"), CREATED)
    plan = relink_plan([("p", PARENT), ("o", OTHER)], [DEFAULT, same_as_default], [new_default, same_as_default],
                       before_at=day, after_at=day, member_of=member_of)
    assert plan.set_default and plan.default_menu == MenuRef("main-2027")
    assert plan.links == {MAIN: [["p"]]}


def test_a_segment_rule_added_during_disaster_mode_needs_no_batch():
    day = jst(2026, 11, 26)
    on = [DEFAULT, PARENTS, DISASTER_ON]
    elderly = Rule("elderly", Kind.SEGMENT, MenuRef("kenko"), CREATED, segment="年代:65+")
    scope = change_scope(on, [*on, elderly], day, day)
    assert not scope.mass and not scope.unlink_all
    plan = relink_plan([("e", frozenset({"年代:65+"}))], on, [*on, elderly], before_at=day, after_at=day,
                       member_of=member_of)
    assert plan.residents == 0  # still the disaster menu, through LINE's default


def test_chunks_of_at_most_500():
    ids = [str(i) for i in range(1001)]
    assert [len(c) for c in chunks(ids)] == [BULK_MAX, BULK_MAX, 1]
    assert chunks([]) == []


# -- property: the plan always leaves every resident seeing their menu -------------------------------------------

SEGMENTS = ("a", "b", "c")
MENUS = [MenuRef(m) for m in ("m1", "m2", "m3", "m4")]
T0 = jst(2026, 12, 1)


@st.composite
def rules_st(draw):
    rules = []
    for number in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(list(Kind)))
        segment = None if kind is Kind.DEFAULT else draw(st.sampled_from([None, *SEGMENTS]))
        if kind is Kind.SEGMENT and segment is None:
            segment = "a"
        period = {}
        if kind is Kind.PERIOD:
            start = T0 + timedelta(hours=draw(st.integers(-3, 3)))
            period = dict(starts_at=start, ends_at=start + timedelta(hours=draw(st.integers(1, 4))))
        rules.append(Rule(f"r{number}", kind, draw(st.sampled_from(MENUS)), CREATED + timedelta(days=number),
                          segment=segment, priority=draw(st.integers(0, 2)), enabled=draw(st.booleans()), **period))
    return rules


residents_st = st.lists(st.frozensets(st.sampled_from(SEGMENTS)), max_size=12)


@settings(deadline=None, max_examples=300)
@given(before=rules_st(), after=rules_st(), residents=residents_st, hours=st.integers(0, 5), same_rules=st.booleans())
def test_applying_the_plan_shows_everyone_their_menu(before, after, residents, hours, same_rules):
    after = before if same_rules else after
    before_at, after_at = T0 - timedelta(hours=2), T0 - timedelta(hours=2) + timedelta(hours=hours)
    people = [(f"u{i}", r) for i, r in enumerate(residents)]
    links = {uid: link_target(r, before, before_at, member_of) for uid, r in people}
    default = line_default_menu(before, before_at)

    plan = relink_plan(people, before, after, before_at=before_at, after_at=after_at, member_of=member_of)
    if plan.set_default:
        default = plan.default_menu
    for target, groups in plan.links.items():
        for uid in (uid for group in groups for uid in group):
            links[uid] = target
    for uid in (uid for group in plan.unlinks for uid in group):
        links[uid] = None

    scope = change_scope(before, after, before_at, after_at)
    for uid, resident in people:
        shown = links[uid] if links[uid] is not None else default
        assert shown == effective_menu(resident, after, after_at, member_of)
        # Whoever changes is inside the scope the service would look at.
        changed = link_target(resident, before, before_at, member_of) != link_target(resident, after, after_at,
                                                                                      member_of)
        if changed and not scope.everyone:
            assert resident & scope.segments
        if scope.unlink_all:
            assert link_target(resident, after, after_at, member_of) is None
    assert plan.set_default == scope.default_changed
