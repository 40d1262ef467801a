"""Read side: deliveries as the console reads them (API.md), progress, statistics."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from dispatcher.adapters.repository import Send, StoredDelivery
from dispatcher.domain.lifecycle import STATUS_LABELS, Action, Actor, Status, allowed_actions
from dispatcher.domain.messages import validate_messages
from dispatcher.domain.schedule import InvalidRule, describe, rule_from_dict
from dispatcher.service_layer.deliveries import may_read
from dispatcher.service_layer.unit_of_work import AbstractDispatcherUnitOfWork


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def progress(send: Send, now: datetime, errors: list[tuple[str, int]] | None = None) -> dict[str, Any]:
    """To send, sent, failed, rate and the expected end of one send."""
    done = send.sent + send.failed
    elapsed = ((send.finished_at or now) - send.started_at).total_seconds()
    rate = done / elapsed if elapsed > 0 else 0.0
    pending = max(0, send.recipients - done)
    expected = None
    if send.status == "sending" and pending and rate > 0:
        expected = now + timedelta(seconds=pending / rate)
    return {"run": send.run, "sendId": str(send.id), "status": send.status, "recipients": send.recipients,
            "sent": send.sent, "failed": send.failed, "pending": pending, "ratePerSecond": round(rate, 1),
            "startedAt": _iso(send.started_at), "expectedEndAt": _iso(expected), "finishedAt": _iso(send.finished_at),
            "errors": [{"reason": reason, "recipients": count} for reason, count in errors or []]}


def _schedule_text(rule: Any) -> str | None:
    if not rule:
        return None
    try:
        return describe(rule_from_dict(rule))
    except InvalidRule:
        return None


def summary(stored: StoredDelivery, latest: Send | None) -> dict[str, Any]:
    d = stored.delivery
    return {"id": str(d.id), "department": d.department, "title": d.title, "category": d.category_key,
            "status": d.status.value, "statusLabel": STATUS_LABELS[d.status], "version": d.version,
            "authorId": d.author_id, "sendAt": _iso(d.send_at), "schedule": d.rule,
            "scheduleText": _schedule_text(d.rule), "updatedAt": _iso(stored.updated_at),
            "recipients": latest.recipients if latest else None, "sent": latest.sent if latest else None,
            "failed": latest.failed if latest else None}


def _staff_actions(status: Status) -> list[str]:
    """What staff may press next: the state table's actions (not the system's own), and 送信前確認."""
    actions = {a.value for a in allowed_actions(status)} - {Action.FINISH.value, Action.NEXT_RUN.value}
    if status in (Status.APPROVED, Status.SCHEDULED):
        actions.add("confirm")
    return sorted(actions)


def delivery(delivery_id: uuid.UUID, actor: Actor | None, now: datetime
             ) -> Callable[[AbstractDispatcherUnitOfWork], dict[str, Any] | None]:
    def view(uow: AbstractDispatcherUnitOfWork) -> dict[str, Any] | None:
        stored = uow.deliveries.get(delivery_id)
        if stored is None or not may_read(actor, stored.delivery.department):
            return None
        d = stored.delivery
        runs = uow.sends.of_delivery(d.id)
        latest = runs[-1] if runs else None
        return {
            **summary(stored, latest),
            "messages": list(d.messages), "target": dict(d.target), "lastEditorId": d.last_editor_id,
            "pauseReason": d.pause_reason,
            "problems": [str(p) for p in validate_messages(list(d.messages))],
            "approvals": [{"staffId": a.staff_id, "at": _iso(a.at), "version": a.version} for a in d.approvals],
            "confirmations": [{"staffId": c.staff_id, "at": _iso(c.at), "recipients": c.recipients,
                               "version": c.version} for c in d.confirmations],
            "history": [{"from": t.from_status.value, "to": t.to_status.value, "action": t.action.value,
                         "actionLabel": Action(t.action).label, "actorId": t.actor_id, "at": _iso(t.at),
                         "comment": t.comment} for t in d.history],
            "allowedActions": _staff_actions(d.status),
            "reviewed": stored.reviewed,
            "aggregationUnit": stored.aggregation_unit,
            "progress": progress(latest, now, uow.sends.errors(latest.id)) if latest else None,
            "runs": [progress(each, now) for each in runs],
        }

    return view


def listed(actor: Actor, status: str | None, department: str | None, awaiting_me: bool, limit: int = 200
           ) -> Callable[[AbstractDispatcherUnitOfWork], list[dict[str, Any]]]:
    def view(uow: AbstractDispatcherUnitOfWork) -> list[dict[str, Any]]:
        departments = None if actor.is_admin else frozenset(dept for _role, dept in actor.roles if dept)
        if department is not None:
            departments = frozenset({department}) & departments if departments is not None else frozenset({department})
        found = uow.deliveries.listed(departments, Status.AWAITING_APPROVAL.value if awaiting_me else status, limit)
        if awaiting_me:
            found = [s for s in found if actor.may_approve_for(s.delivery.department)
                     and actor.staff_id not in (s.delivery.author_id, s.delivery.last_editor_id)]
        latest = uow.sends.latest_of([stored.delivery.id for stored in found])
        return [summary(stored, latest.get(stored.delivery.id)) for stored in found]

    return view
