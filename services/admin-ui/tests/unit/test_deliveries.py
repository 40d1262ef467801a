"""配信 as stories, in memory against a fake of the dispatcher's internal API (services/dispatcher/API.md):
the compose form reads and writes the API's JSON, an author creates and submits, an approver sees what
changed and approves, refusals are shown and not audited, every accepted action is in the 操作ログ, and
statistics below LINE's floor are "too few", never 0."""

import copy
import uuid

import pytest
from admin_ui.adapters.in_memory import FastHasher, InMemoryAdminData, NoPlatform
from admin_ui.adapters.internal_api import refusal
from admin_ui.domain.commands import (
    ActOnDelivery,
    CountTarget,
    CreateDepartment,
    CreateStaff,
    OpenDelivery,
    SaveDelivery,
    SendTestDelivery,
    ShowApprovals,
    ShowComposeChoices,
    ShowDeliveries,
    ShowDeliveryStatistics,
    UploadDeliveryImage,
)
from admin_ui.domain.deliveries import (
    Asset,
    DeliveryForm,
    DeliveryFormError,
    DeliveryRefused,
    MessageForm,
    RecipientCount,
    RuleForm,
    Statistics,
    TargetForm,
    TestRecipient,
    changes,
    describe_rule,
    parse_delivery,
    parse_statistics,
)
from admin_ui.domain.permissions import DepartmentForbidden, Grant, Role
from admin_ui.domain.segments import SavedSegment, SegmentCount
from admin_ui.entrypoints.flask_app import staff_claims
from admin_ui.service_layer.handlers import handlers
from cityline_common.messagebus import MessageBus
from werkzeug.datastructures import MultiDict

TAXONOMY = {"version": 1, "taxonomy": {"categories": [{"key": "bousai", "label": "防災・緊急情報"},
                                                      {"key": "kosodate", "label": "子育て"}]}}
LABELS = {"draft": "下書き", "awaiting_approval": "承認待ち", "approved": "承認済み", "scheduled": "予約済み",
          "sending": "配信中", "paused": "一時停止", "sent": "配信完了", "cancelled": "取消"}
MOVES = {("draft", "submit"): "awaiting_approval", ("draft", "cancel"): "cancelled",
         ("awaiting_approval", "approve"): "approved", ("awaiting_approval", "reject"): "draft",
         ("awaiting_approval", "cancel"): "cancelled", ("approved", "start"): "sending",
         ("approved", "schedule"): "scheduled", ("approved", "cancel"): "cancelled",
         ("sending", "pause"): "paused", ("paused", "resume"): "sending", ("paused", "cancel"): "cancelled"}
EDITABLE = {"draft", "awaiting_approval", "approved", "scheduled"}


class FakeDispatcher(NoPlatform):
    """The dispatcher's API kept in dicts (camelCase JSON, as on the wire); ``refuse`` fails the next change."""

    def __init__(self):
        self.stored: dict[str, dict] = {}
        self.refuse: DeliveryRefused | None = None
        self.calls: list[tuple] = []
        self.segment_row = SavedSegment("seg-1", "南の子育て", "kosodate", {"and": [{"category": ["kosodate"]}]},
                                        None, None)

    # segment-service, for the compose page
    def taxonomy(self, staff):
        return TAXONOMY

    def segments(self, staff):
        return [self.segment_row]

    def segment(self, staff, segment_id):
        return self.segment_row if segment_id == "seg-1" else None

    def count_segment(self, staff, expression, unanswered):
        return SegmentCount(40, 3, 40, False)

    def resident_counts(self, staff):
        return {"following": 1234, "blocked": 5}

    # the dispatcher
    def _check(self):
        if self.refuse:
            refused, self.refuse = self.refuse, None
            raise refused

    def _view(self, stored):
        body = copy.deepcopy(stored)
        status = body["status"]
        body["statusLabel"] = LABELS[status]
        allowed = {a for (s, a) in MOVES if s == status} | ({"edit"} if status in EDITABLE else set())
        body["allowedActions"] = sorted(allowed)
        return parse_delivery(body)

    def deliveries(self, staff, status=None, department=None, awaiting_me=False):
        self.calls.append(("list", status, awaiting_me))
        found = [self._view(d) for d in self.stored.values() if status is None or d["status"] == status]
        if awaiting_me:
            found = [d for d in found if d.status == "awaiting_approval" and staff.staff_id not in
                     (d.author_id, d.last_editor_id)]
        return found

    def delivery(self, staff, delivery_id):
        if delivery_id not in self.stored:
            raise DeliveryRefused("見つかりません。", 404, "not_found")
        return self._view(self.stored[delivery_id])

    def create_delivery(self, staff, body):
        self._check()
        delivery_id = str(uuid.uuid4())
        self.stored[delivery_id] = {
            "id": delivery_id, **body, "status": "draft", "version": 1, "authorId": staff.staff_id,
            "lastEditorId": staff.staff_id, "updatedAt": "2026-11-26T01:00:00+00:00", "history": [],
            "reviewed": None, "progress": None, "targetText": ["子育てを選んだ人"],
        }
        return delivery_id

    def update_delivery(self, staff, delivery_id, body):
        self._check()
        stored = self.stored[delivery_id]
        if body["version"] != stored["version"]:
            raise DeliveryRefused("ほかの職員が変更しました。", 409, "stale_version")
        stored.update({k: v for k, v in body.items() if k != "version"})
        stored["version"] += 1
        stored["lastEditorId"] = staff.staff_id
        if stored["status"] in ("approved", "scheduled"):
            stored["status"] = "awaiting_approval"
        return self._view(stored)

    def delivery_action(self, staff, delivery_id, action, body):
        self.calls.append((action, body))
        self._check()
        stored = self.stored[delivery_id]
        if action in ("approve", "reject") and staff.staff_id in (stored["authorId"], stored["lastEditorId"]):
            raise DeliveryRefused("自分が作成・編集した配信は承認できません。", 403, "self_approval")
        if body["version"] != stored["version"]:
            raise DeliveryRefused("ほかの職員が変更しました。", 409, "stale_version")
        if action == "confirm":
            return self._view(stored)
        moved = MOVES.get((stored["status"], action))
        if moved is None:
            raise DeliveryRefused("この状態ではできません。", 409, "illegal_transition")
        stored["history"].append({"from": stored["status"], "to": moved, "action": action, "actionLabel": action,
                                  "actorId": staff.staff_id, "at": "2026-11-26T02:00:00+00:00",
                                  "comment": body.get("comment", "")})
        if action in ("approve", "reject"):
            stored["reviewed"] = {k: copy.deepcopy(stored[k]) for k in
                                  ("version", "title", "category", "messages", "target", "schedule")}
        stored["status"] = moved
        return self._view(stored)

    def count_delivery(self, staff, delivery_id):
        return RecipientCount(40, 37, 3, True)

    def test_recipients(self, staff):
        return [TestRecipient("phone-1", "広報課の端末", "kosodate")]

    def test_delivery(self, staff, delivery_id, recipient_ids):
        self._check()
        return len(recipient_ids)

    def delivery_templates(self, staff, department):
        return []

    def delivery_statistics(self, staff, delivery_id):
        return parse_statistics({"unit": "x", "available": True, "overview": {"uniqueImpression": None},
                                 "messages": [{"impression": None, "uniqueImpression": None, "click": 0},
                                              {"impression": 52, "uniqueImpression": 40, "click": None}]})

    def upload_asset(self, staff, department, content, content_type):
        self._check()
        return Asset("7b0a0e8e-0000-4000-8000-000000000001", content_type, 240, 180)


@pytest.fixture
def city():
    data = InMemoryAdminData()
    platform = FakeDispatcher()
    bus = MessageBus(data.uow, handlers(platform, [], hasher=FastHasher()))
    bus.handle(CreateDepartment(None, "bousai", "防災危機管理課"))
    bus.handle(CreateDepartment(None, "kosodate", "子育て支援課"))
    return data, bus, platform


def member(data, bus, login, *grants):
    created = bus.handle(CreateStaff(None, login, login, frozenset(grants), password="kusunoki-no-ki-2026",
                                     totp_secret="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"))
    found = data.staff[uuid.UUID(created.staff_id)]
    return found, staff_claims(found)


def audit_actions(data):
    return [action for action in data.audit_actions() if action.startswith("delivery")]


FORM = MultiDict([
    ("title", "乳幼児健診のお知らせ"), ("department", "kosodate"), ("category", "kosodate"),
    ("m1_type", "text"), ("m1_text", "12月の乳幼児健診の日程です。\r\n詳しくは市ホームページへ。"),
    ("m2_type", "sticker"), ("m2_package", "446"), ("m2_sticker", "1988"),
    ("m3_type", ""), ("m3_text", "ignored"),
    ("m4_type", "image"), ("m4_asset", "7b0a0e8e-0000-4000-8000-000000000001"),
    ("m5_type", "flex"), ("m5_json", '{"type": "flex", "altText": "健診の日程", "contents": {"type": "bubble"}}'),
    ("target", "segment"), ("segment_id", "seg-1"), ("unanswered", "exclude"),
    ("rule", "weekly"), ("rule_at", "7:30"), ("rule_weekdays", "thu"), ("rule_weekdays", "mon"),
    ("rule_holidays", "next_weekday"), ("rule_until", "2027-03-31"),
])


def test_the_form_becomes_the_api_json_and_reads_back():
    form = DeliveryForm.from_form(FORM)
    body = form.body()
    assert body["messages"] == [
        {"type": "text", "text": "12月の乳幼児健診の日程です。\n詳しくは市ホームページへ。"},
        {"type": "sticker", "packageId": "446", "stickerId": "1988"},
        {"type": "image", "assetId": "7b0a0e8e-0000-4000-8000-000000000001"},
        {"type": "flex", "altText": "健診の日程", "contents": {"type": "bubble"}},
    ]
    assert body["target"] == {"kind": "segment", "segmentId": "seg-1", "unanswered": "exclude"}
    assert body["schedule"] == {"kind": "weekly", "weekdays": ["mon", "thu"], "time": "07:30",
                                "holidays": "next_weekday", "until": "2027-03-31"}
    stored = parse_delivery({"id": "d", "department": "kosodate", "status": "draft", "version": 3, **body})
    again = DeliveryForm.from_delivery(stored)
    assert again.body() == body and again.version == 3
    assert len(again.slots) == 5 and again.slots[4].kind == ""


@pytest.mark.parametrize("message", [
    {"type": "text", "text": "こんにちは"},
    {"type": "sticker", "packageId": "11537", "stickerId": "52002734"},
    {"type": "image", "assetId": "a1"},
    {"type": "flex", "altText": "お知らせ", "contents": {"type": "bubble", "body": {"type": "box"}}},
    {"type": "template", "altText": "確認", "template": {"type": "confirm", "text": "参加しますか", "actions": []}},
])
def test_every_message_kind_round_trips(message):
    problems = []
    assert MessageForm.from_json(message).to_json(1, problems) == message
    assert problems == []


@pytest.mark.parametrize("rule", [
    None,
    {"kind": "once", "at": "2026-12-01T07:30:00+09:00"},
    {"kind": "weekly", "weekdays": ["mon", "thu"], "time": "07:30", "holidays": "skip"},
    {"kind": "monthly", "time": "18:00", "day": 31, "holidays": "send", "until": "2027-03-31"},
    {"kind": "monthly", "time": "07:05", "weeks": [2, 4, "last"], "weekday": "wed", "holidays": "next_weekday"},
])
def test_every_rule_kind_round_trips(rule):
    problems = []
    assert RuleForm.from_json(rule).to_json(problems) == rule
    assert problems == []


def test_rules_in_words():
    assert describe_rule({"kind": "weekly", "weekdays": ["mon", "thu"], "time": "07:30",
                          "holidays": "next_weekday"}) == "毎週 月・木 7:30（祝日は翌平日）"
    assert describe_rule({"kind": "monthly", "time": "07:30", "weeks": [2, "last"], "weekday": "wed",
                          "holidays": "send"}) == "毎月 第2・最終水曜 7:30"
    assert describe_rule({"kind": "once", "at": "2026-12-01T07:30:00+09:00"}) == "2026年12月1日（火）7:30"


def test_what_is_wrong_with_the_form_is_said_in_words():
    broken = MultiDict([("m1_type", "text"), ("m1_text", "あ" * 5001), ("m2_type", "flex"), ("m2_json", "{not json"),
                        ("m3_type", "sticker"), ("m3_package", "x"), ("target", "segment"),
                        ("rule", "weekly"), ("rule_at", "25:00")])
    with pytest.raises(DeliveryFormError) as raised:
        DeliveryForm.from_form(broken).body()
    text = " ".join(raised.value.problems)
    for expected in ("件名", "課を選んで", "情報の種類", "5000文字以内", "JSONとして読めません", "パッケージID",
                     "セグメントを選んで", "曜日", "時刻"):
        assert expected in text, expected
    assert MessageForm("text", text="🍎").length == 2  # LINE counts UTF-16 code units


def test_an_author_creates_and_submits_and_the_audit_log_says_so(city):
    data, bus, _platform = city
    author, claims = member(data, bus, "hanako", Grant(Role.AUTHOR, "kosodate"))
    delivery_id = bus.handle(SaveDelivery(author.id, claims, DeliveryForm.from_form(FORM), address="192.0.2.1"))
    opened = bus.handle(OpenDelivery(claims, uuid.UUID(delivery_id)))
    assert opened.status == "draft" and opened.may("submit")
    submitted = bus.handle(ActOnDelivery(author.id, claims, uuid.UUID(delivery_id), "submit", opened.version))
    assert submitted.status == "awaiting_approval"
    assert audit_actions(data) == ["delivery.create", "delivery.submit"]
    entry = data.audit.events[-1]
    assert entry.target == delivery_id and entry.department == "kosodate"
    assert bus.handle(ShowDeliveries(claims)).rows[0].category_label == "子育て"


def test_an_author_cannot_write_in_another_department(city):
    data, bus, _platform = city
    author, claims = member(data, bus, "hanako", Grant(Role.AUTHOR, "bousai"))
    with pytest.raises(DepartmentForbidden):
        bus.handle(SaveDelivery(author.id, claims, DeliveryForm.from_form(FORM)))
    assert audit_actions(data) == []


def submitted_delivery(data, bus):
    author, claims = member(data, bus, "hanako", Grant(Role.AUTHOR, "kosodate"))
    delivery_id = uuid.UUID(bus.handle(SaveDelivery(author.id, claims, DeliveryForm.from_form(FORM))))
    bus.handle(ActOnDelivery(author.id, claims, delivery_id, "submit", 1))
    return author, claims, delivery_id


def test_the_approval_queue_holds_what_awaits_the_member_and_not_their_own(city):
    data, bus, _platform = city
    _author, author_claims, delivery_id = submitted_delivery(data, bus)
    _approver, claims = member(data, bus, "taro", Grant(Role.APPROVER, "kosodate"))
    queue = bus.handle(ShowApprovals(claims))
    assert [row.delivery.id for row in queue.rows] == [str(delivery_id)] and queue.awaiting_me == 1
    assert bus.handle(ShowDeliveries(claims)).awaiting_me == 1
    assert bus.handle(ShowApprovals(author_claims)).rows == ()  # an author approves nothing of their own
    _other, other_claims = member(data, bus, "jiro", Grant(Role.APPROVER, "bousai"))
    assert bus.handle(ShowApprovals(other_claims)).rows == ()  # another department's


def test_an_approver_sees_what_changed_since_the_last_review(city):
    data, bus, _platform = city
    author, author_claims, delivery_id = submitted_delivery(data, bus)
    approver, claims = member(data, bus, "taro", Grant(Role.APPROVER, "kosodate"))
    first = bus.handle(OpenDelivery(claims, delivery_id))
    assert changes(first) is None  # never reviewed: everything is new
    bus.handle(ActOnDelivery(approver.id, claims, delivery_id, "reject", first.version,
                             comment="日付を確認してください"))
    rejected = bus.handle(OpenDelivery(author_claims, delivery_id))
    assert rejected.status == "draft" and changes(rejected) == []
    edited = MultiDict(FORM)
    edited["title"] = "乳幼児健診（日程変更）"
    edited["m1_text"] = "12月の健診は10日です。"
    edited["m5_type"] = ""
    edited["rule"] = "none"
    form = DeliveryForm.from_form(edited)
    bus.handle(SaveDelivery(author.id, author_claims, DeliveryForm(**{**form.__dict__, "version": rejected.version}),
                            delivery_id))
    again = bus.handle(OpenDelivery(claims, delivery_id))
    bus.handle(ActOnDelivery(author.id, author_claims, delivery_id, "submit", again.version))
    lines = changes(bus.handle(OpenDelivery(claims, delivery_id)), {"kosodate": "子育て"})
    assert lines[0] == "件名: 「乳幼児健診のお知らせ」→「乳幼児健診（日程変更）」"
    assert lines[1].startswith("メッセージ1件目を変更: テキスト「12月の乳幼児健診の日程です。")
    assert lines[2] == "メッセージ4件目を削除: Flex Message「健診の日程」"
    assert lines[3] == ("配信日時: 毎週 月・木 7:30（祝日は翌平日）、2027年3月31日まで → "
                        "なし（承認後に「送信」を押して配信）")
    assert audit_actions(data) == ["delivery.create", "delivery.submit", "delivery.reject", "delivery.update",
                                   "delivery.submit"]
    assert data.audit.events[-3].after["comment"] == "日付を確認してください"


def test_a_rejection_needs_a_comment(city):
    data, bus, platform = city
    _author, _claims, delivery_id = submitted_delivery(data, bus)
    approver, claims = member(data, bus, "taro", Grant(Role.APPROVER, "kosodate"))
    with pytest.raises(DeliveryFormError):
        bus.handle(ActOnDelivery(approver.id, claims, delivery_id, "reject", 1, comment="  "))
    assert ("reject", {"version": 1}) not in platform.calls


def test_a_refusal_is_raised_for_the_page_and_not_audited(city):
    data, bus, platform = city
    admin, claims = member(data, bus, "kanri", Grant(Role.ADMIN))
    delivery_id = uuid.UUID(bus.handle(SaveDelivery(admin.id, claims, DeliveryForm.from_form(FORM))))
    bus.handle(ActOnDelivery(admin.id, claims, delivery_id, "submit", 1))
    before = audit_actions(data)
    with pytest.raises(DeliveryRefused) as raised:  # the dispatcher: never the author
        bus.handle(ActOnDelivery(admin.id, claims, delivery_id, "approve", 1))
    assert (raised.value.status, raised.value.code) == (403, "self_approval")
    platform.refuse = DeliveryRefused("配信できる時間帯ではありません。", 409, "outside_sending_hours")
    with pytest.raises(DeliveryRefused):
        bus.handle(SendTestDelivery(admin.id, claims, delivery_id, ("phone-1",)))
    assert audit_actions(data) == before


def test_a_viewer_may_act_on_nothing(city):
    data, bus, _platform = city
    _author, _claims, delivery_id = submitted_delivery(data, bus)
    viewer, claims = member(data, bus, "yomu", Grant(Role.VIEWER, "kosodate"))
    assert bus.handle(OpenDelivery(claims, delivery_id)).status == "awaiting_approval"
    with pytest.raises(DepartmentForbidden):
        bus.handle(ActOnDelivery(viewer.id, claims, delivery_id, "approve", 1))
    _outsider, outsider_claims = member(data, bus, "soto", Grant(Role.VIEWER, "bousai"))
    with pytest.raises(DepartmentForbidden):
        bus.handle(OpenDelivery(outsider_claims, delivery_id))


def test_every_accepted_action_is_audited(city):
    data, bus, _platform = city
    author, author_claims, delivery_id = submitted_delivery(data, bus)
    approver, claims = member(data, bus, "taro", Grant(Role.APPROVER, "kosodate"))
    bus.handle(ActOnDelivery(approver.id, claims, delivery_id, "approve", 1))
    bus.handle(ActOnDelivery(approver.id, claims, delivery_id, "confirm", 1))
    bus.handle(ActOnDelivery(approver.id, claims, delivery_id, "start", 1))
    bus.handle(ActOnDelivery(author.id, author_claims, delivery_id, "pause", 1))
    bus.handle(ActOnDelivery(author.id, author_claims, delivery_id, "resume", 1))
    bus.handle(ActOnDelivery(author.id, author_claims, delivery_id, "pause", 1))
    bus.handle(ActOnDelivery(author.id, author_claims, delivery_id, "cancel", 1, comment="誤りがあったため"))
    assert bus.handle(SendTestDelivery(author.id, author_claims, delivery_id, ("phone-1",))) == 1
    asset = bus.handle(UploadDeliveryImage(author.id, author_claims, "kosodate", b"\x89PNG...", "image/png"))
    assert asset.width == 240
    assert audit_actions(data) == [
        "delivery.create", "delivery.submit", "delivery.approve", "delivery.confirm", "delivery.start",
        "delivery.pause", "delivery.resume", "delivery.pause", "delivery.cancel", "delivery.test",
        "delivery.image_upload"]
    started = next(e for e in data.audit.events if e.action == "delivery.start")
    assert started.before == {"status": "approved", "version": 1} and started.after["status"] == "sending"
    with pytest.raises(DeliveryFormError):
        bus.handle(UploadDeliveryImage(author.id, author_claims, "kosodate", b"GIF89a", "image/gif"))


def test_statistics_below_the_floor_are_too_few_never_zero(city):
    data, bus, _platform = city
    _author, claims, delivery_id = submitted_delivery(data, bus)
    statistics = bus.handle(ShowDeliveryStatistics(claims, delivery_id))
    assert isinstance(statistics, Statistics) and statistics.available
    assert statistics.messages[0].impression is None and statistics.messages[0].click == 0
    assert statistics.overview == {"uniqueImpression": None}


def test_the_compose_page_offers_categories_segments_and_test_phones(city):
    data, bus, _platform = city
    _author, claims = member(data, bus, "hanako", Grant(Role.AUTHOR, "kosodate"))
    choices = bus.handle(ShowComposeChoices(claims, "kosodate"))
    assert choices.categories == (("bousai", "防災・緊急情報"), ("kosodate", "子育て"))
    assert choices.segment_names == {"seg-1": "南の子育て"}
    assert [r.label for r in choices.test_recipients] == ["広報課の端末"]
    assert bus.handle(CountTarget(claims, TargetForm("segment", "seg-1"))).recipients == 40
    assert bus.handle(CountTarget(claims, TargetForm())).recipients == 1234


def test_the_dispatchers_error_body_becomes_a_refusal():
    class Answer:
        status_code = 400

        def json(self):
            return {"error": "Bad Request", "reason": "内容に誤りがあります。", "code": "invalid_content",
                    "problems": ["2件目（テキスト）: 本文を入力してください。"]}

    refused = refusal(Answer())
    assert (refused.status, refused.code, refused.problems) == (400, "invalid_content",
                                                                ["2件目（テキスト）: 本文を入力してください。"])


def test_without_a_dispatcher_the_port_says_so(city):
    data, bus, _platform = city
    _author, claims = member(data, bus, "hanako", Grant(Role.AUTHOR, "kosodate"))
    with pytest.raises(DeliveryRefused) as raised:
        NoPlatform().deliveries(claims)
    assert raised.value.unavailable
    quiet = MessageBus(data.uow, handlers(NoPlatform(), [], hasher=FastHasher()))
    assert quiet.handle(ShowDeliveries(claims)).rows is None
