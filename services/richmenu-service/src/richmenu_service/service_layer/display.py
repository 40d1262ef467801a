"""表示ルール and 災害時モード: who sees which menu. Every change here records a pending mass change (一括切り替え);
the worker carries it out (service_layer/linking.py), so the console answers at once and shows progress."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from richmenu_service.adapters.repository import Change, StoredRule
from richmenu_service.contracts import DisasterModeSwitched
from richmenu_service.domain import commands as c
from richmenu_service.domain.rules import InvalidRule, Kind, MenuRef, Rule
from richmenu_service.service_layer.menus import menu_or_404
from richmenu_service.service_layer.ports import Conflict, Forbidden, Invalid, NotFound, Ports
from richmenu_service.service_layer.unit_of_work import AbstractRichmenuUnitOfWork

KINDS = {"default": Kind.DEFAULT, "segment": Kind.SEGMENT, "period": Kind.PERIOD, "disaster": Kind.DISASTER}
KIND_NAMES = {kind: name for name, kind in KINDS.items()}
PRIORITY_RANGE = range(-1000, 1001)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def as_domain(rule: StoredRule) -> Rule:
    return Rule(str(rule.id), KINDS[rule.kind], MenuRef(str(rule.menu_id)), rule.created_at or EPOCH,
                str(rule.segment_id) if rule.segment_id else None, rule.starts_at, rule.ends_at, rule.priority,
                rule.enabled)


def request_change(uow: AbstractRichmenuUnitOfWork, reason: str, requested_by: str) -> uuid.UUID:
    """A mass change for the worker; one pending change already waiting covers this one too."""
    waiting = uow.changes.next_pending()
    if waiting is not None and waiting.status == "pending" and waiting.reason == reason:
        return waiting.id
    change = Change(uuid.uuid4(), reason, "pending", requested_by)
    uow.changes.add(change)
    return change.id


def _moment(value: Any, what: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise Invalid(f"{what}の日時の形が正しくありません（例: 2026-12-01T09:00:00+09:00）。",
                      "invalid_rule") from None
    if moment.tzinfo is None:
        raise Invalid(f"{what}の日時にはタイムゾーン（+09:00）を付けてください。", "invalid_rule")
    return moment


def _rule_from(fields: Mapping[str, Any], existing: StoredRule | None, actor: c.Actor, now: datetime) -> StoredRule:
    kind = fields.get("kind")
    if kind not in ("default", "segment", "period"):
        raise Invalid("ルールの種類は 既定・セグメント別・期間限定 のいずれかにしてください。", "invalid_rule")
    try:
        menu_id = uuid.UUID(str(fields.get("menuId")))
        segment = fields.get("segmentId")
        segment_id = uuid.UUID(str(segment)) if segment not in (None, "") else None
    except ValueError:
        raise Invalid("メニューとセグメントは一覧から選んでください。", "invalid_rule") from None
    priority = fields.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int) or priority not in PRIORITY_RANGE:
        raise Invalid("優先度は -1000〜1000 の整数にしてください。", "invalid_rule")
    rule = StoredRule(existing.id if existing else uuid.uuid4(), kind, menu_id,
                      existing.created_by if existing else actor.staff_id, actor.staff_id, segment_id,
                      _moment(fields.get("startsAt"), "開始"), _moment(fields.get("endsAt"), "終了"), priority, True,
                      existing.created_at if existing else now, now)
    try:
        as_domain(rule)
    except InvalidRule as exc:
        raise Invalid(" ".join(exc.problems), "invalid_rule", exc.problems) from None
    return rule


def _live_menu(uow: AbstractRichmenuUnitOfWork, menu_id: uuid.UUID) -> None:
    publication = uow.menus.publication(menu_id)
    if publication is None or not publication.tabs:
        raise Conflict("このメニューはまだ公開されていません。先に公開してください。", "not_published")


def save_rule(command: c.SaveRule, uow: AbstractRichmenuUnitOfWork, ports: Ports) -> uuid.UUID:
    existing = None
    if command.rule_id is not None:
        existing = uow.rules.get(command.rule_id)
        if existing is None:
            raise NotFound("ルールが見つかりません。", "not_found")
        if existing.kind == "disaster":
            raise Conflict("災害時モードのルールは災害時モードの切り替えで変わります。", "disaster_rule")
        _may_publish(command.actor, menu_or_404(uow, existing.menu_id).department)
    rule = _rule_from(command.fields, existing, command.actor, ports.clock())
    menu = menu_or_404(uow, rule.menu_id)
    _may_publish(command.actor, menu.department)
    _live_menu(uow, menu.id)
    if existing is None:
        uow.rules.add(rule)
    else:
        uow.rules.update(rule)
    request_change(uow, "rules_changed", command.actor.name)
    return rule.id


def _may_publish(actor: c.Actor, department: str) -> None:
    if not actor.may_publish(department):
        raise Forbidden("この課のメニューの表示ルールを変える権限がありません（承認者またはシステム管理者）。",
                        "not_an_approver")


def delete_rule(command: c.DeleteRule, uow: AbstractRichmenuUnitOfWork) -> None:
    rule = uow.rules.get(command.rule_id)
    if rule is None:
        raise NotFound("ルールが見つかりません。", "not_found")
    if rule.kind == "disaster":
        raise Conflict("災害時モードのルールは削除できません。災害時モードをオフにしてください。", "disaster_rule")
    _may_publish(command.actor, menu_or_404(uow, rule.menu_id).department)
    uow.rules.delete(rule.id)
    request_change(uow, "rules_changed", command.actor.name)


def disaster_rule(uow: AbstractRichmenuUnitOfWork) -> StoredRule | None:
    return next((rule for rule in uow.rules.all() if rule.kind == "disaster"), None)


def switch_disaster_mode(command: c.SwitchDisasterMode, uow: AbstractRichmenuUnitOfWork, ports: Ports) -> bool:
    if not command.actor.may_switch_disaster:
        raise Forbidden("災害時モードを切り替える権限がありません（承認者またはシステム管理者）。", "not_an_approver")
    uow.links.lock(exclusive=False)  # serialises two switches arriving together (console and broker)
    rule, now = disaster_rule(uow), ports.clock()
    if rule is not None and rule.enabled == command.on and (command.menu_id is None or rule.menu_id == command.menu_id
                                                               or not command.on):
        return False
    if rule is None and not command.on:
        return False
    menu_id = command.menu_id or (rule.menu_id if rule else None)
    if menu_id is None:
        raise Invalid("災害時に表示するメニューを選んでください。", "no_disaster_menu")
    menu_or_404(uow, menu_id)
    _live_menu(uow, menu_id)
    if rule is None:
        rule = StoredRule(uuid.uuid4(), "disaster", menu_id, command.actor.name[:64], command.actor.name[:64],
                          enabled=command.on, created_at=now, updated_at=now)
        uow.rules.add(rule)
    else:
        rule.enabled, rule.menu_id, rule.updated_by = command.on, menu_id, command.actor.name[:64]
        uow.rules.update(rule)
    change_id = request_change(uow, "disaster_on" if command.on else "disaster_off", command.actor.name)
    uow.emit(DisasterModeSwitched(on=command.on, menu_id=menu_id, actor=command.actor.name, via=command.via,
                                  change_id=change_id, occurred_at_ms=int(now.timestamp() * 1000),
                                  reason=command.reason))
    return True
