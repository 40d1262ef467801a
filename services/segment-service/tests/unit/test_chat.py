"""受信設定 in the chat, as stories in memory: taps step through the taxonomy, each change goes through
the same command as the LIFF page, and postback data is never trusted."""

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from cityline_common.messagebus import MessageBus
from segment_service.adapters.in_memory import InMemorySegmentData
from segment_service.contracts import PreferencesChanged
from segment_service.domain import chat
from segment_service.domain.commands import FollowResident, PublishTaxonomy
from segment_service.domain.preferences import ChildBirth
from segment_service.service_layer.chat import STALE, answer_tap, tap_of
from segment_service.service_layer.handlers import handlers
from segment_service.service_layer.preferences import preferences_of_line_user

HANAKO = "U" + "a1" * 16
TOKYO = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
TAXONOMY = yaml.safe_load((Path(__file__).parents[4] / "deploy/demo/itami-taxonomy.yaml").read_text("utf-8"))


@pytest.fixture
def city():
    data = InMemorySegmentData()
    bus = MessageBus(data.uow, handlers(lambda resident_id, line_id: "sealed", TOKYO, clock=lambda: NOW))
    version, _ = bus.handle(PublishTaxonomy(TAXONOMY))
    bus.handle(FollowResident(HANAKO, 1000))
    return data, bus, version


def tap(data, bus, data_text, params=None):
    event = {"type": "postback", "postback": {"data": data_text, **({"params": params} if params else {})}}
    with data.uow() as uow:
        messages = answer_tap(uow, bus, HANAKO, tap_of(event), timezone=TOKYO, now=NOW)
        uow.commit()
    return messages


def labels(messages):
    return [item["action"].get("label") for item in messages[-1]["quickReply"]["items"]]


def answers(bus):
    return bus.query(preferences_of_line_user(HANAKO))


def test_writing_the_words_starts_with_the_categories():
    assert tap_of({"type": "message", "message": {"type": "text", "text": " 受信設定 "}}) == chat.Tap("start")
    assert tap_of({"type": "message", "message": {"type": "text", "text": "設定"}}) == chat.Tap("start")
    assert tap_of({"type": "message", "message": {"type": "text", "text": "ごみの日は?"}}) is None
    assert tap_of({"type": "postback", "postback": {"data": "action=preferences"}}) == chat.Tap("start")
    assert tap_of({"type": "postback", "postback": {"data": "richmenu=tab2"}}) is None  # not ours


def test_a_resident_steps_through_every_question_and_sees_a_summary(city):
    data, bus, v = city
    first = tap(data, bus, "action=preferences")
    assert "子育て" in labels(first) and labels(first)[-1] == "次へ"
    assert "防災・緊急情報" not in labels(first) and "全員にお届けします" in first[0]["text"]
    assert "✓ 子育て" in labels(tap(data, bus, f"pref=cat&v={v}&k=kosodate"))
    tap(data, bus, f"pref=cat&v={v}&k=gomi")
    assert "✓ ごみ・リサイクル" not in labels(tap(data, bus, f"pref=cat&v={v}&k=gomi"))  # a second tap removes it
    districts = tap(data, bus, f"pref=cat-done&v={v}")
    assert len(labels(districts)) <= 13 and labels(districts)[-2:] == ["次へ", "回答しない"]
    more = tap(data, bus, f"pref=show&v={v}&k=dist&p=1")
    assert "鈴原小学校区" in labels(more) and "前へ" in labels(more)
    assert "30代" in labels(tap(data, bus, f"pref=dist&v={v}&k=suzuhara"))
    tap(data, bus, f"pref=age&v={v}&k=30s")
    children = tap(data, bus, f"pref=lang&v={v}&k=-")
    picker = children[0]["quickReply"]["items"][0]["action"]
    assert picker["type"] == "datetimepicker" and picker["data"] == f"pref=child&v={v}"
    tap(data, bus, f"pref=child&v={v}", {"date": "2022-04-10"})
    tap(data, bus, f"pref=child&v={v}", {"date": "2024-01-31"})
    [summary] = tap(data, bus, f"pref=done&v={v}")
    assert summary["type"] == "flex" and summary["altText"] == "受信設定の内容"
    shown = str(summary["contents"])
    assert "子育て" in shown and "鈴原小学校区" in shown and "2022年4月生まれ" in shown
    assert f"pref=show&v={v}&k=dist" in shown  # a button to change each answer

    stored = answers(bus)
    assert stored.categories == {"bousai", "kosodate"} and stored.district == "suzuhara"
    assert (stored.age_band, stored.language) == ("30s", None)
    assert stored.children == (ChildBirth(2022, 4), ChildBirth(2024, 1))
    changes = [each for each in data.emitted() if isinstance(each, PreferencesChanged)]
    assert changes and {each.source for each in changes} == {"chat"}  # the LIFF page's event, from the chat


@pytest.mark.parametrize("forged", [
    "pref=cat&v={v}&k=nosuchcategory",      # not a current key
    "pref=cat&v={v}&k=bousai",              # always delivered: not a choice
    "pref=dist&v={v}&k=kosodate",           # a key of another step
    "pref=age&v={v}&k=30s&x=1",             # not the grammar
    "pref=delete-everything&v={v}",         # no such step
    "pref=cat&v={v}&k=" + "a" * 300,        # too long
    "pref=show&v={v}&k=residents",          # no such section
])
def test_forged_postbacks_change_nothing(city, forged):
    data, bus, v = city
    before = answers(bus)
    with pytest.raises(chat.InvalidPostback):
        tap(data, bus, forged.format(v=v))
    assert answers(bus) == before


def test_a_date_picker_without_a_date_is_refused_and_an_old_button_shows_the_current_choices(city):
    data, bus, v = city
    with pytest.raises(chat.InvalidPostback):
        tap(data, bus, f"pref=child&v={v}", {"date": "2022-13-40"})
    stale = tap(data, bus, f"pref=cat&v={v - 1 if v > 1 else v + 7}&k=kosodate")
    assert stale[0]["text"] == STALE and "子育て" in labels(stale)
    assert answers(bus) is None  # nothing stored from an old button
    refused = tap(data, bus, f"pref=child&v={v}", {"date": "2099-01-01"})  # too far ahead: the command says no
    assert "登録できません" in refused[0]["text"] and answers(bus) is None


def test_a_city_with_many_categories_gets_them_in_pages_within_lines_thirteen_quick_replies():
    data = InMemorySegmentData()
    bus = MessageBus(data.uow, handlers(lambda resident_id, line_id: "sealed", TOKYO, clock=lambda: NOW))
    many = {"municipality": {"code": "999999", "name": "テスト市"},
            "categories": [{"key": f"c{n:02d}", "label": f"分野{n:02d}"} for n in range(25)]}
    v, _ = bus.handle(PublishTaxonomy(many))
    bus.handle(FollowResident(HANAKO, 1000))
    first = tap(data, bus, "action=preferences")
    assert len(labels(first)) == 12 and labels(first)[-2:] == ["ほかの項目", "次へ"]
    third = tap(data, bus, f"pref=show&v={v}&k=cat&p=2")
    assert "分野24" in labels(third) and "前へ" in labels(third)
    again = tap(data, bus, f"pref=cat&v={v}&k=c24&p=2")  # the toggle stays on its page
    assert "✓ 分野24" in labels(again) and all(len(label) <= 20 for label in labels(again))
    assert answers(bus).categories == {"c24"}
