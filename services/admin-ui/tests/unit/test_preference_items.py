"""受信設定の項目, 友だち分析 and the greetings as stories, in memory: the editor's form becomes the
document and mappings segment-service publishes, only システム管理者 publishes (against the version
they edited), every publish and greeting change is in the 操作ログ, and nothing is recorded when
segment-service refuses."""

from datetime import UTC, datetime

import pytest
from admin_ui.adapters.in_memory import FastHasher, InMemoryAdminData, NoPlatform
from admin_ui.domain.commands import (
    CreateDepartment,
    PreviewPreferenceItems,
    PublishPreferenceItems,
    SetAccountText,
    ShowFriendAnalysis,
    ShowPreferenceItems,
)
from admin_ui.domain.friend_analysis import parse_analysis
from admin_ui.domain.permissions import DepartmentForbidden, Grant, Role
from admin_ui.domain.preference_items import ItemsDraft, ItemsFormError
from admin_ui.domain.segments import SegmentForm, SegmentRefused, builder_choices, describe
from admin_ui.service_layer.handlers import handlers
from cityline_common.messagebus import MessageBus
from werkzeug.datastructures import MultiDict

from .test_segments import TAXONOMY, member


class FakeTaxonomy(NoPlatform):
    """segment-service's taxonomy API: versions in a list, greetings in a dict."""

    def __init__(self):
        self.current = TAXONOMY
        self.published: list[tuple[dict, dict]] = []
        self.texts = {"greeting": "ようこそ", "greeting_refollow": "おかえりなさい"}
        self.refuse: SegmentRefused | None = None

    def taxonomy(self, staff):
        return self.current

    def taxonomy_versions(self, staff):
        return {"versions": [{"version": 3, "publishedAt": "2026-11-20T01:00:00+00:00", "items": {"categories": 2},
                              "changes": [{"dimension": "categories", "key": "gomi", "kind": "merged",
                                           "label": "ごみ", "into": "kankyo", "intoLabel": "環境"}]}]}

    def resident_choices(self, staff):
        return {"countedAt": "2026-11-26T00:00:00+00:00", "blocked": 4,
                "total": {"residents": 30, "answered": 20, "withChildren": 5, "categories": {"kosodate": 12}},
                "districts": [{"district": None, "residents": 10, "answered": 0, "withChildren": 0},
                              {"district": "inano", "residents": 20, "answered": 20, "withChildren": 5,
                               "categories": {"kosodate": 12, "bousai": 20}, "age_bands": {"30s": 7}}]}

    def preview_taxonomy(self, staff, document, mappings):
        if self.refuse:
            raise self.refuse
        return {"changes": [{"dimension": d, "key": k, "to": to, "residents": 9, "kind": "merge" if to else "retire"}
                            for d, m in mappings.items() for k, to in m.items()], "added": [], "problems": []}

    def publish_taxonomy(self, staff, document, mappings):
        if self.refuse:
            raise self.refuse
        self.published.append((document, mappings))
        self.current = {"version": self.current["version"] + 1, "taxonomy": document}
        return {"version": self.current["version"], "created": True}

    def account_texts(self, staff):
        return {"texts": [{"key": k, "text": v, "default": False, "updatedBy": None} for k, v in self.texts.items()]}

    def set_account_text(self, staff, key, text):
        if self.refuse:
            raise self.refuse
        self.texts[key] = text


@pytest.fixture
def city():
    data = InMemoryAdminData()
    platform = FakeTaxonomy()
    bus = MessageBus(data.uow, handlers(platform, [], hasher=FastHasher()))
    bus.handle(CreateDepartment(None, "kosodate", "子育て支援課"))
    return data, bus, platform


EDIT = MultiDict([
    ("item-categories-kosodate-label", "子育て・教育"),  # renamed
    ("item-categories-bousai-always", "on"),
    ("item-districts-inano-action", "merge"), ("item-districts-inano-into", "minami"),
    ("new-languages-key", "vi"), ("new-languages-label", "Tiếng Việt"),
])


def test_the_editor_form_becomes_the_document_and_the_mappings():
    draft = ItemsDraft.of(TAXONOMY).with_form(EDIT)
    document = draft.document()
    assert document["categories"] == [{"key": "bousai", "label": "防災・緊急情報", "always_delivered": True},
                                      {"key": "kosodate", "label": "子育て・教育"}]
    assert [d["key"] for d in document["districts"]] == ["minami"]
    assert document["languages"] == [{"key": "ja", "label": "日本語"}, {"key": "vi", "label": "Tiếng Việt"}]
    assert draft.mappings() == {"districts": {"inano": "minami"}}
    assert draft.changed() and not ItemsDraft.of(TAXONOMY).with_form(MultiDict([
        ("item-categories-bousai-always", "on")])).changed()
    assert draft.fingerprint() != ItemsDraft.of(TAXONOMY).with_form(MultiDict([
        ("item-categories-bousai-always", "on")])).fingerprint()


@pytest.mark.parametrize("fields", [
    [("item-districts-inano-action", "merge")],  # merged into nothing
    [("item-districts-inano-action", "merge"), ("item-districts-inano-into", "minami"),
     ("item-districts-minami-action", "retire")],  # into an item that goes too
    [("new-districts-key", "Kita Ku"), ("new-districts-label", "北")],  # not a key
    [("new-districts-key", "minami"), ("new-districts-label", "南")],  # a key in use
    [("item-categories-kosodate-label", "")],
    [("item-categories-bousai-action", "retire"), ("item-categories-kosodate-action", "retire")],  # nothing left
])
def test_an_editor_form_that_cannot_be_published_says_why(fields):
    with pytest.raises(ItemsFormError) as refused:
        ItemsDraft.of(TAXONOMY).with_form(MultiDict([("item-categories-bousai-always", "on"), *fields]))
    assert refused.value.problems


def test_an_administrator_previews_and_publishes_and_the_publish_is_in_the_audit_log(city):
    data, bus, platform = city
    admin, claims = member(data, bus, "kanri", Grant(Role.ADMIN))
    page = bus.handle(ShowPreferenceItems(claims))
    assert page.draft.version == 3 and page.versions[0].changes[0].into_label == "環境"
    assert page.chosen.total.count("categories", "kosodate") == 12
    draft = page.draft.with_form(EDIT)
    preview = bus.handle(PreviewPreferenceItems(claims, draft))
    assert [(c.key, c.into, c.residents) for c in preview.changes] == [("inano", "minami", 9)]
    assert not platform.published  # a preview changes nothing
    version = bus.handle(PublishPreferenceItems(admin.id, claims, draft, "192.0.2.1"))
    assert version == 4 and platform.published == [(draft.document(), draft.mappings())]
    [entry] = [e for e in data.audit.events if e.action == "taxonomy.publish"]
    assert entry.target == "v4" and entry.after["mappings"] == {"districts": {"inano": "minami"}}
    assert entry.before["version"] == 3

    # The same draft again: made against version 3, which is no longer current.
    with pytest.raises(SegmentRefused) as stale:
        bus.handle(PublishPreferenceItems(admin.id, claims, draft, "192.0.2.1"))
    assert stale.value.status == 409 and len(platform.published) == 1


def test_only_a_system_administrator_publishes_items_or_changes_greetings(city):
    data, bus, platform = city
    author, claims = member(data, bus, "hanako", Grant(Role.AUTHOR, "kosodate"))
    draft = ItemsDraft.of(TAXONOMY).with_form(EDIT)
    with pytest.raises(DepartmentForbidden):
        bus.handle(PublishPreferenceItems(author.id, claims, draft))
    with pytest.raises(DepartmentForbidden):
        bus.handle(SetAccountText(author.id, claims, "greeting", "こんにちは"))
    assert not platform.published and platform.texts["greeting"] == "ようこそ"
    assert not [e for e in data.audit.events if e.action in ("taxonomy.publish", "account_text.update")]


def test_a_greeting_change_is_audited_and_a_refused_one_is_not(city):
    data, bus, platform = city
    admin, claims = member(data, bus, "kanri", Grant(Role.ADMIN))
    bus.handle(SetAccountText(admin.id, claims, "greeting", "伊丹市公式LINEへようこそ"))
    [entry] = [e for e in data.audit.events if e.action == "account_text.update"]
    assert (entry.before, entry.after) == ({"text": "ようこそ"}, {"text": "伊丹市公式LINEへようこそ"})
    platform.refuse = SegmentRefused("text must not be empty", 400)
    with pytest.raises(SegmentRefused):
        bus.handle(SetAccountText(admin.id, claims, "greeting", " "))
    with pytest.raises(SegmentRefused):
        bus.handle(SetAccountText(admin.id, claims, "no-such-text", "x"))
    assert len([e for e in data.audit.events if e.action == "account_text.update"]) == 1


def test_friend_analysis_lists_every_district_in_the_city_order_and_no_district_last(city):
    data, bus, _platform = city
    _viewer, claims = member(data, bus, "taro", Grant(Role.VIEWER, "kosodate"))
    analysis = bus.handle(ShowFriendAnalysis(claims))
    assert analysis.blocked == 4 and analysis.total.residents == 30
    ordered = analysis.ordered_districts()
    assert [d.key for d in ordered] == ["minami", "inano", None]
    assert ordered[0].residents == 0  # a district nobody chose is a real 0
    inano = analysis.district("inano")
    assert inano.count("age_bands", "30s") == 7 and inano.share(12) == "60.0%"
    assert analysis.district(None).share(0) == "—"  # nobody answered: no share, not 0%
    with pytest.raises((KeyError, ValueError)):
        parse_analysis({"countedAt": datetime.now(UTC).isoformat(), "total": {"residents": -1}, "districts": []},
                       None, None)


def test_a_segment_reads_in_words():
    choices = builder_choices(TAXONOMY)
    form = SegmentForm.from_form(MultiDict([("category", "kosodate"), ("district", "minami"), ("negate", "district"),
                                            ("child_from", "3"), ("child_to", "5")]))
    assert describe(form, choices) == ["受け取る情報: 子育てのいずれかを選んだ人", "地区: 南小学校区の人ではない",
                                       "子どもの年齢: 3〜5歳の子どもがいる人", "（上の条件のすべてに当てはまる人）"]
    assert describe(SegmentForm(), choices) == ["条件なし（友だち全員）"]
