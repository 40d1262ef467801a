"""配信 use cases: draft, edit, approve, schedule, start (freeze, cut, queue), settle jobs, finish.

Who may do what is checked here on the actor's roles (the token's claims), and again by the domain for
approval (never the author or last editor, only 承認者 of the department or システム管理者):
- read: any role in the department, or システム管理者;
- create, edit, submit, テスト配信, templates: 作成者 in the department, or システム管理者;
- schedule, confirm, start, pause, resume, cancel: 作成者 or 承認者 in the department, or システム管理者.

Starting freezes the recipients in segment-service under the send's id (idempotent), then, in one
transaction with the delivery row locked: the domain's checks (due, sending hours, second confirmation),
the send, its jobs (≤ 500 positions each, a deterministic X-Line-Retry-Key each) and one outbox message per
job. A crash anywhere before the commit leaves nothing half-started; the freeze is simply found again.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cityline_common.crypto import FieldCipher

from dispatcher import contracts
from dispatcher.adapters.line import AbstractLineSender
from dispatcher.adapters.repository import Send, StoredDelivery
from dispatcher.adapters.segments import AbstractRecipients, RecipientsUnavailable
from dispatcher.domain import commands as c
from dispatcher.domain.jobs import cut_jobs
from dispatcher.domain.lifecycle import (
    Action,
    Actor,
    Delivery,
    DeliveryError,
    SendPolicy,
    Status,
    check_test_send,
)
from dispatcher.domain.schedule import Once, next_occurrence, rule_from_dict
from dispatcher.service_layer.unit_of_work import AbstractDispatcherUnitOfWork

TEST_RECIPIENT_COLUMN = "dispatcher.test_recipients.line_user_id"
RUN_NAMESPACE = uuid.UUID("0c7f8a52-1d7e-5f0b-9a3e-6b2d4c1e8f07")  # fixed: a send's id must not change
TARGET_KINDS = ("everyone", "segment", "expression")
UNANSWERED = ("auto", "include", "exclude")


class Forbidden(DeliveryError):
    def __init__(self, message: str) -> None:
        super().__init__(message, "forbidden")


class NotFound(DeliveryError):
    def __init__(self) -> None:
        super().__init__("その配信はありません。", "not_found")


class Refused(DeliveryError):
    """Bad input (400), with LINE-style problems when content is invalid."""


@dataclass
class Ports:
    recipients: AbstractRecipients
    line: AbstractLineSender
    clock: Callable[[], datetime]
    policy: SendPolicy
    cipher: FieldCipher
    media_key: bytes  # signs the image URLs LINE fetches
    public_base_url: str


def may_read(actor: Actor | None, department: str) -> bool:
    return actor is None or actor.is_admin or any(dept == department for _role, dept in actor.roles)


def may_edit(actor: Actor, department: str) -> bool:
    return actor.is_admin or actor.holds("author", department)


def may_operate(actor: Actor | None, department: str) -> bool:
    return actor is None or may_edit(actor, department) or actor.holds("approver", department)


def send_id_for(delivery_id: uuid.UUID, run: int) -> uuid.UUID:
    """The id of a delivery's ``run``-th send: found again after a crash, so the freeze is not repeated."""
    return uuid.uuid5(RUN_NAMESPACE, f"{delivery_id}/{run}")


def media_signature(key: bytes, asset_id: str, variant: str) -> str:
    return hmac.new(key, f"{asset_id}/{variant}".encode(), hashlib.sha256).hexdigest()[:32]


def check_target(target: Any) -> dict[str, Any]:
    if not isinstance(target, Mapping) or target.get("kind") not in TARGET_KINDS:
        raise Refused("配信先を選んでください（友だち全員・セグメント・条件）。", "invalid_target")
    kind = str(target["kind"])
    unanswered = str(target.get("unanswered", "auto"))
    if unanswered not in UNANSWERED:
        raise Refused("未回答の友だちの扱いは auto・include・exclude のどれかです。", "invalid_target")
    if kind == "segment":
        try:
            return {"kind": kind, "segmentId": str(uuid.UUID(str(target.get("segmentId")))), "unanswered": unanswered}
        except ValueError:
            raise Refused("セグメントを選んでください。", "invalid_target") from None
    if kind == "expression":
        if not isinstance(target.get("expression"), Mapping):
            raise Refused("条件を指定してください。", "invalid_target")
        return {"kind": kind, "expression": dict(target["expression"]), "unanswered": unanswered}
    return {"kind": "everyone"}


def check_rule(rule: Any) -> dict[str, Any] | None:
    if rule is None:
        return None
    from dispatcher.domain.schedule import InvalidRule, rule_to_dict

    try:
        return rule_to_dict(rule_from_dict(rule))
    except InvalidRule as exc:
        raise Refused(" ".join(exc.problems), "invalid_schedule") from None


def _messages(value: Any) -> tuple[Mapping[str, Any], ...]:
    if not isinstance(value, list) or not all(isinstance(m, Mapping) for m in value):
        raise Refused("メッセージは1〜5件のLINEメッセージにしてください。", "invalid_content")
    return tuple(dict(m) for m in value)


def _load(uow: AbstractDispatcherUnitOfWork, delivery_id: uuid.UUID, actor: Actor | None,
          version: int | None = None, *, lock: bool = True) -> StoredDelivery:
    stored = uow.deliveries.get(delivery_id, lock=lock)
    if stored is None or not may_read(actor, stored.delivery.department):
        raise NotFound()
    if version is not None and version != stored.delivery.version:
        raise DeliveryError("編集中にほかの職員がこの配信を変更しました。開き直してから、もう一度操作してください。",
                            "stale_version")
    return stored


def _announce(uow: AbstractDispatcherUnitOfWork, delivery: Delivery, before: int) -> None:
    """One DeliveryStatusChanged per transition the aggregate made since ``before`` history lines."""
    for transition in delivery.history[before:]:
        uow.emit(contracts.DeliveryStatusChanged(
            delivery_id=delivery.id, department=delivery.department, category=delivery.category_key,
            status=transition.to_status.value, action=transition.action.value, actor=transition.actor_id,
            occurred_at_ms=int(transition.at.timestamp() * 1000)))


def snapshot(delivery: Delivery) -> dict[str, Any]:
    """The content as reviewed (approved or rejected): the next review shows what changed since."""
    return {"version": delivery.version, "title": delivery.title, "category": delivery.category_key,
            "messages": list(delivery.messages), "target": dict(delivery.target),
            "schedule": dict(delivery.rule) if delivery.rule else None}


def create(ports: Ports) -> Callable[[c.CreateDelivery, AbstractDispatcherUnitOfWork], uuid.UUID]:
    def handler(command: c.CreateDelivery, uow: AbstractDispatcherUnitOfWork) -> uuid.UUID:
        if not may_edit(command.actor, command.department):
            raise Forbidden("この所属の配信を作成する権限がありません（作成者またはシステム管理者）。")
        title = command.title.strip()
        if not 1 <= len(title) <= 200:
            raise Refused("件名は1〜200文字で入力してください。", "invalid_title")
        delivery = Delivery.draft(uuid.uuid4(), command.actor, ports.clock(), department=command.department,
                                  title=title, category_key=command.category_key[:40],
                                  messages=_messages(list(command.messages)), target=check_target(command.target))
        delivery.rule = check_rule(command.rule)
        uow.deliveries.add(delivery)
        return delivery.id

    return handler


def edit(ports: Ports) -> Callable[[c.EditDelivery, AbstractDispatcherUnitOfWork], None]:
    def handler(command: c.EditDelivery, uow: AbstractDispatcherUnitOfWork) -> None:
        stored = _load(uow, command.delivery_id, command.actor, command.version)
        delivery = stored.delivery
        if not may_edit(command.actor, delivery.department):
            raise Forbidden("この所属の配信を編集する権限がありません（作成者またはシステム管理者）。")
        changes = command.changes
        unknown = set(changes) - {"title", "category", "messages", "target", "schedule"}
        if unknown:
            raise Refused(f"変更できない項目です: {', '.join(sorted(unknown))}", "invalid_change")
        options: dict[str, Any] = {}
        if "title" in changes:
            title = str(changes["title"]).strip()
            if not 1 <= len(title) <= 200:
                raise Refused("件名は1〜200文字で入力してください。", "invalid_title")
            options["title"] = title
        if "category" in changes:
            options["category_key"] = str(changes["category"])[:40]
        if "messages" in changes:
            options["messages"] = _messages(changes["messages"])
        if "target" in changes:
            options["target"] = check_target(changes["target"])
        if "schedule" in changes:
            options["rule"] = check_rule(changes["schedule"])
        before = len(delivery.history)
        delivery.edit(command.actor, ports.clock(), **options)
        uow.deliveries.save(delivery)
        _announce(uow, delivery, before)

    return handler


def act(ports: Ports) -> Callable[[c.ActOnDelivery, AbstractDispatcherUnitOfWork], None]:
    def handler(command: c.ActOnDelivery, uow: AbstractDispatcherUnitOfWork) -> None:  # noqa: PLR0912
        stored = _load(uow, command.delivery_id, command.actor, command.version)
        delivery, actor, now = stored.delivery, command.actor, ports.clock()
        action = command.action
        if action == Action.SUBMIT.value and not may_edit(actor, delivery.department):
            raise Forbidden("承認依頼は、その所属の作成者またはシステム管理者が行います。")
        if action in ("schedule", "confirm", "pause", "resume", "cancel") \
                and not may_operate(actor, delivery.department):
            raise Forbidden("この所属の配信を操作する権限がありません。")
        before = len(delivery.history)
        reviewed = None
        latest = _latest_send(uow, delivery.id)
        if action == "submit":
            delivery.submit(actor, now, command.comment)
        elif action in ("approve", "reject"):
            reviewed = snapshot(delivery)
            if action == "approve":
                delivery.approve(actor, now, command.comment)
            else:
                delivery.reject(actor, now, command.comment)
        elif action == "schedule":
            send_at = command.send_at
            if send_at is None and delivery.rule is not None:
                send_at = next_occurrence(rule_from_dict(delivery.rule), now)
            if send_at is None:
                raise Refused("予約日時を指定するか、配信の予約・定期の設定をしてください。", "no_send_time")
            delivery.schedule(actor, now, send_at)
        elif action == "confirm":
            delivery.confirm(actor, now, _count(ports, delivery), ports.policy.confirmation_threshold)
        elif action == "pause":
            delivery.pause(actor, now, command.comment)
            if latest is not None:
                uow.sends.set_status(latest.id, "paused")
        elif action == "resume":
            delivery.resume(actor, now, ports.policy, command.comment)
            if latest is not None:
                uow.sends.set_status(latest.id, "sending")
                _queue_pending(uow, latest, resumed_at=now)
        elif action == "cancel":
            delivery.cancel(actor, now, command.comment)
            if latest is not None and latest.status in ("sending", "paused"):
                uow.sends.set_status(latest.id, "cancelled", finished_at=now)
        else:
            raise Refused(f"その操作はありません: {action}", "unknown_action")
        uow.deliveries.save(delivery, reviewed=reviewed)
        _announce(uow, delivery, before)
        if action == "resume" and latest is not None:
            _finish_if_settled(ports, uow, latest.id)

    return handler


def _count(ports: Ports, delivery: Delivery) -> int:
    try:
        return ports.recipients.count(delivery.target).recipients
    except RecipientsUnavailable as exc:
        raise DeliveryError(f"配信対象の人数を数えられませんでした: {exc.reason}", "recipients_unavailable") from None


def _latest_send(uow: AbstractDispatcherUnitOfWork, delivery_id: uuid.UUID) -> Send | None:
    found = uow.sends.of_delivery(delivery_id)
    return found[-1] if found else None


def _queue_pending(uow: AbstractDispatcherUnitOfWork, send: Send, resumed_at: datetime) -> None:
    for job in uow.sends.pending(send.id):
        uow.emit(contracts.SendJobQueued(send_id=send.id, delivery_id=send.delivery_id, number=job.number,
                                         first=job.first, last=job.last, retry_key=job.retry_key),
                 message_id=f"{send.id}:{job.number}:{int(resumed_at.timestamp() * 1000)}")


def resolved_messages(ports: Ports, messages: tuple[Mapping[str, Any], ...]) -> list[dict[str, Any]]:
    """The content as LINE takes it: our uploaded images become signed URLs LINE fetches."""
    resolved = []
    for message in messages:
        body = dict(message)
        asset = body.pop("assetId", None)
        if body.get("type") == "image" and asset:
            base = f"{ports.public_base_url.rstrip('/')}/media/{asset}"
            body["originalContentUrl"] = f"{base}/original/{media_signature(ports.media_key, asset, 'original')}"
            body["previewImageUrl"] = f"{base}/preview/{media_signature(ports.media_key, asset, 'preview')}"
        resolved.append(body)
    return resolved


def aggregation_unit(delivery_id: uuid.UUID) -> str:
    """LINE's customAggregationUnit for a delivery's statistics: [a-zA-Z0-9_]{1,30}, one per delivery."""
    return "d" + delivery_id.hex[:29]


def start(ports: Ports) -> Callable[[c.StartDelivery, AbstractDispatcherUnitOfWork], uuid.UUID]:
    def handler(command: c.StartDelivery, uow: AbstractDispatcherUnitOfWork) -> uuid.UUID:
        first_look = _load(uow, command.delivery_id, command.actor, command.version, lock=False)
        delivery = first_look.delivery
        if command.actor is not None and not may_operate(command.actor, delivery.department):
            raise Forbidden("この所属の配信を送信する権限がありません。")
        if delivery.status not in (Status.APPROVED, Status.SCHEDULED):
            raise DeliveryError(f"「{delivery.status.label}」の配信は送信できません。", "illegal_transition")
        run = first_look.runs + 1
        send_id = send_id_for(delivery.id, run)
        problem = ports.line.validate(resolved_messages(ports, delivery.messages))  # LINE's own check, last
        if problem is not None:
            raise DeliveryError(f"LINEがメッセージを受け付けませんでした（送信前の確認）: {problem}",
                                "line_refused_content")
        try:
            members = ports.recipients.freeze(send_id, delivery.target)
        except RecipientsUnavailable as exc:
            raise DeliveryError(f"配信対象を確定できませんでした: {exc.reason}", "recipients_unavailable") from None
        unit = first_look.aggregation_unit
        if unit is None and (ports.line.units_left() or 0) > 0:
            unit = aggregation_unit(delivery.id)
        stored = _load(uow, command.delivery_id, command.actor, command.version)
        if stored.runs != first_look.runs:
            return send_id_for(delivery.id, stored.runs)  # started meanwhile (a second press, two schedulers)
        delivery, now = stored.delivery, ports.clock()
        before = len(delivery.history)
        delivery.start(command.actor, now, members, ports.policy)
        jobs = cut_jobs(send_id, members)
        uow.sends.add(Send(send_id, delivery.id, run, "sending", members, len(jobs), 0, 0, 0,
                           resolved_messages(ports, delivery.messages), now, None), jobs)
        for job in jobs:
            uow.emit(contracts.SendJobQueued(send_id=send_id, delivery_id=delivery.id, number=job.number,
                                             first=job.first, last=job.last, retry_key=job.retry_key),
                     message_id=f"{send_id}:{job.number}")
        uow.deliveries.save(delivery, aggregation_unit=unit, runs=run)
        _announce(uow, delivery, before)
        return send_id

    return handler


def settle(ports: Ports) -> Callable[[c.SettleJob, AbstractDispatcherUnitOfWork], None]:
    def handler(command: c.SettleJob, uow: AbstractDispatcherUnitOfWork) -> None:
        job = uow.sends.job(command.send_id, command.number, lock=True)
        if job is None or job.status != "pending":
            return  # settled before (a redelivered message): counted once
        uow.sends.settle(job, command.status, request_id=command.request_id, error=command.error,
                         attempts=command.attempts, at=ports.clock())
        _finish_if_settled(ports, uow, command.send_id)

    return handler


def _finish_if_settled(ports: Ports, uow: AbstractDispatcherUnitOfWork, send_id: uuid.UUID) -> None:
    send = uow.sends.get(send_id, lock=True)
    if send is None or send.jobs_settled < send.jobs or send.status != "sending":
        return
    stored = uow.deliveries.get(send.delivery_id, lock=True)
    if stored is None or stored.delivery.status is not Status.SENDING:
        return
    delivery, now = stored.delivery, ports.clock()
    rule = rule_from_dict(delivery.rule) if delivery.rule else None
    next_at = next_occurrence(rule, now) if rule is not None and not isinstance(rule, Once) else None
    before = len(delivery.history)
    delivery.finish(now, send.failed, next_at)
    uow.sends.set_status(send.id, "partly_failed" if send.failed else "sent", finished_at=now)
    uow.deliveries.save(delivery)
    _announce(uow, delivery, before)


def pause_for_errors(ports: Ports) -> Callable[[c.PauseForErrors, AbstractDispatcherUnitOfWork], None]:
    def handler(command: c.PauseForErrors, uow: AbstractDispatcherUnitOfWork) -> None:
        send = uow.sends.get(command.send_id, lock=True)
        if send is None or send.status != "sending":
            return
        stored = uow.deliveries.get(send.delivery_id, lock=True)
        if stored is None or stored.delivery.status is not Status.SENDING:
            return
        before = len(stored.delivery.history)
        stored.delivery.pause(None, ports.clock(), command.reason)
        uow.sends.set_status(send.id, "paused")
        uow.deliveries.save(stored.delivery)
        _announce(uow, stored.delivery, before)

    return handler


def send_test(ports: Ports) -> Callable[[c.SendTest, AbstractDispatcherUnitOfWork], int]:
    def handler(command: c.SendTest, uow: AbstractDispatcherUnitOfWork) -> int:
        stored = _load(uow, command.delivery_id, command.actor, lock=False)
        delivery = stored.delivery
        if not may_edit(command.actor, delivery.department):
            raise Forbidden("テスト配信は、その所属の作成者またはシステム管理者が行います。")
        chosen = {each.id: each for each in uow.library.test_recipients(frozenset({delivery.department}))}
        phones = [chosen[i] for i in dict.fromkeys(command.test_recipient_ids) if i in chosen]
        check_test_send(delivery, len(phones))
        messages = resolved_messages(ports, delivery.messages)
        sent = 0
        for phone in phones:
            line_user_id = ports.cipher.decrypt_for_row(phone.line_user_id_sealed, TEST_RECIPIENT_COLUMN, phone.id)
            result = ports.line.push(line_user_id, messages, uuid.uuid4())
            if not result.outcome.sent:
                raise DeliveryError(f"テスト配信をLINEが受け付けませんでした: {result.outcome.message}",
                                    "test_send_failed")
            sent += 1
        return sent

    return handler


HOLD_RETRY = 15  # minutes until a held delivery is tried again


def hold_due(ports: Ports) -> Callable[[c.HoldDueDelivery, AbstractDispatcherUnitOfWork], None]:
    def handler(command: c.HoldDueDelivery, uow: AbstractDispatcherUnitOfWork) -> None:
        stored = uow.deliveries.get(command.delivery_id, lock=True)
        if stored is None or stored.delivery.status is not Status.SCHEDULED:
            return
        delivery, now = stored.delivery, ports.clock()
        if command.code == "outside_sending_hours":
            delivery.send_at = ports.policy.next_start(delivery.category_key, now)
        else:
            delivery.send_at = now + timedelta(minutes=HOLD_RETRY)
        delivery.pause_reason = command.reason  # shown beside 予約済み: why it has not gone yet
        uow.deliveries.save(delivery)

    return handler


def requeue_stalled(ports: Ports) -> Callable[[c.RequeueStalledJobs, AbstractDispatcherUnitOfWork], int]:
    def handler(command: c.RequeueStalledJobs, uow: AbstractDispatcherUnitOfWork) -> int:
        now = ports.clock()
        queued = 0
        for send in uow.sends.stalled(now - timedelta(seconds=command.stalled_seconds)):
            pending = uow.sends.pending(send.id)
            _queue_pending(uow, send, resumed_at=now)
            queued += len(pending)
        return queued

    return handler
