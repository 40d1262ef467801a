"""dispatcher's use cases as stories, run in memory through the message bus: a delivery drafted by 子育て支援課,
approved by its 課長, sent in jobs of ≤ 500, paused, resumed, finished — and the send loop talking to a
scripted LINE."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from cityline_common.crypto import FieldCipher, generate_key
from cityline_common.messagebus import MessageBus
from dispatcher.adapters.in_memory import FakeLine, FakeRecipients, InMemoryDispatcherData
from dispatcher.adapters.repository import TestRecipient as StaffPhone  # not a test class for pytest
from dispatcher.contracts import DeliveryStatusChanged, SendJobQueued
from dispatcher.domain import commands as c
from dispatcher.domain.jobs import ErrorBudget, RetryPolicy
from dispatcher.domain.lifecycle import SYSTEM, Actor, DeliveryError, NotPermitted, SendPolicy, Status
from dispatcher.domain.schedule import Weekly, next_occurrence
from dispatcher.service_layer.deliveries import TEST_RECIPIENT_COLUMN, NotFound, Ports, aggregation_unit, snapshot
from dispatcher.service_layer.handlers import handlers
from dispatcher.service_layer.sending import RateLimiter, SendLoop

TOKYO = ZoneInfo("Asia/Tokyo")
MORNING = datetime(2026, 6, 1, 10, 0, tzinfo=TOKYO)  # a Monday, inside 配信可能時間帯 (08:00–20:00)
KOSODATE = "kosodate-shien"  # 子育て支援課
HANAKO = Actor("hanako", frozenset({("author", KOSODATE)}))  # drafts
KACHO = Actor("kacho", frozenset({("approver", KOSODATE)}))  # 課長: approves for her department
BOSAI_AUTHOR = Actor("bosai-author", frozenset({("author", "bosai")}))  # another department
TEXT = ({"type": "text", "text": "乳幼児健診のお知らせ"},)
CIPHER = FieldCipher.from_spec(f"k1:{generate_key()}")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class City:
    """One test's dispatcher: the in-memory database, the fakes, a clock the test moves, the bus."""

    def __init__(self, friends: int = 1_201, line: FakeLine | None = None,
                 policy: SendPolicy | None = None) -> None:
        self.clock = Clock(MORNING)
        self.data = InMemoryDispatcherData(clock=self.clock)
        self.recipients = FakeRecipients(f"U{n:032x}" for n in range(1, friends + 1))
        self.line = line or FakeLine()
        self.ports = Ports(recipients=self.recipients, line=self.line, clock=self.clock, policy=policy or SendPolicy(),
                           cipher=CIPHER, media_key=b"m" * 32, public_base_url="https://city.example")
        self.bus = MessageBus(self.data.uow, handlers(self.ports))

    # -- what staff do ------------------------------------------------------------------------------------

    def drafts(self, author: Actor = HANAKO, rule: dict | None = None, messages=TEXT) -> uuid.UUID:
        return self.bus.handle(c.CreateDelivery(author, KOSODATE, "健診のお知らせ", "kosodate", messages,
                                                {"kind": "everyone"}, rule))

    def acts(self, delivery_id: uuid.UUID, actor: Actor, action: str, **options) -> None:
        self.bus.handle(c.ActOnDelivery(delivery_id, actor, action, **options))

    def approved_delivery(self, rule: dict | None = None) -> uuid.UUID:
        delivery_id = self.drafts(rule=rule)
        self.acts(delivery_id, HANAKO, "submit")
        self.acts(delivery_id, KACHO, "approve")
        return delivery_id

    def starts(self, delivery_id: uuid.UUID, actor: Actor | None = HANAKO) -> uuid.UUID:
        return self.bus.handle(c.StartDelivery(delivery_id, actor))

    def sending_delivery(self, rule: dict | None = None) -> tuple[uuid.UUID, uuid.UUID]:
        delivery_id = self.approved_delivery(rule)
        return delivery_id, self.starts(delivery_id)

    def settles(self, send_id: uuid.UUID, number: int, status: str = "sent", error: str | None = None) -> None:
        self.bus.handle(c.SettleJob(send_id, number, status, 1, "req", error))

    # -- what we look at ----------------------------------------------------------------------------------

    def delivery(self, delivery_id: uuid.UUID):
        return self.bus.query(lambda uow: uow.deliveries.get(delivery_id))

    def status_of(self, delivery_id: uuid.UUID) -> Status:
        return self.delivery(delivery_id).delivery.status

    def send(self, send_id: uuid.UUID):
        return self.bus.query(lambda uow: uow.sends.get(send_id))

    def job(self, send_id: uuid.UUID, number: int):
        return self.bus.query(lambda uow: uow.sends.job(send_id, number))

    def queued_jobs(self, send_id: uuid.UUID | None = None) -> list[SendJobQueued]:
        return [each for each in self.data.emitted()
                if isinstance(each, SendJobQueued) and (send_id is None or each.send_id == send_id)]

    def announced(self, delivery_id: uuid.UUID) -> list[str]:
        return [each.status for each in self.data.emitted()
                if isinstance(each, DeliveryStatusChanged) and each.delivery_id == delivery_id]

    def phone(self, label: str, line_user_id: str, department: str = KOSODATE) -> uuid.UUID:
        """A staff phone in the test group (テスト配信)."""
        recipient_id = uuid.uuid4()
        sealed = CIPHER.encrypt_for_row(line_user_id, TEST_RECIPIENT_COLUMN, recipient_id)
        with self.data.uow() as uow:
            uow.library.add_test_recipient(StaffPhone(recipient_id, department, label, sealed))
            uow.commit()
        return recipient_id


@pytest.fixture
def city() -> City:
    return City()


# --- from draft to send ---------------------------------------------------------------------------------


def test_an_approved_delivery_starts_by_freezing_its_recipients_and_queueing_one_job_per_500(city):
    delivery_id = city.drafts()
    city.acts(delivery_id, HANAKO, "submit")
    city.acts(delivery_id, KACHO, "approve")
    send_id = city.starts(delivery_id)

    assert city.status_of(delivery_id) is Status.SENDING
    assert len(city.recipients.frozen[send_id]) == 1_201
    jobs = city.queued_jobs()
    assert [(j.number, j.first, j.last) for j in jobs] == [(1, 1, 500), (2, 501, 1000), (3, 1001, 1201)]
    assert {j.send_id for j in jobs} == {send_id} and {j.delivery_id for j in jobs} == {delivery_id}
    assert len({j.retry_key for j in jobs}) == 3
    send = city.send(send_id)
    assert (send.status, send.recipients, send.jobs, send.jobs_settled) == ("sending", 1_201, 3, 0)
    assert city.announced(delivery_id) == ["awaiting_approval", "approved", "sending"]
    history = city.delivery(delivery_id).delivery.history
    assert [(t.action.value, t.actor_id) for t in history] == [
        ("submit", "hanako"), ("approve", "kacho"), ("start", "hanako")]


def test_an_author_cannot_approve_her_own_delivery(city):
    delivery_id = city.drafts()
    city.acts(delivery_id, HANAKO, "submit")

    with pytest.raises(NotPermitted) as refused:
        city.acts(delivery_id, HANAKO, "approve")
    assert refused.value.code == "self_approval"
    assert city.status_of(delivery_id) is Status.AWAITING_APPROVAL


def test_another_department_cannot_even_see_the_delivery(city):
    delivery_id = city.approved_delivery()

    for command in (c.ActOnDelivery(delivery_id, BOSAI_AUTHOR, "cancel"),
                    c.EditDelivery(delivery_id, BOSAI_AUTHOR, None, {"title": "乗っ取り"}),
                    c.StartDelivery(delivery_id, BOSAI_AUTHOR),
                    c.SendTest(delivery_id, BOSAI_AUTHOR, ())):
        with pytest.raises(NotFound):
            city.bus.handle(command)
    assert city.status_of(delivery_id) is Status.APPROVED
    assert city.recipients.frozen == {}


def test_editing_an_approved_delivery_sends_it_back_for_approval_and_each_review_keeps_what_was_seen(city):
    delivery_id = city.approved_delivery()
    approved = city.delivery(delivery_id)
    assert approved.reviewed == snapshot(approved.delivery) and approved.reviewed["version"] == 1

    city.bus.handle(c.EditDelivery(delivery_id, HANAKO, 1, {"title": "健診日程の変更"}))
    edited = city.delivery(delivery_id)
    assert edited.delivery.status is Status.AWAITING_APPROVAL and edited.delivery.version == 2
    assert edited.delivery.approvals == []
    assert edited.reviewed["title"] == "健診のお知らせ"  # what the 課長 approved, to compare with

    city.acts(delivery_id, KACHO, "reject", comment="日付を確認してください")
    rejected = city.delivery(delivery_id)
    assert rejected.delivery.status is Status.DRAFT
    assert rejected.reviewed["title"] == "健診日程の変更" and rejected.reviewed["version"] == 2
    assert city.announced(delivery_id) == ["awaiting_approval", "approved", "awaiting_approval", "draft"]


def test_a_change_made_on_a_stale_version_is_refused_and_changes_nothing(city):
    delivery_id = city.drafts()
    city.bus.handle(c.EditDelivery(delivery_id, HANAKO, 1, {"title": "二版"}))

    with pytest.raises(DeliveryError) as refused:
        city.bus.handle(c.EditDelivery(delivery_id, HANAKO, 1, {"title": "古い画面からの変更"}))
    assert refused.value.code == "stale_version"
    with pytest.raises(DeliveryError) as refused:
        city.acts(delivery_id, HANAKO, "submit", version=1)
    assert refused.value.code == "stale_version"
    stored = city.delivery(delivery_id).delivery
    assert (stored.title, stored.version, stored.status) == ("二版", 2, Status.DRAFT)


def test_line_refusing_the_content_stops_the_start_before_anything_is_frozen():
    city = City(line=FakeLine(refuse="messages[0].text: invalid"))
    delivery_id = city.approved_delivery()

    with pytest.raises(DeliveryError) as refused:
        city.starts(delivery_id)
    assert refused.value.code == "line_refused_content"
    assert "messages[0].text: invalid" in refused.value.message
    assert city.status_of(delivery_id) is Status.APPROVED
    assert city.recipients.frozen == {} and city.queued_jobs() == []


# --- settling jobs ----------------------------------------------------------------------------------------


def test_settling_every_job_finishes_the_delivery(city):
    delivery_id, send_id = city.sending_delivery()
    city.settles(send_id, 1)
    city.settles(send_id, 2)
    assert city.status_of(delivery_id) is Status.SENDING

    city.clock.advance(minutes=3)
    city.settles(send_id, 3)
    assert city.status_of(delivery_id) is Status.SENT
    send = city.send(send_id)
    assert (send.status, send.sent, send.failed, send.finished_at) == ("sent", 1_201, 0, city.clock.now)
    assert city.announced(delivery_id)[-1] == "sent"


def test_a_failed_job_makes_the_delivery_partly_failed_and_says_why(city):
    delivery_id, send_id = city.sending_delivery()
    city.settles(send_id, 1)
    city.settles(send_id, 2, "failed", "LINEが送信を受け付けませんでした（400）")
    city.settles(send_id, 3)

    assert city.status_of(delivery_id) is Status.PARTLY_FAILED
    send = city.send(send_id)
    assert (send.status, send.sent, send.failed) == ("partly_failed", 701, 500)
    assert city.bus.query(lambda uow: uow.sends.errors(send_id)) == [("LINEが送信を受け付けませんでした（400）", 500)]


def test_a_job_settled_again_changes_nothing(city):
    delivery_id, send_id = city.sending_delivery()
    city.settles(send_id, 1)
    city.settles(send_id, 1)  # the message came back: redelivered
    city.settles(send_id, 1, "failed", "late")

    send = city.send(send_id)
    assert (send.jobs_settled, send.sent, send.failed) == (1, 500, 0)
    assert city.job(send_id, 1).status == "sent"
    assert city.status_of(delivery_id) is Status.SENDING


def test_a_weekly_delivery_goes_back_to_scheduled_for_its_next_occurrence(city):
    weekly = {"kind": "weekly", "weekdays": ["mon"], "time": "09:30", "holidays": "send"}
    delivery_id, send_id = city.sending_delivery(rule=weekly)
    for number in (1, 2, 3):
        city.settles(send_id, number)

    stored = city.delivery(delivery_id)
    assert stored.delivery.status is Status.SCHEDULED
    expected = next_occurrence(Weekly(frozenset({0}), datetime(2026, 6, 1, 9, 30).time()), city.clock.now)
    assert stored.delivery.send_at == expected == datetime(2026, 6, 8, 9, 30, tzinfo=TOKYO)
    assert stored.delivery.history[-1].action.value == "next_run"
    assert city.send(send_id).status == "sent"
    assert city.bus.query(lambda uow: uow.deliveries.due(expected, 10)) == [delivery_id]
    assert city.bus.query(lambda uow: uow.deliveries.due(expected - timedelta(seconds=1), 10)) == []


# --- pause, resume, cancel ------------------------------------------------------------------------------


def test_pause_stops_the_send_and_resume_queues_exactly_the_jobs_still_pending(city):
    delivery_id, send_id = city.sending_delivery()
    city.settles(send_id, 1)
    city.acts(delivery_id, KACHO, "pause", comment="内容に誤り")
    assert city.status_of(delivery_id) is Status.PAUSED
    assert city.send(send_id).status == "paused"

    city.settles(send_id, 2)  # a job already under way when the pause came
    assert city.status_of(delivery_id) is Status.PAUSED

    before = len(city.data.emitted_messages())
    city.clock.advance(minutes=10)
    city.acts(delivery_id, KACHO, "resume")
    requeued = [m for m in city.data.emitted_messages()[before:] if isinstance(m.contract, SendJobQueued)]
    assert [m.contract.number for m in requeued] == [3]
    assert requeued[0].message_id.startswith(f"{send_id}:3:")  # a new message id: not a duplicate
    assert city.send(send_id).status == "sending"
    assert city.status_of(delivery_id) is Status.SENDING


def test_resuming_when_every_job_settled_during_the_pause_finishes_the_delivery(city):
    delivery_id, send_id = city.sending_delivery()
    city.acts(delivery_id, HANAKO, "pause")
    for number in (1, 2, 3):
        city.settles(send_id, number)
    city.acts(delivery_id, HANAKO, "resume")

    assert city.status_of(delivery_id) is Status.SENT
    assert city.send(send_id).status == "sent"


def test_a_paused_delivery_can_be_cancelled(city):
    delivery_id, send_id = city.sending_delivery()
    city.acts(delivery_id, HANAKO, "pause")
    city.clock.advance(minutes=1)
    city.acts(delivery_id, HANAKO, "cancel", comment="中止")

    assert city.status_of(delivery_id) is Status.CANCELLED
    send = city.send(send_id)
    assert (send.status, send.finished_at) == ("cancelled", city.clock.now)


def test_a_sending_delivery_must_be_paused_before_it_is_cancelled(city):
    delivery_id, send_id = city.sending_delivery()
    with pytest.raises(DeliveryError) as refused:
        city.acts(delivery_id, HANAKO, "cancel")
    assert refused.value.code == "illegal_transition"
    assert city.send(send_id).status == "sending"


def test_too_many_errors_pause_the_delivery_with_the_reason(city):
    delivery_id, send_id = city.sending_delivery()
    city.bus.handle(c.PauseForErrors(send_id, "エラーが続いたため一時停止しました。"))

    stored = city.delivery(delivery_id).delivery
    assert stored.status is Status.PAUSED
    assert stored.pause_reason == "エラーが続いたため一時停止しました。"
    assert stored.history[-1].actor_id == SYSTEM
    assert city.send(send_id).status == "paused"

    city.bus.handle(c.PauseForErrors(send_id, "二度目"))  # another replica ran out too: nothing more
    assert city.delivery(delivery_id).delivery.pause_reason == "エラーが続いたため一時停止しました。"


def test_requeue_stalled_jobs_queues_again_the_pending_jobs_of_stalled_sends_only(city):
    stalled_id, stalled_send = city.sending_delivery()
    city.settles(stalled_send, 1)
    moving_id, moving_send = city.sending_delivery()
    paused_id, _paused_send = city.sending_delivery()
    city.acts(paused_id, HANAKO, "pause")

    city.clock.advance(minutes=5)
    city.settles(moving_send, 1)  # this one is making progress
    before = len(city.data.emitted())
    queued = city.bus.handle(c.RequeueStalledJobs(stalled_seconds=120))

    again = [each for each in city.data.emitted()[before:] if isinstance(each, SendJobQueued)]
    assert queued == 2
    assert [(j.send_id, j.number) for j in again] == [(stalled_send, 2), (stalled_send, 3)]
    assert city.status_of(stalled_id) is city.status_of(moving_id) is Status.SENDING


# --- schedules --------------------------------------------------------------------------------------------


def test_a_due_delivery_held_outside_sending_hours_waits_for_the_next_opening(city):
    delivery_id = city.approved_delivery()
    city.acts(delivery_id, HANAKO, "schedule", send_at=datetime(2026, 6, 1, 19, 59, tzinfo=TOKYO))
    city.clock.now = datetime(2026, 6, 1, 20, 30, tzinfo=TOKYO)
    assert city.bus.query(lambda uow: uow.deliveries.due(city.clock.now, 10)) == [delivery_id]

    city.bus.handle(c.HoldDueDelivery(delivery_id, "配信可能時間帯の外です。", "outside_sending_hours"))
    stored = city.delivery(delivery_id).delivery
    assert stored.status is Status.SCHEDULED
    assert stored.send_at == datetime(2026, 6, 2, 8, 0, tzinfo=TOKYO)
    assert stored.pause_reason == "配信可能時間帯の外です。"
    assert city.bus.query(lambda uow: uow.deliveries.due(city.clock.now, 10)) == []


def test_a_due_delivery_held_for_another_reason_is_tried_again_in_15_minutes(city):
    delivery_id = city.approved_delivery()
    city.acts(delivery_id, HANAKO, "schedule", send_at=MORNING + timedelta(hours=1))
    city.clock.advance(hours=1)
    city.bus.handle(c.HoldDueDelivery(delivery_id, "配信対象を確定できませんでした", "recipients_unavailable"))
    assert city.delivery(delivery_id).delivery.send_at == city.clock.now + timedelta(minutes=15)


# --- テスト配信 ----------------------------------------------------------------------------------------------


def test_a_test_send_pushes_to_the_chosen_phones_of_the_department_only(city):
    delivery_id = city.drafts()
    mine = city.phone("花子のスマホ", "U" + "a" * 32)
    kacho = city.phone("課長のスマホ", "U" + "b" * 32)
    city.phone("予備", "U" + "d" * 32)
    elsewhere = city.phone("防災課のスマホ", "U" + "c" * 32, department="bosai")

    pushed = city.bus.handle(c.SendTest(delivery_id, HANAKO, (mine, kacho, elsewhere, uuid.uuid4())))

    assert pushed == 2
    assert sorted(city.line.pushed_to()) == ["U" + "a" * 32, "U" + "b" * 32]
    assert all(call.messages == [dict(TEXT[0])] for calls in city.line.pushes.values() for call in calls)
    assert city.status_of(delivery_id) is Status.DRAFT and city.queued_jobs() == []


def test_a_test_send_to_more_than_ten_phones_is_refused(city):
    delivery_id = city.drafts()
    phones = tuple(city.phone(f"スマホ{n}", f"U{n:032x}") for n in range(11))

    with pytest.raises(DeliveryError) as refused:
        city.bus.handle(c.SendTest(delivery_id, HANAKO, phones))
    assert refused.value.code == "test_recipients"
    assert city.line.pushed_to() == []


def test_a_finished_delivery_cannot_be_test_sent(city):
    delivery_id, send_id = city.sending_delivery()
    for number in (1, 2, 3):
        city.settles(send_id, number)
    phone = city.phone("花子のスマホ", "U" + "a" * 32)

    with pytest.raises(DeliveryError) as refused:
        city.bus.handle(c.SendTest(delivery_id, HANAKO, (phone,)))
    assert refused.value.code == "illegal_test_send"
    assert city.line.pushed_to() == []


def test_a_large_delivery_needs_two_different_people_to_confirm_before_it_starts():
    city = City(policy=SendPolicy(confirmation_threshold=1_000))
    delivery_id = city.approved_delivery()

    with pytest.raises(DeliveryError) as refused:
        city.starts(delivery_id)
    assert refused.value.code == "second_confirmation_required"
    city.acts(delivery_id, HANAKO, "confirm")
    with pytest.raises(NotPermitted):
        city.acts(delivery_id, HANAKO, "confirm")  # the second must be someone else
    city.acts(delivery_id, KACHO, "confirm")

    city.starts(delivery_id)
    assert city.status_of(delivery_id) is Status.SENDING
    assert [c.recipients for c in city.delivery(delivery_id).delivery.confirmations] == [1_201, 1_201]


def test_a_resume_outside_sending_hours_is_refused_and_the_send_stays_paused(city):
    delivery_id, send_id = city.sending_delivery()
    city.acts(delivery_id, HANAKO, "pause")
    city.clock.now = datetime(2026, 6, 1, 21, 0, tzinfo=TOKYO)
    before = len(city.data.emitted())

    with pytest.raises(DeliveryError) as refused:
        city.acts(delivery_id, HANAKO, "resume")
    assert refused.value.code == "outside_sending_hours"
    assert city.status_of(delivery_id) is Status.PAUSED
    assert city.send(send_id).status == "paused"
    assert city.data.emitted()[before:] == []


def test_a_weekly_delivery_fires_again_when_due_with_a_send_and_retry_keys_of_its_own(city):
    weekly = {"kind": "weekly", "weekdays": ["mon"], "time": "09:30", "holidays": "send"}
    delivery_id, first_send = city.sending_delivery(rule=weekly)
    for number in (1, 2, 3):
        city.settles(first_send, number)

    city.clock.now = datetime(2026, 6, 8, 9, 30, tzinfo=TOKYO)
    [due] = city.bus.query(lambda uow: uow.deliveries.due(city.clock.now, 10))
    second_send = city.starts(due, actor=None)  # the scheduler

    assert second_send != first_send
    assert [s.run for s in city.bus.query(lambda uow: uow.sends.of_delivery(delivery_id))] == [1, 2]
    first_keys = {j.retry_key for j in city.queued_jobs(first_send)}
    second_keys = {j.retry_key for j in city.queued_jobs(second_send)}
    assert len(second_keys) == 3 and not first_keys & second_keys
    assert city.delivery(delivery_id).delivery.history[-1].actor_id == SYSTEM


def test_a_held_delivery_no_longer_says_why_it_was_held_once_it_starts(city):
    delivery_id = city.approved_delivery()
    city.acts(delivery_id, HANAKO, "schedule", send_at=datetime(2026, 6, 1, 19, 59, tzinfo=TOKYO))
    city.clock.now = datetime(2026, 6, 1, 20, 30, tzinfo=TOKYO)
    with pytest.raises(DeliveryError) as refused:
        city.starts(delivery_id, actor=None)
    city.bus.handle(c.HoldDueDelivery(delivery_id, refused.value.message, refused.value.code))

    city.clock.now = datetime(2026, 6, 2, 8, 0, tzinfo=TOKYO)
    city.starts(delivery_id, actor=None)
    stored = city.delivery(delivery_id).delivery
    assert stored.status is Status.SENDING
    assert stored.pause_reason == ""


def test_a_phone_chosen_twice_gets_one_test_push(city):
    delivery_id = city.drafts()
    mine = city.phone("花子のスマホ", "U" + "a" * 32)

    assert city.bus.handle(c.SendTest(delivery_id, HANAKO, (mine, mine))) == 1
    assert city.line.pushed_to() == ["U" + "a" * 32]


# --- the send loop ------------------------------------------------------------------------------------------


class Sleeps(list[float]):
    """A sleep that only writes down how long it was asked to wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def send_loop(city: City, sleeps: Sleeps | None = None, budget: ErrorBudget | None = None) -> SendLoop:
    return SendLoop(city.bus, city.recipients, city.line, RateLimiter(1_000_000.0), clock=city.clock,
                    policy=RetryPolicy(), budget=budget, sleep=sleeps if sleeps is not None else Sleeps())


def one_job_city(*answers) -> tuple[City, uuid.UUID, uuid.UUID, SendJobQueued]:
    city = City(friends=3, line=FakeLine(answers))
    delivery_id, send_id = city.sending_delivery()
    [job] = city.queued_jobs(send_id)
    return city, delivery_id, send_id, job


def test_a_job_line_accepts_is_settled_sent_and_finishes_the_delivery():
    city, delivery_id, send_id, job = one_job_city(200)

    assert send_loop(city).run(job) == "sent"
    [call] = city.line.multicasts[job.retry_key]
    assert list(call.to) == city.recipients.members
    assert call.messages == [dict(TEXT[0])]
    assert call.unit == aggregation_unit(delivery_id)  # LINE counts the delivery's statistics under it
    settled = city.job(send_id, 1)
    assert (settled.status, settled.attempts) == ("sent", 1)
    assert city.status_of(delivery_id) is Status.SENT


def test_a_job_line_had_already_accepted_is_settled_sent_without_a_second_send():
    city, delivery_id, send_id, job = one_job_city()
    city.line.accepted.add(job.retry_key)  # the process died after LINE accepted, before settling

    assert send_loop(city).run(job) == "already-accepted"
    assert city.job(send_id, 1).status == "sent"
    assert city.line.sent_to() == []
    assert city.status_of(delivery_id) is Status.SENT


def test_a_server_error_is_retried_with_the_same_retry_key():
    city, _delivery_id, send_id, job = one_job_city(500, 200)
    sleeps = Sleeps()

    assert send_loop(city, sleeps).run(job) == "sent"
    attempts = city.line.multicasts[job.retry_key]
    assert [a.status for a in attempts] == [500, 200]
    assert list(city.line.multicasts) == [job.retry_key]  # one key for both attempts
    assert len(sleeps) == 1 and sleeps[0] > 0
    assert city.job(send_id, 1).attempts == 2


def test_a_request_line_refuses_fails_the_job_with_lines_reason():
    city, delivery_id, send_id, job = one_job_city((400, "The request body has 1 error(s)"))

    assert send_loop(city).run(job) == "failed"
    failed = city.job(send_id, 1)
    assert failed.status == "failed"
    assert "400" in failed.error and "The request body has 1 error(s)" in failed.error
    assert len(city.line.multicasts[job.retry_key]) == 1  # never retried
    assert city.status_of(delivery_id) is Status.PARTLY_FAILED


def test_a_job_of_a_paused_send_is_not_sent():
    city, delivery_id, send_id, job = one_job_city()
    city.acts(delivery_id, HANAKO, "pause")

    assert send_loop(city).run(job) == "not-sending"
    assert city.line.multicasts == {}
    assert city.job(send_id, 1).status == "pending"


def test_a_run_of_errors_pauses_the_delivery():
    city, delivery_id, send_id, job = one_job_city(*[500] * 10)
    budget = ErrorBudget(window=5, max_failure_ratio=0.3, minimum=3)

    assert send_loop(city, budget=budget).run(job) == "paused"
    assert len(city.line.multicasts[job.retry_key]) == 3
    stored = city.delivery(delivery_id).delivery
    assert stored.status is Status.PAUSED and "エラー" in stored.pause_reason
    assert stored.history[-1].actor_id == SYSTEM
    assert city.send(send_id).status == "paused"
    assert city.job(send_id, 1).status == "pending"  # resume will queue it again


def test_after_an_error_pause_resume_sends_the_job_again_with_its_own_retry_key():
    city, delivery_id, send_id, job = one_job_city(*[500] * 3)
    loop = send_loop(city, budget=ErrorBudget(window=5, max_failure_ratio=0.3, minimum=3))
    assert loop.run(job) == "paused"

    city.acts(delivery_id, HANAKO, "resume")  # LINE is back: the script is used up, it answers 200
    first, again = city.queued_jobs(send_id)
    assert first == job
    assert (again.number, again.retry_key) == (job.number, job.retry_key)
    assert loop.run(again) == "sent"
    assert city.line.sent_to() == city.recipients.members
    assert city.status_of(delivery_id) is Status.SENT
