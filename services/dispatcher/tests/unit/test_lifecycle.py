"""The life of a delivery, as stories: who may approve, what an edit undoes, when a send may start, and a
table-driven proof that nothing outside the state table is allowed."""

import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from dispatcher.domain import events
from dispatcher.domain.lifecycle import (
    SYSTEM,
    TRANSITIONS,
    Action,
    Actor,
    Delivery,
    DeliveryError,
    IllegalTransition,
    InvalidContent,
    NotPermitted,
    SendPolicy,
    Status,
    allowed_actions,
    check_test_send,
)

TOKYO = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)  # 10:00 in Itami
KOSODATE = "kosodate-shien"  # 子育て支援課

HANAKO = Actor("hanako", frozenset({("author", KOSODATE)}))  # drafts
KACHO = Actor("kacho", frozenset({("approver", KOSODATE)}))  # 課長: approves for her department
TARO = Actor("taro", frozenset({("author", KOSODATE)}))  # a colleague
OTHER_KACHO = Actor("bosai-kacho", frozenset({("approver", "bosai")}))  # approves elsewhere only
ADMIN = Actor("admin", frozenset({("admin", None)}))
TEXT = ({"type": "text", "text": "乳幼児健診のお知らせ"},)
POLICY = SendPolicy(confirmation_threshold=10_000)


def a_draft(**overrides):
    fields = {"department": KOSODATE, "title": "健診のお知らせ", "category_key": "kosodate", "messages": TEXT}
    fields.update(overrides)
    return Delivery.draft(uuid.UUID(int=7), HANAKO, NOW, **fields)


def approved(**overrides):
    delivery = a_draft(**overrides)
    delivery.submit(HANAKO, NOW)
    delivery.approve(KACHO, NOW)
    return delivery


def sending():
    delivery = approved()
    delivery.start(HANAKO, NOW, 100, POLICY)
    return delivery


def test_the_happy_path_is_recorded_step_by_step():
    delivery = approved()
    delivery.schedule(HANAKO, NOW, NOW + timedelta(hours=2))
    delivery.start(None, NOW + timedelta(hours=2), 1200, POLICY)
    delivery.finish(NOW + timedelta(hours=2, minutes=3))

    assert delivery.status is Status.SENT
    assert [(t.from_status, t.to_status, t.action, t.actor_id) for t in delivery.history] == [
        (Status.DRAFT, Status.AWAITING_APPROVAL, Action.SUBMIT, "hanako"),
        (Status.AWAITING_APPROVAL, Status.APPROVED, Action.APPROVE, "kacho"),
        (Status.APPROVED, Status.SCHEDULED, Action.SCHEDULE, "hanako"),
        (Status.SCHEDULED, Status.SENDING, Action.START, SYSTEM),
        (Status.SENDING, Status.SENT, Action.FINISH, SYSTEM),
    ]
    assert [type(e).__name__ for e in delivery.events] == [
        "DeliveryDrafted", "DeliverySubmitted", "DeliveryApproved", "DeliveryScheduled", "DeliveryStarted",
        "DeliveryFinished"]


def test_an_author_cannot_approve_their_own_delivery_even_as_an_approver():
    both = Actor("hanako", frozenset({("author", KOSODATE), ("approver", KOSODATE)}))
    delivery = a_draft()
    delivery.submit(both, NOW)
    with pytest.raises(NotPermitted) as refused:
        delivery.approve(both, NOW)
    assert refused.value.code == "self_approval"
    assert "自分の配信を承認できません" in str(refused.value)
    assert delivery.status is Status.AWAITING_APPROVAL


def test_the_last_editor_cannot_approve_either():
    delivery = a_draft()
    delivery.submit(HANAKO, NOW)
    delivery.edit(KACHO, NOW, title="健診（日程変更）")  # 課長 fixes a typo...
    with pytest.raises(NotPermitted, match="最終編集者"):
        delivery.approve(KACHO, NOW)  # ...and so may not approve her own words
    delivery.approve(ADMIN, NOW)
    assert delivery.status is Status.APPROVED


def test_only_an_approver_of_the_department_or_an_admin_may_approve():
    for stranger in (TARO, OTHER_KACHO):
        delivery = a_draft()
        delivery.submit(HANAKO, NOW)
        with pytest.raises(NotPermitted) as refused:
            delivery.approve(stranger, NOW)
        assert refused.value.code == "not_an_approver"
    delivery = a_draft()
    delivery.submit(HANAKO, NOW)
    delivery.approve(ADMIN, NOW)
    assert delivery.is_approved


def test_a_change_after_approval_sends_it_back_to_awaiting_approval():
    delivery = approved()
    delivery.schedule(HANAKO, NOW, NOW + timedelta(days=1))
    delivery.edit(HANAKO, NOW, messages=({"type": "text", "text": "会場が変わりました"},))

    assert delivery.status is Status.AWAITING_APPROVAL
    assert delivery.status.label == "承認待ち"
    assert delivery.version == 2 and not delivery.is_approved and delivery.approvals == []
    assert delivery.events[-1] == events.DeliveryEdited(delivery.id, "hanako", NOW, 2, back_to_approval=True)


def test_editing_a_draft_keeps_it_a_draft_and_counts_the_version():
    delivery = a_draft()
    delivery.edit(HANAKO, NOW, title="新しい題")
    delivery.edit(HANAKO, NOW, category_key="kenko")
    assert (delivery.status, delivery.version, delivery.title, delivery.category_key) == (
        Status.DRAFT, 3, "新しい題", "kenko")


def test_saving_without_a_change_does_not_undo_an_approval():
    delivery = approved()
    with pytest.raises(DeliveryError) as refused:
        delivery.edit(HANAKO, NOW)
    assert refused.value.code == "nothing_to_edit" and delivery.is_approved


def test_a_test_send_to_staff_phones_needs_no_approval_but_valid_content():
    check_test_send(a_draft(), 2)
    with pytest.raises(InvalidContent):
        check_test_send(a_draft(messages=({"type": "text", "text": ""},)), 1)
    with pytest.raises(DeliveryError) as refused:
        check_test_send(a_draft(), 11)
    assert refused.value.code == "test_recipients"
    finished = sending()
    finished.finish(NOW)
    with pytest.raises(DeliveryError, match="配信完了"):
        check_test_send(finished, 1)


def test_a_reject_needs_a_comment_and_goes_back_to_the_draft():
    delivery = a_draft()
    delivery.submit(HANAKO, NOW)
    with pytest.raises(DeliveryError) as refused:
        delivery.reject(KACHO, NOW, "  ")
    assert refused.value.code == "comment_required"
    delivery.reject(KACHO, NOW, "日付が違います")
    assert delivery.status is Status.DRAFT and delivery.history[-1].comment == "日付が違います"


def test_content_that_breaks_lines_rules_cannot_be_submitted():
    delivery = a_draft(messages=({"type": "text", "text": "あ" * 5001},))
    with pytest.raises(InvalidContent) as refused:
        delivery.submit(HANAKO, NOW)
    assert refused.value.problems[0].text.startswith("1件目（テキスト）: 5000文字以内")
    assert delivery.status is Status.DRAFT
    with pytest.raises(InvalidContent):
        a_draft(messages=()).submit(HANAKO, NOW)


def test_a_scheduled_delivery_does_not_start_before_its_time():
    delivery = approved()
    delivery.schedule(HANAKO, NOW, NOW + timedelta(hours=1))
    with pytest.raises(DeliveryError) as refused:
        delivery.start(None, NOW + timedelta(minutes=59), 100, POLICY)
    assert refused.value.code == "not_due" and "11月26日 11:00" in str(refused.value)
    delivery.start(None, NOW + timedelta(hours=1), 100, POLICY)
    assert delivery.status is Status.SENDING


def test_a_schedule_must_be_in_the_future():
    delivery = approved()
    with pytest.raises(DeliveryError) as refused:
        delivery.schedule(HANAKO, NOW, NOW)
    assert refused.value.code == "send_time_in_past"


def test_nothing_starts_outside_sending_hours_except_disaster_information():
    night = datetime(2026, 11, 26, 21, 30, tzinfo=TOKYO)
    delivery = approved()
    with pytest.raises(DeliveryError) as refused:
        delivery.start(HANAKO, night, 100, POLICY)
    assert refused.value.code == "outside_sending_hours" and "08:00〜20:00" in str(refused.value)

    evacuation = approved(category_key="bousai")
    evacuation.start(None, night, 100, POLICY)
    assert evacuation.status is Status.SENDING


def test_sending_hours_include_the_start_and_exclude_the_end():
    policy = SendPolicy(hours_start=time(8), hours_end=time(20), always_delivered=frozenset({"bousai"}))
    at = lambda h, m: datetime(2026, 11, 26, h, m, tzinfo=TOKYO)  # noqa: E731
    assert not policy.may_start_at("kosodate", at(7, 59))
    assert policy.may_start_at("kosodate", at(8, 0))
    assert policy.may_start_at("kosodate", at(19, 59))
    assert not policy.may_start_at("kosodate", at(20, 0))
    assert policy.may_start_at("bousai", at(3, 0))
    assert policy.may_start_at("kosodate", datetime(2026, 11, 26, 0, 30, tzinfo=UTC))  # 09:30 JST
    assert policy.next_start("kosodate", at(21, 0)) == at(8, 0) + timedelta(days=1)
    assert policy.next_start("kosodate", at(6, 0)) == at(8, 0)
    assert policy.next_start("kosodate", at(9, 0)) == at(9, 0)


def test_a_large_delivery_needs_a_second_different_person_to_confirm():
    delivery = approved()
    with pytest.raises(DeliveryError) as refused:
        delivery.start(HANAKO, NOW, 150_000, POLICY)
    assert refused.value.code == "second_confirmation_required" and "150,000人" in str(refused.value)

    delivery.confirm(HANAKO, NOW, 150_000, POLICY.confirmation_threshold)
    with pytest.raises(NotPermitted) as same:
        delivery.confirm(HANAKO, NOW, 150_000, POLICY.confirmation_threshold)
    assert same.value.code == "same_confirmer"
    with pytest.raises(DeliveryError):
        delivery.start(HANAKO, NOW, 150_000, POLICY)

    delivery.confirm(TARO, NOW, 150_000, POLICY.confirmation_threshold)
    delivery.start(HANAKO, NOW, 150_000, POLICY)
    assert delivery.status is Status.SENDING


def test_at_the_threshold_itself_no_second_confirmation_is_needed():
    delivery = approved()
    delivery.start(HANAKO, NOW, 10_000, POLICY)
    assert delivery.status is Status.SENDING


def test_confirmations_do_not_survive_an_edit():
    delivery = approved()
    delivery.confirm(HANAKO, NOW, 50_000, 10_000)
    delivery.confirm(TARO, NOW, 50_000, 10_000)
    delivery.edit(HANAKO, NOW, title="差し替え")
    delivery.approve(KACHO, NOW)
    with pytest.raises(DeliveryError, match="2人目の確認"):
        delivery.start(HANAKO, NOW, 50_000, POLICY)


def test_confirming_is_only_for_a_delivery_about_to_go():
    with pytest.raises(DeliveryError) as refused:
        a_draft().confirm(HANAKO, NOW, 1, 0)
    assert refused.value.code == "illegal_confirmation"


def test_the_system_pauses_with_a_plain_reason_and_staff_resume():
    delivery = sending()
    with pytest.raises(DeliveryError) as refused:
        delivery.pause(None, NOW)
    assert refused.value.code == "reason_required"
    delivery.pause(None, NOW, "エラーが続いたため一時停止しました。")
    assert delivery.status is Status.PAUSED and delivery.history[-1].actor_id == SYSTEM
    assert delivery.pause_reason == "エラーが続いたため一時停止しました。"
    delivery.resume(KACHO, NOW, POLICY)
    assert delivery.status is Status.SENDING and delivery.pause_reason == ""


def test_a_paused_notice_does_not_resume_at_night():
    delivery = sending()
    delivery.pause(KACHO, NOW)
    with pytest.raises(DeliveryError) as refused:
        delivery.resume(KACHO, datetime(2026, 11, 26, 22, 0, tzinfo=TOKYO), POLICY)
    assert refused.value.code == "outside_sending_hours" and delivery.status is Status.PAUSED


def test_nobody_to_send_to_is_not_a_delivery():
    with pytest.raises(DeliveryError) as refused:
        approved().start(HANAKO, NOW, 0, POLICY)
    assert refused.value.code == "no_recipients"


def test_a_sending_delivery_must_be_paused_before_it_is_cancelled():
    delivery = sending()
    with pytest.raises(IllegalTransition) as refused:
        delivery.cancel(KACHO, NOW)
    assert str(refused.value) == "「配信中」の配信は取消できません。"
    delivery.pause(KACHO, NOW)
    delivery.cancel(KACHO, NOW, "内容に誤り")
    assert delivery.status is Status.CANCELLED


def test_finishing_with_failures_is_a_partial_failure():
    delivery = sending()
    delivery.finish(NOW, failed_recipients=3)
    assert delivery.status is Status.PARTLY_FAILED and delivery.status.is_final
    assert delivery.events[-1].status == "partly_failed"


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        a_draft().submit(HANAKO, datetime(2026, 11, 26, 10, 0))


# -- every legal transition, and every illegal one -------------------------------------------------------

def delivery_in(status):
    """A delivery brought to ``status`` through legal steps."""
    routes = {
        Status.DRAFT: a_draft,
        Status.AWAITING_APPROVAL: lambda: _after(a_draft(), lambda d: d.submit(HANAKO, NOW)),
        Status.APPROVED: approved,
        Status.SCHEDULED: lambda: _after(approved(), lambda d: d.schedule(HANAKO, NOW, NOW + timedelta(hours=1))),
        Status.SENDING: sending,
        Status.PAUSED: lambda: _after(sending(), lambda d: d.pause(KACHO, NOW)),
        Status.SENT: lambda: _after(sending(), lambda d: d.finish(NOW)),
        Status.PARTLY_FAILED: lambda: _after(sending(), lambda d: d.finish(NOW, 1)),
        Status.CANCELLED: lambda: _after(a_draft(), lambda d: d.cancel(HANAKO, NOW)),
    }
    delivery = routes[status]()
    assert delivery.status is status
    return delivery


def _after(delivery, step):
    step(delivery)
    return delivery


LATER = NOW + timedelta(hours=1)
PERFORM = {
    Action.SUBMIT: lambda d: d.submit(HANAKO, LATER),
    Action.APPROVE: lambda d: d.approve(KACHO, LATER),
    Action.REJECT: lambda d: d.reject(KACHO, LATER, "やり直し"),
    Action.EDIT: lambda d: d.edit(HANAKO, LATER, title="直し"),
    Action.SCHEDULE: lambda d: d.schedule(HANAKO, LATER, LATER + timedelta(hours=1)),
    Action.START: lambda d: d.start(None, LATER, 10, POLICY),
    Action.PAUSE: lambda d: d.pause(KACHO, LATER),
    Action.RESUME: lambda d: d.resume(KACHO, LATER, POLICY),
    Action.CANCEL: lambda d: d.cancel(KACHO, LATER),
    Action.FINISH: lambda d: d.finish(LATER),
    Action.NEXT_RUN: lambda d: d.finish(LATER, next_at=LATER + timedelta(days=7)),
}


@pytest.mark.parametrize(("status", "action"), sorted(TRANSITIONS))
def test_every_legal_transition_lands_where_the_table_says(status, action):
    delivery = delivery_in(status)
    PERFORM[action](delivery)
    assert delivery.status is TRANSITIONS[(status, action)]
    assert (delivery.history[-1].from_status, delivery.history[-1].action) == (status, action)


ILLEGAL = [(s, a) for s in Status for a in Action if (s, a) not in TRANSITIONS]


@pytest.mark.parametrize(("status", "action"), ILLEGAL)
def test_every_pair_outside_the_table_is_refused_and_changes_nothing(status, action):
    delivery = delivery_in(status)
    history, version = list(delivery.history), delivery.version
    with pytest.raises(IllegalTransition) as refused:
        PERFORM[action](delivery)
    assert refused.value.code == "illegal_transition"
    assert f"「{status.label}」の配信は{action.label}できません。" == str(refused.value)
    assert (delivery.status, delivery.history, delivery.version) == (status, history, version)


def test_final_states_allow_nothing_and_the_console_can_ask_what_is_allowed():
    for final in (Status.SENT, Status.PARTLY_FAILED, Status.CANCELLED):
        assert allowed_actions(final) == frozenset()
    assert allowed_actions(Status.SENDING) == {Action.PAUSE, Action.FINISH, Action.NEXT_RUN}
    assert allowed_actions(Status.PAUSED) == {Action.RESUME, Action.CANCEL}


def test_a_recurring_delivery_goes_back_to_scheduled_after_each_send():
    delivery = delivery_in(Status.SENDING)
    delivery.finish(LATER, failed_recipients=3, next_at=LATER + timedelta(days=7))
    assert delivery.status is Status.SCHEDULED and delivery.send_at == LATER + timedelta(days=7)
    assert delivery.history[-1].action is Action.NEXT_RUN and "失敗 3人" in delivery.history[-1].comment
    assert delivery.is_approved  # the approval covers every occurrence of the same content
