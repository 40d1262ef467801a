"""リッチメニュー as stories, in memory against a fake of richmenu-service's internal API
(services/richmenu-service/API.md): the editor's form reads and writes the API's JSON, an author builds a menu
and a button drawn on its image, an approver publishes it and makes it the default, 災害時モード needs its
confirmation step, refusals are shown with the service's problems and not audited, every accepted change is
in the 操作ログ with before and after, and each role sees only what it may do."""

import copy
import uuid
from dataclasses import replace

import pytest
from admin_ui.adapters.in_memory import FastHasher, InMemoryAdminData, NoPlatform
from admin_ui.adapters.internal_api import menu_refusal
from admin_ui.domain.commands import (
    CreateDepartment,
    CreateStaff,
    DeleteRichMenu,
    DeleteRichMenuRule,
    ExportRichMenu,
    PreviewResidentMenu,
    PreviewRichMenuTemplate,
    PublishRichMenu,
    SaveRichMenu,
    SaveRichMenuDesign,
    SaveRichMenuRule,
    ShowDisaster,
    ShowRichMenuRules,
    ShowRichMenus,
    SwitchDisaster,
    UploadRichMenuImage,
)
from admin_ui.domain.permissions import DepartmentForbidden, Grant, NotAllowed, Role
from admin_ui.domain.richmenus import (
    ActionForm,
    DesignForm,
    MenuForm,
    Problem,
    RichMenuFormError,
    RichMenuRefused,
    RuleForm,
    parse_catalogue,
    parse_menu,
    parse_rule,
    parse_rules,
    parse_seen,
)
from admin_ui.domain.segments import SavedSegment
from admin_ui.entrypoints.flask_app import staff_claims
from admin_ui.service_layer.handlers import handlers
from cityline_common.messagebus import MessageBus
from werkzeug.datastructures import MultiDict

CATALOGUE = {
    "templates": [{"id": "grid-3x2", "title": "ボタン6個（3列×2段）", "columns": 3, "rows": 2, "tabHeader": False,
                   "size": {"width": 2500, "height": 1686},
                   "cells": [{"role": "button", "index": i, "bounds": {"x": 0, "y": 0, "width": 1, "height": 1}}
                             for i in range(6)]},
                  {"id": "grid-2x1", "title": "ボタン2個（2列・小）", "columns": 2, "rows": 1, "tabHeader": False,
                   "size": {"width": 2500, "height": 843},
                   "cells": [{"role": "button", "index": i, "bounds": {"x": 0, "y": 0, "width": 1, "height": 1}}
                             for i in range(2)]}],
    "icons": ["bell", "trash"], "sizes": [{"width": 2500, "height": 1686}],
}
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


class FakeRichMenus(NoPlatform):
    """richmenu-service's API kept in dicts (camelCase JSON, as on the wire); ``refuse`` fails the next change."""

    def __init__(self):
        self.menus: dict[str, dict] = {}
        self.rules: dict[str, dict] = {}
        self.disaster_state = {"on": False, "menuId": None, "menuTitle": "", "switchedAt": None, "switchedBy": None,
                               "change": None}
        self.refuse: RichMenuRefused | None = None
        self.calls: list[tuple] = []

    def segments(self, staff):
        return [SavedSegment("seg-1", "南地区の子育て世帯", "kosodate", {}, None, None)]

    def _check(self):
        if self.refuse:
            refused, self.refuse = self.refuse, None
            raise refused

    def _view(self, stored):
        body = copy.deepcopy(stored)
        body["usedBy"] = [r["id"] for r in self.rules.values() if r["menuId"] == stored["id"]]
        body["problems"] = [] if all(t.get("image") for t in stored["tabs"]) else [
            {"tab": n, "area": 0, "field": "image", "text": f"{n}つ目のタブ: 画像がありません。"}
            for n, t in enumerate(stored["tabs"], start=1) if not t.get("image")]
        return parse_menu(body)

    def richmenus(self, staff):
        return [self._view(m) for m in self.menus.values()]

    def richmenu(self, staff, menu_id):
        if menu_id not in self.menus:
            raise RichMenuRefused("見つかりません。", 404, "not_found")
        return self._view(self.menus[menu_id])

    def create_richmenu(self, staff, body):
        self._check()
        menu_id = str(uuid.uuid4())
        self.menus[menu_id] = {"id": menu_id, **copy.deepcopy(body), "version": 1, "status": "draft",
                               "updatedBy": staff.staff_id, "publication": None, "warnings": []}
        return menu_id

    def update_richmenu(self, staff, menu_id, body):
        self._check()
        stored = self.menus[menu_id]
        if body["version"] != stored["version"]:
            raise RichMenuRefused("ほかの職員が変更しました。", 409, "stale_version")
        images = [t.get("image") for t in stored["tabs"]]
        stored.update(title=body["title"], tabs=copy.deepcopy(body["tabs"]), version=stored["version"] + 1,
                      status="changed" if stored["status"] != "draft" else "draft")
        for tab, image in zip(stored["tabs"], images, strict=False):
            tab["image"] = image
        return self._view(stored)

    def delete_richmenu(self, staff, menu_id):
        self._check()
        if any(r["menuId"] == menu_id for r in self.rules.values()):
            raise RichMenuRefused("表示ルールで使われています。", 409, "in_use")
        del self.menus[menu_id]

    def upload_richmenu_image(self, staff, menu_id, tab, content, content_type):
        self._check()
        stored = self.menus[menu_id]
        stored["tabs"][tab - 1]["image"] = {"sha256": "ab" * 32, "format": "png", "bytes": len(content),
                                            "source": "upload"}
        stored["version"] += 1
        return self._view(stored)

    def richmenu_templates(self, staff):
        return parse_catalogue(CATALOGUE)

    def preview_richmenu_template(self, staff, design):
        self.calls.append(("preview", design))
        return PNG

    def save_richmenu_design(self, staff, menu_id, tab, design, actions):
        self._check()
        self.calls.append(("design", tab, design, actions))
        stored = self.menus[menu_id]
        stored["tabs"][tab - 1].update(design=design, image={"sha256": "cd" * 32, "format": "png", "bytes": 9,
                                                              "source": "template"})
        stored["version"] += 1
        return self._view(stored)

    def export_richmenu(self, staff, menu_id):
        return b"PK\x03\x04zip"

    def publish_richmenu(self, staff, menu_id, version):
        self._check()
        stored = self.menus[menu_id]
        if version != stored["version"]:
            raise RichMenuRefused("ほかの職員が変更しました。", 409, "stale_version")
        stored.update(status="published", publication={"version": version, "publishedBy": staff.staff_id,
                                                       "tabs": []})
        return self._view(stored)

    def richmenu_rules(self, staff):
        default = next((r for r in self.rules.values() if r["kind"] == "default"), None)
        return parse_rules({"rules": list(self.rules.values()), "nextChange": None,
                            "lineDefault": None if default is None else {"menuId": default["menuId"],
                                                                         "title": default["menuTitle"]}})

    def save_richmenu_rule(self, staff, rule_id, body):
        self._check()
        menu = self.menus[body["menuId"]]
        if menu["status"] == "draft":
            raise RichMenuRefused("公開していないメニューは表示ルールに使えません。", 409, "not_published")
        rule_id = rule_id or str(uuid.uuid4())
        self.rules[rule_id] = {"id": rule_id, **body, "kindLabel": {"default": "既定", "period": "期間限定"}.get(
            body["kind"], body["kind"]), "menuTitle": menu["title"], "department": menu["department"],
            "priority": body.get("priority", 0), "enabled": True, "inForce": True,
            "createdAt": "2026-11-26T01:00:00+00:00", "createdBy": staff.staff_id}
        return parse_rule(self.rules[rule_id])

    def delete_richmenu_rule(self, staff, rule_id):
        self._check()
        del self.rules[rule_id]

    def preview_richmenu(self, staff, body):
        self.calls.append(("seen", body))
        return parse_seen({"menuId": "m", "menuTitle": "くらしのメニュー", "rule": None,
                           "reason": "既定のメニューが表示されます。"})

    def disaster(self, staff):
        from admin_ui.domain.richmenus import parse_disaster

        return parse_disaster(self.disaster_state)

    def switch_disaster(self, staff, body):
        self._check()
        self.calls.append(("disaster", body))
        if body.get("confirm") != "災害時モード":
            raise RichMenuRefused("確認の文字が違います。", 400, "not_confirmed")
        changed = self.disaster_state["on"] != body["on"]
        self.disaster_state.update(on=body["on"], menuId=body.get("menuId") or self.disaster_state["menuId"])
        return changed

    def richmenu_changes(self, staff, limit=20):
        return []


@pytest.fixture
def city():
    data = InMemoryAdminData()
    platform = FakeRichMenus()
    bus = MessageBus(data.uow, handlers(platform, [], hasher=FastHasher()))
    bus.handle(CreateDepartment(None, "bousai", "防災危機管理課"))
    bus.handle(CreateDepartment(None, "kosodate", "子育て支援課"))
    return data, bus, platform


def member(data, bus, login, *grants):
    created = bus.handle(CreateStaff(None, login, login, frozenset(grants), password="kusunoki-no-ki-2026",
                                     totp_secret="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"))
    found = data.staff[uuid.UUID(created.staff_id)]
    return found, staff_claims(found)


def entries(data):
    return [event for event in data.audit.events if event.action.startswith("richmenu")]


EDITOR = MultiDict([
    ("title", "子育てメニュー"), ("department", "kosodate"), ("version", "1"), ("tabs", "2"),
    ("t1_alias", "kosodate-main"), ("t1_name", "くらし"), ("t1_chat", "メニュー"), ("t1_size", "2500x843"),
    ("t1_selected", "1"), ("t1_areas", "1"),
    ("t1_a1_x", "0"), ("t1_a1_y", "0"), ("t1_a1_w", "1250"), ("t1_a1_h", "843"),
    ("t1_a1_type", "uri"), ("t1_a1_uri", "https://www.city.itami.lg.jp/"), ("t1_a1_text", "ignored"),
    ("t1_new_x", "1250"), ("t1_new_y", "0"), ("t1_new_w", "1250"), ("t1_new_h", "843"),
    ("t1_new_type", "richmenuswitch"), ("t1_new_target", "kosodate-sub"), ("t1_new_label", "子育て"),
    ("t2_alias", "kosodate-sub"), ("t2_name", "子育て"), ("t2_chat", "子育て"), ("t2_size", "2500x843"),
    ("t2_areas", "0"),
    ("t2_new_x", "0"), ("t2_new_y", "0"), ("t2_new_w", "2500"), ("t2_new_h", "843"),
    ("t2_new_type", "datetimepicker"), ("t2_new_data", "kenshin"), ("t2_new_mode", "date"),
    ("t2_new_min", "2026-12-01"),
])


def test_the_editor_form_becomes_the_api_json_and_reads_back():
    form = MenuForm.from_form(EDITOR)
    body = form.update_body()
    assert body["version"] == 1 and body["title"] == "子育てメニュー"
    first, second = body["tabs"]
    assert first == {
        "aliasId": "kosodate-main", "name": "くらし", "chatBarText": "メニュー", "size": {"width": 2500, "height": 843},
        "selected": True, "areas": [
            {"bounds": {"x": 0, "y": 0, "width": 1250, "height": 843},
             "action": {"type": "uri", "uri": "https://www.city.itami.lg.jp/"}},
            {"bounds": {"x": 1250, "y": 0, "width": 1250, "height": 843},  # the button drawn on the image
             "action": {"type": "richmenuswitch", "richMenuAliasId": "kosodate-sub",
                        "data": "richmenu-switch=kosodate-sub", "label": "子育て"}}]}
    assert second["areas"] == [{"bounds": {"x": 0, "y": 0, "width": 2500, "height": 843},
                                "action": {"type": "datetimepicker", "data": "kenshin", "mode": "date",
                                           "min": "2026-12-01"}}]
    stored = parse_menu({"id": "m", "department": "kosodate", "version": 1, **body})
    again = MenuForm.from_menu(stored)
    assert again.update_body() == body


@pytest.mark.parametrize("action", [
    {"type": "uri", "uri": "https://example.jp/", "label": "市のページ"},
    {"type": "message", "text": "ごみの日"},
    {"type": "postback", "data": "menu=gomi", "displayText": "ごみの日"},
    {"type": "datetimepicker", "data": "d", "mode": "datetime", "initial": "2026-12-01T09:00"},
    {"type": "richmenuswitch", "richMenuAliasId": "tab-2", "data": "richmenu-switch=tab-2"},
])
def test_every_action_type_round_trips(action):
    assert ActionForm.from_json(action).to_json() == action


def test_what_is_wrong_in_the_form_is_named_where_it_is():
    form = MenuForm.from_form(MultiDict([("title", ""), ("tabs", "1"), ("t1_areas", "1"), ("t1_a1_x", "a"),
                                         ("t1_new_x", "5"), ("t1_new_y", "5"), ("t1_new_w", "5"), ("t1_new_h", "5")]))
    with pytest.raises(RichMenuFormError) as raised:
        form.create_body()
    assert [(p.tab, p.area, p.field) for p in raised.value.problems] == [(0, 0, "title"), (1, 1, "bounds"),
                                                                         (1, 2, "action")]


def test_tabs_are_added_moved_and_removed_but_never_the_last():
    form = MenuForm.from_form(EDITOR)
    added = form.with_new_tab("mabc-3")
    assert [t.alias_id for t in added.tabs] == ["kosodate-main", "kosodate-sub", "mabc-3"]
    assert [t.alias_id for t in added.with_tab_moved(3, -1).tabs] == ["kosodate-main", "mabc-3", "kosodate-sub"]
    assert [t.alias_id for t in added.without_tab(1).tabs] == ["kosodate-sub", "mabc-3"]
    with pytest.raises(RichMenuFormError):
        added.without_tab(1).without_tab(1).without_tab(1)


def test_a_period_is_entered_in_japan_time_and_sent_as_instants():
    body = RuleForm.from_form(MultiDict([("kind", "period"), ("menu_id", "m"), ("starts_on", "2026-12-29"),
                                         ("starts_time", "9:00"), ("ends_on", "2027-01-04"), ("ends_time", "0:00"),
                                         ("priority", "5")])).body()
    assert body == {"kind": "period", "menuId": "m", "priority": 5, "startsAt": "2026-12-29T09:00:00+09:00",
                    "endsAt": "2027-01-04T00:00:00+09:00"}
    rule = parse_rule({"id": "r", "kind": "period", "menuId": "m", **body})
    assert RuleForm.from_rule(rule).body() == body
    with pytest.raises(RichMenuFormError) as raised:
        RuleForm.from_form(MultiDict([("kind", "segment"), ("menu_id", ""), ("priority", "x")])).body()
    assert len(raised.value.problems) == 3


def test_the_service_refusal_keeps_its_problems_by_tab_and_button():
    class Answer:
        status_code = 400

        def json(self):
            return {"error": "Bad Request", "reason": "メニューに直すところがあります。", "code": "invalid",
                    "problems": [{"tab": 2, "area": 3, "field": "bounds",
                                  "text": "2つ目のタブの3番目のボタン: 画像からはみ出しています。"},
                                 "画像の大きさがメニューと違います。"]}

    refused = menu_refusal(Answer())
    assert refused.status == 400 and refused.code == "invalid"
    assert refused.problems == [Problem(2, 3, "bounds", "2つ目のタブの3番目のボタン: 画像からはみ出しています。"),
                                Problem(0, 0, "", "画像の大きさがメニューと違います。")]


def test_an_author_builds_a_menu_an_approver_publishes_it_and_makes_it_the_default(city):
    data, bus, _platform = city
    author, author_claims = member(data, bus, "author", Grant(Role.AUTHOR, "kosodate"))
    approver, approver_claims = member(data, bus, "approver", Grant(Role.APPROVER, "kosodate"))
    created = bus.handle(SaveRichMenu(author.id, author_claims, MenuForm.from_form(EDITOR), None, "10.0.0.1"))
    assert created.status == "draft" and created.problems  # no image yet: not ready to publish
    form = MenuForm.from_menu(created)
    unchanged = bus.handle(SaveRichMenu(author.id, author_claims, form, uuid.UUID(created.id)))
    assert unchanged.version == 1  # nothing changed: no new version, nothing recorded
    saved = bus.handle(SaveRichMenu(author.id, author_claims, replace(form, title="子育て応援メニュー"),
                                    uuid.UUID(created.id), "10.0.0.1"))
    assert saved.version == 2
    with_image = bus.handle(UploadRichMenuImage(author.id, author_claims, uuid.UUID(created.id), 1, PNG, "image/png"))
    bus.handle(UploadRichMenuImage(author.id, author_claims, uuid.UUID(created.id), 2, PNG, "image/png"))
    assert with_image.tabs[0].image is not None

    # Only an approver publishes, and only a published menu makes a rule.
    with pytest.raises(DepartmentForbidden):
        bus.handle(PublishRichMenu(author.id, author_claims, uuid.UUID(created.id), 4))
    with pytest.raises(RichMenuRefused) as refused:
        bus.handle(SaveRichMenuRule(approver.id, approver_claims,
                                    RuleForm("default", created.id, priority="0")))
    assert refused.value.code == "not_published"
    published = bus.handle(PublishRichMenu(approver.id, approver_claims, uuid.UUID(created.id), 4, "10.0.0.2"))
    assert published is not None and published.status == "published"
    rule = bus.handle(SaveRichMenuRule(approver.id, approver_claims, RuleForm("default", created.id, priority="0")))
    rule = bus.handle(SaveRichMenuRule(approver.id, approver_claims, RuleForm("default", created.id, priority="3"),
                                       uuid.UUID(rule.id)))
    assert rule.priority == 3
    listed = bus.handle(ShowRichMenus(author_claims))
    assert listed.line_default == (created.id, "子育て応援メニュー")
    assert [r.id for r in listed.rows[0].rules] == [rule.id] and listed.rows[0].department_name == "子育て支援課"
    rules = bus.handle(ShowRichMenuRules(author_claims))
    assert rules.segment_names == {"seg-1": "南地区の子育て世帯"} and rules.rows[0].department_name == "子育て支援課"

    # Every accepted change is in the 操作ログ, with what it was before.
    assert [e.action for e in entries(data)] == [
        "richmenu.create", "richmenu.update", "richmenu.image_upload", "richmenu.image_upload", "richmenu.publish",
        "richmenu_rule.create", "richmenu_rule.update"]
    assert (entries(data)[-1].before["priority"], entries(data)[-1].after["priority"]) == (0, 3)
    update = entries(data)[1]
    assert update.before["title"] == "子育てメニュー" and update.after["title"] == "子育て応援メニュー"
    assert update.before["version"] == 1 and update.after["version"] == 2 and update.department == "kosodate"
    assert entries(data)[4].before == {"status": "draft", "version": 4}
    assert entries(data)[4].after == {"status": "published", "version": 4}

    # In use: the service refuses to delete it, and nothing is recorded.
    with pytest.raises(RichMenuRefused):
        bus.handle(DeleteRichMenu(author.id, author_claims, uuid.UUID(created.id)))
    bus.handle(DeleteRichMenuRule(approver.id, approver_claims, uuid.UUID(rule.id)))
    bus.handle(DeleteRichMenu(author.id, author_claims, uuid.UUID(created.id)))
    assert [e.action for e in entries(data)][-2:] == ["richmenu_rule.delete", "richmenu.delete"]


def test_a_template_design_is_previewed_with_placeholders_and_saved_with_one_action_per_button(city):
    data, bus, platform = city
    author, claims = member(data, bus, "author", Grant(Role.AUTHOR, "kosodate"))
    created = bus.handle(SaveRichMenu(author.id, claims, MenuForm.from_form(EDITOR), None))
    fields = MultiDict([("template", "grid-2x1"), ("b1_label", "ごみの日"), ("b1_icon", "trash"),
                        ("b1a_type", "message"), ("b1a_text", "ごみの日"), ("b2_background", "#fdecec"),
                        ("colour_accent", "#0b5cad")])
    assert bus.handle(PreviewRichMenuTemplate(claims, DesignForm.from_form(fields))) == PNG
    preview = platform.calls[-1][1]
    assert preview["buttons"] == [{"label": "ごみの日", "icon": "trash"}, {"label": "ボタン2", "background": "#FDECEC"}]
    assert preview["size"] == {"width": 2500, "height": 843} and preview["colours"]["accent"] == "#0B5CAD"
    with pytest.raises(RichMenuFormError) as missing:  # the second button has no action yet
        bus.handle(SaveRichMenuDesign(author.id, claims, uuid.UUID(created.id), 1, DesignForm.from_form(fields)))
    assert [(p.area, p.field) for p in missing.value.problems] == [(2, "action")]
    fields.update({"b2_label": "健診", "b2a_type": "uri", "b2a_uri": "https://example.jp/kenshin"})
    bus.handle(SaveRichMenuDesign(author.id, claims, uuid.UUID(created.id), 1, DesignForm.from_form(fields)))
    _what, tab, design, actions = platform.calls[-1]
    assert tab == 1 and [b["label"] for b in design["buttons"]] == ["ごみの日", "健診"]
    assert actions == [{"type": "message", "text": "ごみの日"}, {"type": "uri", "uri": "https://example.jp/kenshin"}]
    assert entries(data)[-1].action == "richmenu.design" and entries(data)[-1].after["actions"] == actions


def test_refusals_change_nothing_and_are_not_recorded(city):
    data, bus, platform = city
    author, claims = member(data, bus, "author", Grant(Role.AUTHOR, "kosodate"))
    wrong = Problem(1, 1, "action.uri", "1つ目のタブの1番目のボタン: アドレスが正しくありません。")
    platform.refuse = RichMenuRefused("直すところがあります。", 400, "invalid", [wrong])
    with pytest.raises(RichMenuRefused) as refused:
        bus.handle(SaveRichMenu(author.id, claims, MenuForm.from_form(EDITOR), None))
    assert refused.value.problems[0].area == 1
    assert entries(data) == [] and platform.menus == {}
    with pytest.raises(RichMenuFormError):  # GIF, or past 1 MB: refused before the service is asked
        bus.handle(UploadRichMenuImage(author.id, claims, uuid.uuid4(), 1, b"GIF89a", "image/gif"))


def test_another_departments_member_may_read_but_not_edit(city):
    data, bus, _platform = city
    author, claims = member(data, bus, "author", Grant(Role.AUTHOR, "kosodate"))
    other, other_claims = member(data, bus, "other", Grant(Role.AUTHOR, "bousai"))
    created = bus.handle(SaveRichMenu(author.id, claims, MenuForm.from_form(EDITOR), None))
    assert len(bus.handle(ShowRichMenus(other_claims)).rows) == 1  # a resident sees every department's
    with pytest.raises(DepartmentForbidden):
        bus.handle(SaveRichMenu(other.id, other_claims, MenuForm.from_menu(created), uuid.UUID(created.id)))
    with pytest.raises(DepartmentForbidden):
        bus.handle(SaveRichMenu(other.id, other_claims, MenuForm.from_form(EDITOR), None))
    assert bus.handle(ExportRichMenu(other.id, other_claims, uuid.UUID(created.id))).startswith(b"PK")
    assert entries(data)[-1].action == "richmenu.export"


def test_disaster_mode_needs_the_confirmation_and_an_approver_anywhere_and_is_safe_to_repeat(city):
    data, bus, platform = city
    author, author_claims = member(data, bus, "author", Grant(Role.AUTHOR, "kosodate"))
    approver, claims = member(data, bus, "bousai-approver", Grant(Role.APPROVER, "bousai"))
    with pytest.raises(NotAllowed):
        bus.handle(SwitchDisaster(author.id, author_claims, True, "menu-1", confirmed=True))
    with pytest.raises(RichMenuFormError):
        bus.handle(SwitchDisaster(approver.id, claims, True, "menu-1", confirmed=False))
    assert platform.calls == [] and entries(data) == []
    assert bus.handle(SwitchDisaster(approver.id, claims, True, "menu-1", confirmed=True, address="10.0.0.3"))
    assert platform.calls[-1] == ("disaster", {"on": True, "confirm": "災害時モード", "menuId": "menu-1"})
    assert not bus.handle(SwitchDisaster(approver.id, claims, True, "menu-1", confirmed=True))  # already on
    assert bus.handle(SwitchDisaster(approver.id, claims, False, confirmed=True))
    assert [(e.action, e.before["on"], e.after["on"]) for e in entries(data)] == [
        ("richmenu.disaster_on", False, True), ("richmenu.disaster_off", True, False)]
    page = bus.handle(ShowDisaster(author_claims))
    assert page.disaster is not None and not page.disaster.on and page.changes == ()


def test_the_preview_asks_for_a_moment_and_segments_or_a_real_resident(city):
    data, bus, platform = city
    _viewer, claims = member(data, bus, "viewer", Grant(Role.VIEWER, "bousai"))
    seen = bus.handle(PreviewResidentMenu(claims, "2026-12-30T09:00:00+09:00", ("seg-1",)))
    assert seen.reason == "既定のメニューが表示されます。"
    bus.handle(PreviewResidentMenu(claims, None, (), "7b0a0e8e-0000-4000-8000-000000000001"))
    assert [call[1] for call in platform.calls] == [
        {"at": "2026-12-30T09:00:00+09:00", "segmentIds": ["seg-1"]},
        {"residentId": "7b0a0e8e-0000-4000-8000-000000000001"}]


def test_without_richmenu_service_the_pages_say_so():
    data = InMemoryAdminData()
    bus = MessageBus(data.uow, handlers(NoPlatform(), [], hasher=FastHasher()))
    bus.handle(CreateDepartment(None, "kosodate", "子育て支援課"))
    _viewer, claims = member(data, bus, "viewer", Grant(Role.VIEWER, "kosodate"))
    assert bus.handle(ShowRichMenus(claims)).rows is None
    assert bus.handle(ShowRichMenuRules(claims)).rules is None
    assert bus.handle(ShowDisaster(claims)).disaster is None
