"""Stories of richmenu-service's use cases, in memory: LINE and segment-service are fakes (adapters/in_memory.py)."""

from __future__ import annotations

import io
import uuid
from typing import Any

import pytest
from PIL import Image
from richmenu_service.adapters.in_memory import World, world
from richmenu_service.domain import commands as c
from richmenu_service.service_layer.ports import Conflict, Forbidden, Invalid

AUTHOR = c.Actor("author-1", frozenset({("author", "kosodate")}))
APPROVER = c.Actor("approver-1", frozenset({("approver", "kosodate")}))
OTHER_AUTHOR = c.Actor("author-2", frozenset({("author", "doboku")}))
KOSODATE = "5d1c0c1e-0000-4000-8000-000000000001"


def png(width: int = 2500, height: int = 843) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (20, 90, 160)).save(out, "PNG")
    return out.getvalue()


def tab(alias: str, *, switch_to: str | None = None, x: int = 0) -> dict[str, Any]:
    areas: list[dict[str, Any]] = [{"bounds": {"x": x, "y": 0, "width": 1250, "height": 843},
                                    "action": {"type": "uri", "uri": "https://www.city.itami.lg.jp/", "label": "市HP"}}]
    if switch_to:
        areas.append({"bounds": {"x": 1250, "y": 0, "width": 1250, "height": 843},
                      "action": {"type": "richmenuswitch", "richMenuAliasId": switch_to, "data": f"tab={switch_to}"}})
    return {"aliasId": alias, "name": f"{alias} tab", "chatBarText": "メニュー", "size": {"width": 2500, "height": 843},
            "areas": areas}


def published(w: World, title: str, *tabs: dict[str, Any]) -> uuid.UUID:
    menu_id = w.bus.handle(c.CreateMenu(AUTHOR, title, "kosodate", list(tabs)))
    for number in range(1, len(tabs) + 1):
        w.bus.handle(c.UploadTabImage(AUTHOR, menu_id, number, png()))
    assert w.bus.handle(c.PublishMenu(APPROVER, menu_id, None)) == "published"
    return menu_id


def rule(w: World, kind: str, menu_id: uuid.UUID, **fields: Any) -> uuid.UUID:
    return w.bus.handle(c.SaveRule(APPROVER, None, {"kind": kind, "menuId": str(menu_id), **fields}))


def apply(w: World) -> None:
    while w.bus.handle(c.ApplyRules()) is not None:
        pass


def test_an_invalid_menu_is_refused_with_every_problem_and_nothing_reaches_line() -> None:
    w = world()
    bad = tab("main")
    bad["areas"][0]["bounds"]["width"] = 3000
    bad["chatBarText"] = "とても長いメニューバーの文字です"
    with pytest.raises(Invalid) as refused:
        w.bus.handle(c.CreateMenu(AUTHOR, "くらし", "kosodate", [bad, tab("Bad Alias!")]))
    texts = [str(p) for p in refused.value.problems]
    assert any("はみ出しています" in t for t in texts)
    assert any("メニューバーの文字は14文字以内" in t for t in texts)
    assert any("タブのID「Bad Alias!」" in t for t in texts)
    assert w.line.requests == [] and w.store.menus == {}


def test_only_authors_of_the_department_draft_its_menus() -> None:
    w = world()
    with pytest.raises(Forbidden):
        w.bus.handle(c.CreateMenu(OTHER_AUTHOR, "くらし", "kosodate", [tab("main")]))


def test_a_tab_set_is_published_with_aliases_and_publishing_again_changes_nothing() -> None:
    w = world()
    menu_id = published(w, "くらし", tab("main", switch_to="kosodate"), tab("kosodate", switch_to="main"))
    assert set(w.line.aliases) == {"main", "kosodate"}
    assert w.line.menus[w.line.aliases["main"]]["areas"][1]["action"]["richMenuAliasId"] == "kosodate"
    assert w.bus.handle(c.PublishMenu(APPROVER, menu_id, None)) == "published"
    assert w.line.requests.count("create") == 2


def test_a_menu_without_images_cannot_be_published() -> None:
    w = world()
    menu_id = w.bus.handle(c.CreateMenu(AUTHOR, "くらし", "kosodate", [tab("main")]))
    with pytest.raises(Conflict) as refused:
        w.bus.handle(c.PublishMenu(APPROVER, menu_id, None))
    assert refused.value.code == "not_ready" and "画像がありません" in str(refused.value.problems[0])
    assert w.line.requests == []


def test_past_lines_create_limit_publishing_waits_and_the_worker_publishes_later() -> None:
    w = world()
    menu_id = w.bus.handle(c.CreateMenu(AUTHOR, "くらし", "kosodate", [tab("main")]))
    w.bus.handle(c.UploadTabImage(AUTHOR, menu_id, 1, png()))
    w.line.creates_left = 0
    assert w.bus.handle(c.PublishMenu(APPROVER, menu_id, None)) == "queued"
    assert w.bus.handle(c.RetryPublications()) == 0  # not yet due
    w.line.creates_left = 100
    w.clock.advance(minutes=11)
    assert w.bus.handle(c.RetryPublications()) == 1
    assert "main" in w.line.aliases


def test_segment_members_get_their_menu_and_a_preference_change_relinks_one_resident() -> None:
    w = world()
    everyone = published(w, "くらし", tab("main"))
    parents = published(w, "子育て", tab("kosodate"))
    rule(w, "default", everyone)
    rule(w, "segment", parents, segmentId=KOSODATE)
    mother = w.segments.add("U" + "1" * 32, KOSODATE)
    other = w.segments.add("U" + "2" * 32)
    apply(w)
    assert w.line.default == w.line.aliases["main"]
    assert w.line.links == {"U" + "1" * 32: w.line.aliases["kosodate"]}
    # the other resident answers 子育て in the chat: segment-service says so, the consumer relinks them
    w.segments.residents[other][2].add(KOSODATE)
    assert w.bus.handle(c.RelinkResident(other, "preferences")) == "linked"
    assert w.line.links["U" + "2" * 32] == w.line.aliases["kosodate"]
    # and the mother leaves the segment: back to LINE's default
    w.segments.residents[mother][2].clear()
    assert w.bus.handle(c.RelinkResident(mother, "preferences")) == "unlinked"
    assert "U" + "1" * 32 not in w.line.links
    assert w.bus.handle(c.RelinkResident(mother, "preferences")) == "unchanged"


def test_a_period_menu_starts_and_ends_on_time() -> None:
    w = world()
    everyone = published(w, "くらし", tab("main"))
    summer = published(w, "夏休み", tab("summer"))
    rule(w, "default", everyone)
    rule(w, "period", summer, startsAt="2026-12-01T20:00:00+09:00", endsAt="2026-12-02T00:00:00+09:00")
    apply(w)
    assert w.line.default == w.line.aliases["main"]
    w.clock.advance(hours=1, minutes=59)  # 19:59 JST
    apply(w)
    assert w.line.default == w.line.aliases["main"]
    w.clock.advance(minutes=1)  # 20:00 JST
    apply(w)
    assert w.line.default == w.line.aliases["summer"]
    w.clock.advance(hours=4)  # midnight: the end is exclusive
    apply(w)
    assert w.line.default == w.line.aliases["main"]
    reasons = [change.reason for change in w.store.changes.values()]
    assert reasons[-2:] == ["period_start", "period_end"]


def test_disaster_mode_reaches_everyone_once_each_way_and_is_safe_to_trigger_twice() -> None:
    w = world()
    everyone = published(w, "くらし", tab("main"))
    parents = published(w, "子育て", tab("kosodate"))
    disaster = published(w, "災害時", tab("bousai"))
    rule(w, "default", everyone)
    rule(w, "segment", parents, segmentId=KOSODATE)
    users = [f"U{n:032x}" for n in range(1, 21)]
    for n, user in enumerate(users):
        w.segments.add(user, *([KOSODATE] if n % 3 == 0 else []))
    apply(w)
    opened = w.segments.opened  # the parents' LINE user ids, asked for once
    assert opened == 7
    w.line.users, w.line.history = set(users), {}
    assert w.bus.handle(c.SwitchDisasterMode(APPROVER, True, "console", disaster)) is True
    assert w.bus.handle(c.SwitchDisasterMode(APPROVER, True, "console", None)) is False
    apply(w)
    assert all(w.line.history[user] == [w.line.aliases["bousai"]] for user in users)
    assert w.line.batches == 1 and w.line.links == {}
    w.line.history = {}
    assert w.bus.handle(c.SwitchDisasterMode(APPROVER, False, "console")) is True
    assert w.bus.handle(c.SwitchDisasterMode(APPROVER, False, "console")) is False
    apply(w)
    for n, user in enumerate(users):
        assert w.line.history[user] == [w.line.aliases["kosodate" if n % 3 == 0 else "main"]]
    assert w.segments.opened == opened  # linked again with the LINE user ids kept (sealed) since
    switched = [m.contract for m in w.emitted if type(m.contract).__name__ == "DisasterModeSwitched"]
    assert [s.on for s in switched] == [True, False]


def test_the_batch_budget_spent_disaster_mode_unlinks_in_bulk() -> None:
    w = world()
    everyone = published(w, "くらし", tab("main"))
    parents = published(w, "子育て", tab("kosodate"))
    disaster = published(w, "災害時", tab("bousai"))
    rule(w, "default", everyone)
    rule(w, "segment", parents, segmentId=KOSODATE)
    for n in range(3):
        w.segments.add(f"U{n:032x}", KOSODATE)
    apply(w)
    for _ in range(2):
        w.bus.handle(c.SwitchDisasterMode(APPROVER, True, "console", disaster))
        apply(w)
        w.bus.handle(c.SwitchDisasterMode(APPROVER, False, "console"))
        apply(w)
    assert w.line.batches == 2
    w.bus.handle(c.SwitchDisasterMode(APPROVER, True, "console", disaster))
    apply(w)
    w.bus.handle(c.SwitchDisasterMode(APPROVER, False, "console"))
    apply(w)
    w.bus.handle(c.SwitchDisasterMode(APPROVER, True, "console", disaster))
    apply(w)
    assert w.line.batches == 3 and w.line.links == {}
    assert list(w.store.changes.values())[-1].method == "bulk"


def test_reconcile_puts_back_a_menu_deleted_behind_our_back_and_relinks_its_residents() -> None:
    w = world()
    everyone = published(w, "くらし", tab("main"))
    parents = published(w, "子育て", tab("kosodate"))
    rule(w, "default", everyone)
    rule(w, "segment", parents, segmentId=KOSODATE)
    w.segments.add("U" + "1" * 32, KOSODATE)
    apply(w)
    w.line.delete_menu(w.line.aliases["kosodate"])  # someone deletes it in LINE's console
    report = w.bus.handle(c.Reconcile())
    assert [r["why"] for r in report["recreated"]] == ["deleted"]
    assert w.line.aliases["kosodate"] in w.line.menus
    apply(w)
    assert w.line.links == {"U" + "1" * 32: w.line.aliases["kosodate"]}
    assert w.bus.handle(c.Reconcile())["recreated"] == []


def test_a_rule_needs_a_published_menu_and_the_right_role() -> None:
    w = world()
    draft = w.bus.handle(c.CreateMenu(AUTHOR, "くらし", "kosodate", [tab("main")]))
    with pytest.raises(Conflict):
        rule(w, "default", draft)
    menu_id = published(w, "くらし2", tab("main2"))
    with pytest.raises(Forbidden):
        w.bus.handle(c.SaveRule(AUTHOR, None, {"kind": "default", "menuId": str(menu_id)}))
    with pytest.raises(Invalid):
        rule(w, "period", menu_id, startsAt="2026-12-02T00:00:00+09:00", endsAt="2026-12-01T00:00:00+09:00")


def test_the_demo_seeds_a_default_city_menu_and_a_disaster_menu_once() -> None:
    from richmenu_service.entrypoints.cli import seed_demo

    w = world()
    assert seed_demo(w.bus)["seeded"] is True
    assert set(w.line.aliases) == {"itami-main", "itami-bousai"}
    apply(w)
    assert w.line.default == w.line.aliases["itami-main"]
    assert len(w.line.menus[w.line.default]["areas"]) == 6
    assert seed_demo(w.bus)["seeded"] is False
