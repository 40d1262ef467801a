"""The life of a delivery (配信): one state table, and the :class:`Delivery` aggregate that enforces it.

Plain Python, no I/O, no clock: every method takes the moment (``at``, an aware datetime) from the caller.

The whole lifecycle is :data:`TRANSITIONS`, a mapping of (status, action) to the next status; any pair not
in it is refused with :class:`IllegalTransition`. On top of the table the aggregate enforces the rules a
table cannot hold: who may approve (承認), that a reject carries a comment, that a scheduled delivery
starts only when due, sending hours (配信可能時間帯) and the second confirmation (誤配信防止).

Decisions:
- 編集 (``edit``) in 下書き keeps it a draft; anywhere from 承認待ち to 予約済み it sends the delivery back to
  承認待ち and clears approvals and confirmations: whatever was approved is no longer what would be sent.
- 取消 (``cancel``) is allowed before sending and from 一時停止; a delivery that is sending must be paused
  first, so that "stop" is always one clear step (the send loop honours a pause between jobs).
- 配信完了 / 一部失敗 / 取消 are final: nothing leaves them.
- ``finish`` is the one action with two outcomes: the table says 配信完了; the aggregate lands on 一部失敗
  when any recipient failed (:data:`FINISHED_WITH_FAILURES`).
- Roles are checked here only for approval (the rule the city's procedure is about); who may draft,
  schedule or cancel is the service layer's permission check.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from cityline_common.unit_of_work import Event

from dispatcher.domain import events as ev  # "events" is also the aggregate's list of raised events
from dispatcher.domain.messages import Problem, validate_messages

TOKYO = ZoneInfo("Asia/Tokyo")


class Unset:
    """Marks an argument not given (where None is a value: "no schedule")."""


UNSET = Unset()
SYSTEM = "system"  # the actor id recorded when the platform itself acts (a due schedule, an error pause)


class Status(StrEnum):
    DRAFT = "draft"  # 下書き
    AWAITING_APPROVAL = "awaiting_approval"  # 承認待ち
    APPROVED = "approved"  # 承認済み
    SCHEDULED = "scheduled"  # 予約済み
    SENDING = "sending"  # 配信中
    PAUSED = "paused"  # 一時停止
    SENT = "sent"  # 配信完了
    PARTLY_FAILED = "partly_failed"  # 一部失敗
    CANCELLED = "cancelled"  # 取消

    @property
    def label(self) -> str:
        """The word staff see."""
        return STATUS_LABELS[self]

    @property
    def is_final(self) -> bool:
        return self in (Status.SENT, Status.PARTLY_FAILED, Status.CANCELLED)


STATUS_LABELS = {
    Status.DRAFT: "下書き",
    Status.AWAITING_APPROVAL: "承認待ち",
    Status.APPROVED: "承認済み",
    Status.SCHEDULED: "予約済み",
    Status.SENDING: "配信中",
    Status.PAUSED: "一時停止",
    Status.SENT: "配信完了",
    Status.PARTLY_FAILED: "一部失敗",
    Status.CANCELLED: "取消",
}


class Action(StrEnum):
    SUBMIT = "submit"  # 承認依頼
    APPROVE = "approve"  # 承認
    REJECT = "reject"  # 差し戻し
    EDIT = "edit"  # 編集
    SCHEDULE = "schedule"  # 予約
    START = "start"  # 配信開始
    PAUSE = "pause"  # 一時停止
    RESUME = "resume"  # 再開
    CANCEL = "cancel"  # 取消
    FINISH = "finish"  # 配信終了
    NEXT_RUN = "next_run"  # 次回の配信へ (a recurring delivery's send finished; the next occurrence is due later)

    @property
    def label(self) -> str:
        return ACTION_LABELS[self]


ACTION_LABELS = {
    Action.SUBMIT: "承認依頼",
    Action.APPROVE: "承認",
    Action.REJECT: "差し戻し",
    Action.EDIT: "編集",
    Action.SCHEDULE: "予約",
    Action.START: "配信開始",
    Action.PAUSE: "一時停止",
    Action.RESUME: "再開",
    Action.CANCEL: "取消",
    Action.FINISH: "配信終了",
    Action.NEXT_RUN: "次回の配信へ",
}

S, A = Status, Action
TRANSITIONS: Mapping[tuple[Status, Action], Status] = {
    (S.DRAFT, A.EDIT): S.DRAFT,
    (S.DRAFT, A.SUBMIT): S.AWAITING_APPROVAL,
    (S.DRAFT, A.CANCEL): S.CANCELLED,
    (S.AWAITING_APPROVAL, A.APPROVE): S.APPROVED,
    (S.AWAITING_APPROVAL, A.REJECT): S.DRAFT,
    (S.AWAITING_APPROVAL, A.EDIT): S.AWAITING_APPROVAL,
    (S.AWAITING_APPROVAL, A.CANCEL): S.CANCELLED,
    (S.APPROVED, A.EDIT): S.AWAITING_APPROVAL,
    (S.APPROVED, A.SCHEDULE): S.SCHEDULED,
    (S.APPROVED, A.START): S.SENDING,
    (S.APPROVED, A.CANCEL): S.CANCELLED,
    (S.SCHEDULED, A.EDIT): S.AWAITING_APPROVAL,
    (S.SCHEDULED, A.START): S.SENDING,
    (S.SCHEDULED, A.CANCEL): S.CANCELLED,
    (S.SENDING, A.PAUSE): S.PAUSED,
    (S.SENDING, A.FINISH): S.SENT,
    (S.SENDING, A.NEXT_RUN): S.SCHEDULED,
    (S.PAUSED, A.RESUME): S.SENDING,
    (S.PAUSED, A.CANCEL): S.CANCELLED,
}
FINISHED_WITH_FAILURES = Status.PARTLY_FAILED  # where FINISH lands instead of SENT when recipients failed
del S, A


def allowed_actions(status: Status) -> frozenset[Action]:
    """What may be done next from ``status`` (for the console's buttons)."""
    return frozenset(action for (source, action) in TRANSITIONS if source == status)


class DeliveryError(Exception):
    """A refused request about a delivery. ``str(error)`` is a Japanese sentence fit for staff; ``code`` is
    stable for programs (API error bodies, tests)."""

    code = "delivery_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class IllegalTransition(DeliveryError):
    """The (status, action) pair is not in :data:`TRANSITIONS`."""

    code = "illegal_transition"

    def __init__(self, status: Status, action: Action) -> None:
        super().__init__(f"「{status.label}」の配信は{action.label}できません。")
        self.status, self.action = status, action


class NotPermitted(DeliveryError):
    code = "not_permitted"


class InvalidContent(DeliveryError):
    """The messages break LINE's rules; ``problems`` lists them all."""

    code = "invalid_content"

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("配信内容に誤りがあります。" + " ".join(p.text for p in problems))
        self.problems = problems


class Role(StrEnum):
    AUTHOR = "author"  # 作成者
    APPROVER = "approver"  # 承認者
    ADMIN = "admin"  # システム管理者


@dataclass(frozen=True)
class Actor:
    """A member of staff as the domain sees them, built by the service layer from token claims.

    ``roles``: pairs of (role, department); the department is ``None`` for city-wide roles such as
    システム管理者."""

    staff_id: str
    roles: frozenset[tuple[str, str | None]] = frozenset()

    def holds(self, role: str, department: str | None) -> bool:
        return (role, department) in self.roles or (role, None) in self.roles

    @property
    def is_admin(self) -> bool:
        return (Role.ADMIN.value, None) in self.roles

    def may_approve_for(self, department: str) -> bool:
        return self.is_admin or self.holds(Role.APPROVER.value, department)


@dataclass(frozen=True)
class Transition:
    """One line of a delivery's history."""

    from_status: Status
    to_status: Status
    action: Action
    actor_id: str  # a staff id, or SYSTEM
    at: datetime
    comment: str = ""


@dataclass(frozen=True)
class Approval:
    staff_id: str
    at: datetime
    version: int  # the content version approved


@dataclass(frozen=True)
class Confirmation:
    """A 送信前確認 press: someone looked at the final count and said "send"."""

    staff_id: str
    at: datetime
    recipients: int
    version: int


@dataclass(frozen=True)
class SendPolicy:
    """When a delivery may start, and when a second person must confirm it.

    ``hours_start``–``hours_end``: 配信可能時間帯 in Japan time, start inclusive, end exclusive (08:00–20:00
    means 07:59 and 20:00 are refused). ``always_delivered``: category keys sent at any hour (防災
    ``bousai``): the service layer passes the taxonomy's always-delivered set. ``confirmation_threshold``:
    above this many recipients a second, different person must confirm (誤配信防止)."""

    hours_start: time = time(8, 0)
    hours_end: time = time(20, 0)
    always_delivered: frozenset[str] = frozenset({"bousai"})
    confirmation_threshold: int = 10_000

    def may_start_at(self, category_key: str, at: datetime) -> bool:
        if category_key in self.always_delivered:
            return True
        local = _aware(at).astimezone(TOKYO).time()
        return self.hours_start <= local < self.hours_end

    def next_start(self, category_key: str, at: datetime) -> datetime:
        """``at`` itself when a send may start then, else the next opening of the sending hours (JST)."""
        if self.may_start_at(category_key, at):
            return at
        local = _aware(at).astimezone(TOKYO)
        opening = local.replace(hour=self.hours_start.hour, minute=self.hours_start.minute, second=0, microsecond=0)
        return opening if opening > local else opening + timedelta(days=1)

    def needs_second_confirmation(self, recipients: int) -> bool:
        return recipients > self.confirmation_threshold


@dataclass
class Delivery:
    """A delivery (配信) and its history. Create one with :meth:`draft`; change it only through the action
    methods, each of which checks :data:`TRANSITIONS`, the action's own rules, and records a
    :class:`Transition`. ``version`` counts content changes (1 = as first drafted)."""

    id: uuid.UUID
    department: str
    author_id: str
    title: str
    category_key: str
    messages: tuple[Mapping[str, Any], ...] = ()
    target: Mapping[str, Any] = field(default_factory=dict)  # the segment definition or id, opaque here
    status: Status = Status.DRAFT
    version: int = 1
    last_editor_id: str = ""
    send_at: datetime | None = None  # 予約日時, set by schedule
    rule: Mapping[str, Any] | None = None  # 予約・定期 rule as stored (domain/schedule.py); None: sent on 送信
    approvals: list[Approval] = field(default_factory=list)
    confirmations: list[Confirmation] = field(default_factory=list)
    history: list[Transition] = field(default_factory=list)
    pause_reason: str = ""
    events: list[Event] = field(default_factory=list)  # raised, not yet published (the bus collects them)

    @classmethod
    def draft(cls, id: uuid.UUID, author: Actor, at: datetime, *, department: str, title: str, category_key: str,
              messages: Iterable[Mapping[str, Any]] = (), target: Mapping[str, Any] | None = None) -> Delivery:
        delivery = cls(id, department, author.staff_id, title, category_key, tuple(messages), dict(target or {}),
                       last_editor_id=author.staff_id)
        delivery.events.append(ev.DeliveryDrafted(id, author.staff_id, _aware(at), department, category_key))
        return delivery

    # -- actions -------------------------------------------------------------------------------------------

    def edit(self, actor: Actor, at: datetime, *, title: str | None = None, category_key: str | None = None,
             messages: Iterable[Mapping[str, Any]] | None = None, target: Mapping[str, Any] | None = None,
             send_at: datetime | None = None, rule: Mapping[str, Any] | Unset | None = UNSET) -> None:
        """Changes content, target or schedule (``rule``: the 予約・定期 rule, None to remove it). After
        承認依頼 this sends the delivery back to 承認待ち."""
        self._check(Action.EDIT)
        if title is None and category_key is None and messages is None and target is None and send_at is None \
                and isinstance(rule, Unset):
            # A no-op save must not clear approvals behind the approver's back.
            raise DeliveryError("変更する項目がありません。", "nothing_to_edit")
        if title is not None:
            self.title = title
        if category_key is not None:
            self.category_key = category_key
        if messages is not None:
            self.messages = tuple(messages)
        if target is not None:
            self.target = dict(target)
        if send_at is not None:
            self.send_at = _aware(send_at)
        if not isinstance(rule, Unset):
            self.rule = dict(rule) if rule is not None else None
        self.version += 1
        self.last_editor_id = actor.staff_id
        self.approvals.clear()
        self.confirmations.clear()
        back = self._move(Action.EDIT, actor.staff_id, at).from_status != Status.DRAFT
        self.events.append(ev.DeliveryEdited(self.id, actor.staff_id, at, self.version, back))

    def submit(self, actor: Actor, at: datetime, comment: str = "") -> None:
        """承認依頼. Refused while the content breaks LINE's rules."""
        self._check(Action.SUBMIT)
        problems = validate_messages(list(self.messages))
        if problems:
            raise InvalidContent(problems)
        self._move(Action.SUBMIT, actor.staff_id, at, comment)
        self.events.append(ev.DeliverySubmitted(self.id, actor.staff_id, at, self.version))

    def approve(self, actor: Actor, at: datetime, comment: str = "") -> None:
        self._check(Action.APPROVE)
        if actor.staff_id in (self.author_id, self.last_editor_id):
            raise NotPermitted("作成者・最終編集者は自分の配信を承認できません。別の承認者に依頼してください。",
                               "self_approval")
        if not actor.may_approve_for(self.department):
            raise NotPermitted("この所属の配信を承認する権限がありません。", "not_an_approver")
        self.approvals.append(Approval(actor.staff_id, _aware(at), self.version))
        self._move(Action.APPROVE, actor.staff_id, at, comment)
        self.events.append(ev.DeliveryApproved(self.id, actor.staff_id, at, self.version))

    def reject(self, actor: Actor, at: datetime, comment: str) -> None:
        """差し戻し: back to 下書き, with the reason for the author."""
        self._check(Action.REJECT)
        if not comment.strip():
            raise DeliveryError("差し戻しの理由を入力してください。", "comment_required")
        if not actor.may_approve_for(self.department):
            raise NotPermitted("この所属の配信を差し戻す権限がありません。", "not_an_approver")
        self._move(Action.REJECT, actor.staff_id, at, comment)
        self.events.append(ev.DeliveryRejected(self.id, actor.staff_id, at, comment))

    def schedule(self, actor: Actor, at: datetime, send_at: datetime) -> None:
        """予約: an approved delivery will start at ``send_at``."""
        self._check(Action.SCHEDULE)
        if _aware(send_at) <= _aware(at):
            raise DeliveryError("予約日時は現在より後の日時を指定してください。", "send_time_in_past")
        self.send_at = _aware(send_at)
        self._move(Action.SCHEDULE, actor.staff_id, at, f"予約日時 {self.send_at.astimezone(TOKYO):%Y-%m-%d %H:%M}")
        self.events.append(ev.DeliveryScheduled(self.id, actor.staff_id, at, self.send_at))

    def confirm(self, actor: Actor, at: datetime, recipients: int, threshold: int) -> None:
        """送信前確認. Not a transition: recorded for :meth:`start`. Above ``threshold`` recipients two
        different people must confirm; the second must not be the first."""
        if self.status not in (Status.APPROVED, Status.SCHEDULED):
            raise DeliveryError(f"「{self.status.label}」の配信は送信前確認できません。", "illegal_confirmation")
        current = self._current_confirmations()
        if any(each.staff_id == actor.staff_id for each in current):
            code = "same_confirmer" if recipients > threshold else "already_confirmed"
            raise NotPermitted("確認済みです。2人目の確認は別の職員が行ってください。", code)
        self.confirmations.append(Confirmation(actor.staff_id, _aware(at), recipients, self.version))
        self.events.append(ev.DeliveryConfirmed(self.id, actor.staff_id, at, recipients))

    def start(self, actor: Actor | None, at: datetime, recipients: int, policy: SendPolicy) -> None:
        """配信開始, by staff (送信) or by the system (``actor=None``) when a schedule falls due.

        Checks, in order: someone to send to, due (予約日時), sending hours unless always delivered, second
        confirmation."""
        self._check(Action.START)
        at = _aware(at)
        if recipients < 1:
            raise DeliveryError("配信対象が0人のため配信できません。対象の条件を見直してください。", "no_recipients")
        if self.status == Status.SCHEDULED and self.send_at is not None and at < self.send_at:
            due = f"{self.send_at.astimezone(TOKYO):%m月%d日 %H:%M}"
            raise DeliveryError(f"予約日時（{due}）より前には配信できません。", "not_due")
        self._check_hours(policy, at)
        if policy.needs_second_confirmation(recipients) and len(self._current_confirmations()) < 2:
            raise DeliveryError(
                f"配信対象が{recipients:,}人で、{policy.confirmation_threshold:,}人を超えています。"
                "配信前に別の職員による2人目の確認が必要です。", "second_confirmation_required")
        self.pause_reason = ""  # whatever held it back (hours, a hold) no longer applies
        self._move(Action.START, _id(actor), at, f"配信対象 {recipients:,}人")
        self.events.append(ev.DeliveryStarted(self.id, _id(actor), at, recipients))

    def pause(self, actor: Actor | None, at: datetime, reason: str = "") -> None:
        """一時停止 by staff, or by the system (``actor=None``), which must say why in plain Japanese."""
        self._check(Action.PAUSE)
        if actor is None and not reason.strip():
            raise DeliveryError("システムによる一時停止には理由が必要です。", "reason_required")
        self.pause_reason = reason
        self._move(Action.PAUSE, _id(actor), at, reason)
        self.events.append(ev.DeliveryPaused(self.id, _id(actor), at, reason))

    def resume(self, actor: Actor, at: datetime, policy: SendPolicy, comment: str = "") -> None:
        """再開. Sending hours apply as they do to a start: a paused notice does not go out at night."""
        self._check(Action.RESUME)
        self._check_hours(policy, _aware(at))
        self.pause_reason = ""
        self._move(Action.RESUME, actor.staff_id, at, comment)
        self.events.append(ev.DeliveryResumed(self.id, actor.staff_id, at))

    def cancel(self, actor: Actor, at: datetime, comment: str = "") -> None:
        self._check(Action.CANCEL)
        self._move(Action.CANCEL, actor.staff_id, at, comment)
        self.events.append(ev.DeliveryCancelled(self.id, actor.staff_id, at, comment))

    def finish(self, at: datetime, failed_recipients: int = 0, next_at: datetime | None = None) -> None:
        """配信終了, by the system once every send job is settled: 配信完了, or 一部失敗 when any failed. A
        recurring delivery with a further occurrence (``next_at``) goes back to 予約済み instead."""
        if next_at is not None:
            self._check(Action.NEXT_RUN)
            self.send_at = _aware(next_at)
            comment = f"次回 {self.send_at.astimezone(TOKYO):%Y-%m-%d %H:%M}" + (
                f"（今回の失敗 {failed_recipients:,}人）" if failed_recipients else "")
            self._move(Action.NEXT_RUN, SYSTEM, at, comment)
            self.events.append(ev.DeliveryScheduled(self.id, SYSTEM, at, self.send_at))
            return
        self._check(Action.FINISH)
        target = FINISHED_WITH_FAILURES if failed_recipients > 0 else None
        comment = f"失敗 {failed_recipients:,}人" if failed_recipients else ""
        record = self._move(Action.FINISH, SYSTEM, at, comment, target=target)
        self.events.append(ev.DeliveryFinished(self.id, SYSTEM, at, record.to_status.value, failed_recipients))

    # -- helpers ------------------------------------------------------------------------------------------

    @property
    def is_approved(self) -> bool:
        return any(each.version == self.version for each in self.approvals)

    def _check_hours(self, policy: SendPolicy, at: datetime) -> None:
        if not policy.may_start_at(self.category_key, at):
            raise DeliveryError(
                f"配信可能時間帯（{policy.hours_start:%H:%M}〜{policy.hours_end:%H:%M}）の外です。"
                "時間帯内に予約してください。", "outside_sending_hours")

    def _current_confirmations(self) -> list[Confirmation]:
        return [each for each in self.confirmations if each.version == self.version]

    def _check(self, action: Action) -> Status:
        target = TRANSITIONS.get((self.status, action))
        if target is None:
            raise IllegalTransition(self.status, action)
        return target

    def _move(self, action: Action, actor_id: str, at: datetime, comment: str = "",
              target: Status | None = None) -> Transition:
        to = target or self._check(action)
        record = Transition(self.status, to, action, actor_id, _aware(at), comment)
        self.history.append(record)
        self.status = to
        return record


MAX_TEST_RECIPIENTS = 10  # テスト配信 goes to a handful of staff phones, never to residents


def check_test_send(delivery: Delivery, recipients: int) -> None:
    """テスト配信 (a push of the content to staff phones) is not a delivery and has no lifecycle; it is allowed
    at any stage before the delivery is over, for valid content and at most :data:`MAX_TEST_RECIPIENTS`
    phones. Raises :class:`DeliveryError` when not."""
    if delivery.status.is_final:
        raise DeliveryError(f"「{delivery.status.label}」の配信はテスト配信できません。", "illegal_test_send")
    if not 1 <= recipients <= MAX_TEST_RECIPIENTS:
        raise DeliveryError(f"テスト配信の送信先は1〜{MAX_TEST_RECIPIENTS}台にしてください。", "test_recipients")
    problems = validate_messages(list(delivery.messages))
    if problems:
        raise InvalidContent(problems)


def _id(actor: Actor | None) -> str:
    return SYSTEM if actor is None else actor.staff_id


def _aware(moment: datetime) -> datetime:
    # Naive datetimes are a bug waiting to happen (which zone?): refuse them at the domain's door.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("datetimes given to the domain must be timezone-aware")
    return moment
