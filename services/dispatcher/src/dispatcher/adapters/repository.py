"""Deliveries, sends and jobs in PostgreSQL (the ports handlers see, and their SQL adapters)."""

from __future__ import annotations

import abc
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select, update

from dispatcher.adapters.orm import assets, deliveries, delivery_history, send_jobs, sends, templates, test_recipients
from dispatcher.domain.jobs import SendJob
from dispatcher.domain.lifecycle import Action, Approval, Confirmation, Delivery, Status, Transition


@dataclass(frozen=True)
class Send:
    """One send (配信回) of a delivery and its counters."""

    id: uuid.UUID
    delivery_id: uuid.UUID
    run: int
    status: str  # sending | paused | sent | partly_failed | cancelled
    recipients: int
    jobs: int
    jobs_settled: int
    sent: int
    failed: int
    messages: list[Any]
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class JobRow:
    send_id: uuid.UUID
    number: int
    first: int
    last: int
    retry_key: uuid.UUID
    status: str  # pending | sent | failed
    attempts: int
    error: str | None


@dataclass(frozen=True)
class StoredDelivery:
    delivery: Delivery
    reviewed: dict[str, Any] | None
    aggregation_unit: str | None
    runs: int
    created_at: datetime | None
    updated_at: datetime | None


def _approvals(rows: list[dict[str, Any]]) -> list[Approval]:
    return [Approval(r["staffId"], datetime.fromisoformat(r["at"]), r["version"]) for r in rows]


def _confirmations(rows: list[dict[str, Any]]) -> list[Confirmation]:
    return [Confirmation(r["staffId"], datetime.fromisoformat(r["at"]), r["recipients"], r["version"]) for r in rows]


class AbstractDeliveryRepository(abc.ABC):
    @abc.abstractmethod
    def get(self, delivery_id: uuid.UUID, *, lock: bool = False) -> StoredDelivery | None: ...

    @abc.abstractmethod
    def add(self, delivery: Delivery) -> None: ...

    @abc.abstractmethod
    def save(self, delivery: Delivery, *, reviewed: dict[str, Any] | None = None,
             aggregation_unit: str | None = None, runs: int | None = None) -> None:
        """Store the aggregate's state and the history lines added since it was read."""

    @abc.abstractmethod
    def listed(self, departments: frozenset[str] | None, status: str | None, limit: int) -> list[StoredDelivery]: ...

    @abc.abstractmethod
    def due(self, now: datetime, limit: int) -> list[uuid.UUID]:
        """予約済み deliveries whose send is due."""


class SqlDeliveryRepository(AbstractDeliveryRepository):
    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._loaded: dict[uuid.UUID, int] = {}  # history lines read, per delivery

    def get(self, delivery_id: uuid.UUID, *, lock: bool = False) -> StoredDelivery | None:
        query = select(deliveries).where(deliveries.c.id == delivery_id)
        row = self._connection.execute(query.with_for_update() if lock else query).first()
        if row is None:
            return None
        history = self._connection.execute(
            select(delivery_history).where(delivery_history.c.delivery_id == delivery_id)
            .order_by(delivery_history.c.id)).all()
        return self._stored(row, history)

    def _stored(self, row: Any, history: Sequence[Any] | None) -> StoredDelivery:
        """``history`` None: not read (a list); such a delivery is for reading, not for saving."""
        delivery = Delivery(
            id=row.id, department=row.department, author_id=row.author_id, title=row.title,
            category_key=row.category_key, messages=tuple(row.messages), target=dict(row.target),
            status=Status(row.status), version=row.version, last_editor_id=row.last_editor_id, send_at=row.send_at,
            rule=row.schedule, approvals=_approvals(row.approvals), confirmations=_confirmations(row.confirmations),
            history=[Transition(Status(h.from_status), Status(h.to_status), Action(h.action), h.actor_id, h.at,
                                h.comment) for h in history or ()],
            pause_reason=row.pause_reason,
        )
        if history is not None:
            self._loaded[row.id] = len(history)
        return StoredDelivery(delivery, row.reviewed, row.aggregation_unit, row.runs, row.created_at, row.updated_at)

    def _values(self, delivery: Delivery) -> dict[str, Any]:
        return {
            "department": delivery.department, "author_id": delivery.author_id,
            "last_editor_id": delivery.last_editor_id, "title": delivery.title,
            "category_key": delivery.category_key, "messages": list(delivery.messages),
            "target": dict(delivery.target), "schedule": dict(delivery.rule) if delivery.rule else None,
            "status": delivery.status.value, "version": delivery.version, "send_at": delivery.send_at,
            "approvals": [{"staffId": a.staff_id, "at": a.at.isoformat(), "version": a.version}
                          for a in delivery.approvals],
            "confirmations": [{"staffId": c.staff_id, "at": c.at.isoformat(), "recipients": c.recipients,
                               "version": c.version} for c in delivery.confirmations],
            "pause_reason": delivery.pause_reason, "updated_at": func.now(),
        }

    def add(self, delivery: Delivery) -> None:
        self._connection.execute(deliveries.insert().values(id=delivery.id, **self._values(delivery)))
        self._loaded[delivery.id] = 0
        self._append_history(delivery)

    def save(self, delivery: Delivery, *, reviewed: dict[str, Any] | None = None,
             aggregation_unit: str | None = None, runs: int | None = None) -> None:
        values = self._values(delivery)
        if reviewed is not None:
            values["reviewed"] = reviewed
        if aggregation_unit is not None:
            values["aggregation_unit"] = aggregation_unit
        if runs is not None:
            values["runs"] = runs
        self._connection.execute(update(deliveries).where(deliveries.c.id == delivery.id).values(**values))
        self._append_history(delivery)

    def _append_history(self, delivery: Delivery) -> None:
        new = delivery.history[self._loaded.get(delivery.id, 0):]
        if new:
            self._connection.execute(delivery_history.insert(), [
                {"delivery_id": delivery.id, "from_status": t.from_status.value, "to_status": t.to_status.value,
                 "action": t.action.value, "actor_id": t.actor_id, "at": t.at, "comment": t.comment} for t in new])
        self._loaded[delivery.id] = len(delivery.history)

    def listed(self, departments: frozenset[str] | None, status: str | None, limit: int) -> list[StoredDelivery]:
        query = select(deliveries).order_by(deliveries.c.updated_at.desc()).limit(limit)
        if departments is not None:
            query = query.where(deliveries.c.department.in_(sorted(departments)))
        if status:
            query = query.where(deliveries.c.status == status)
        return [self._stored(row, None) for row in self._connection.execute(query)]

    def due(self, now: datetime, limit: int) -> list[uuid.UUID]:
        return list(self._connection.execute(
            select(deliveries.c.id).where(deliveries.c.status == Status.SCHEDULED.value, deliveries.c.send_at <= now)
            .order_by(deliveries.c.send_at).limit(limit)).scalars())


class AbstractSendRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, send: Send, jobs: Sequence[SendJob]) -> None: ...

    @abc.abstractmethod
    def get(self, send_id: uuid.UUID, *, lock: bool = False) -> Send | None: ...

    @abc.abstractmethod
    def of_delivery(self, delivery_id: uuid.UUID) -> list[Send]: ...

    @abc.abstractmethod
    def latest_of(self, delivery_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Send]:
        """Each delivery's newest send, in one read (the list of deliveries shows them)."""

    @abc.abstractmethod
    def set_status(self, send_id: uuid.UUID, status: str, finished_at: datetime | None = None) -> None: ...

    @abc.abstractmethod
    def job(self, send_id: uuid.UUID, number: int, *, lock: bool = False) -> JobRow | None: ...

    @abc.abstractmethod
    def settle(self, job: JobRow, status: str, *, request_id: str | None, error: str | None, attempts: int,
               at: datetime) -> Send:
        """Mark a pending job sent or failed and count it on its send (one row lock); the send after."""

    @abc.abstractmethod
    def pending(self, send_id: uuid.UUID) -> list[JobRow]: ...

    @abc.abstractmethod
    def stalled(self, before: datetime) -> list[Send]:
        """Sends still sending whose last settled job (or start) is older than ``before``."""

    @abc.abstractmethod
    def errors(self, send_id: uuid.UUID) -> list[tuple[str, int]]:
        """LINE's reasons for failed jobs with how many recipients each."""


def _job(row: Any) -> JobRow:
    return JobRow(row.send_id, row.number, row.first, row.last, row.retry_key, row.status, row.attempts, row.error)


def _send(row: Any) -> Send:
    return Send(row.id, row.delivery_id, row.run, row.status, row.recipients, row.jobs, row.jobs_settled, row.sent,
                row.failed, row.messages, row.started_at, row.finished_at)


class SqlSendRepository(AbstractSendRepository):
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, send: Send, jobs: Sequence[SendJob]) -> None:
        self._connection.execute(sends.insert().values(
            id=send.id, delivery_id=send.delivery_id, run=send.run, status=send.status, recipients=send.recipients,
            jobs=send.jobs, messages=send.messages, started_at=send.started_at))
        for start in range(0, len(jobs), 5000):
            self._connection.execute(send_jobs.insert(), [
                {"send_id": send.id, "number": j.number, "first": j.first, "last": j.last, "retry_key": j.retry_key}
                for j in jobs[start:start + 5000]])

    def get(self, send_id: uuid.UUID, *, lock: bool = False) -> Send | None:
        query = select(sends).where(sends.c.id == send_id)
        row = self._connection.execute(query.with_for_update() if lock else query).first()
        return _send(row) if row else None

    def of_delivery(self, delivery_id: uuid.UUID) -> list[Send]:
        return [_send(row) for row in self._connection.execute(
            select(sends).where(sends.c.delivery_id == delivery_id).order_by(sends.c.run))]

    def latest_of(self, delivery_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Send]:
        if not delivery_ids:
            return {}
        rows = self._connection.execute(
            select(sends).where(sends.c.delivery_id.in_(list(delivery_ids)))
            .distinct(sends.c.delivery_id).order_by(sends.c.delivery_id, sends.c.run.desc()))
        return {row.delivery_id: _send(row) for row in rows}

    def set_status(self, send_id: uuid.UUID, status: str, finished_at: datetime | None = None) -> None:
        values: dict[str, Any] = {"status": status}
        if finished_at is not None:
            values["finished_at"] = finished_at
        self._connection.execute(update(sends).where(sends.c.id == send_id).values(**values))

    def job(self, send_id: uuid.UUID, number: int, *, lock: bool = False) -> JobRow | None:
        query = select(send_jobs).where(and_(send_jobs.c.send_id == send_id, send_jobs.c.number == number))
        row = self._connection.execute(query.with_for_update() if lock else query).first()
        return _job(row) if row else None

    def settle(self, job: JobRow, status: str, *, request_id: str | None, error: str | None, attempts: int,
               at: datetime) -> Send:
        self._connection.execute(update(send_jobs).where(
            and_(send_jobs.c.send_id == job.send_id, send_jobs.c.number == job.number)).values(
            status=status, request_id=request_id, error=error, attempts=attempts, settled_at=at))
        size = job.last - job.first + 1
        row = self._connection.execute(
            update(sends).where(sends.c.id == job.send_id).values(
                jobs_settled=sends.c.jobs_settled + 1,
                sent=sends.c.sent + (size if status == "sent" else 0),
                failed=sends.c.failed + (size if status == "failed" else 0))
            .returning(*sends.c)).one()
        return _send(row)

    def pending(self, send_id: uuid.UUID) -> list[JobRow]:
        return [_job(row) for row in self._connection.execute(
            select(send_jobs).where(send_jobs.c.send_id == send_id, send_jobs.c.status == "pending")
            .order_by(send_jobs.c.number))]

    def stalled(self, before: datetime) -> list[Send]:
        last = (select(func.max(send_jobs.c.settled_at)).where(send_jobs.c.send_id == sends.c.id)
                .correlate(sends).scalar_subquery())
        rows = self._connection.execute(select(sends).where(
            sends.c.status == "sending", sends.c.jobs_settled < sends.c.jobs,
            func.coalesce(last, sends.c.started_at) < before))
        return [_send(row) for row in rows]

    def errors(self, send_id: uuid.UUID) -> list[tuple[str, int]]:
        rows = self._connection.execute(
            select(send_jobs.c.error, func.sum(send_jobs.c.last - send_jobs.c.first + 1))
            .where(send_jobs.c.send_id == send_id, send_jobs.c.status == "failed").group_by(send_jobs.c.error))
        return [(str(error or ""), int(count)) for error, count in rows]


# --- the test group, templates, images ---------------------------------------------------------------------


@dataclass(frozen=True)
class TestRecipient:
    id: uuid.UUID
    department: str
    label: str
    line_user_id_sealed: str


@dataclass(frozen=True)
class MessageTemplate:
    id: uuid.UUID
    department: str
    name: str
    messages: list[Any]
    updated_by: str
    updated_at: datetime | None


@dataclass(frozen=True)
class Asset:
    id: uuid.UUID
    department: str
    content_type: str
    width: int
    height: int
    original: bytes
    preview: bytes
    sha256: str


class AbstractLibrary(abc.ABC):
    """The test group (テスト配信), templates and images of the departments: plain storage, no rules."""

    @abc.abstractmethod
    def test_recipients(self, departments: frozenset[str] | None = None) -> list[TestRecipient]:
        """Ordered by department, then label; only those of ``departments`` when given."""

    @abc.abstractmethod
    def add_test_recipient(self, recipient: TestRecipient) -> None: ...

    @abc.abstractmethod
    def remove_test_recipient(self, recipient_id: uuid.UUID) -> bool: ...

    @abc.abstractmethod
    def templates(self, departments: frozenset[str] | None = None) -> list[MessageTemplate]:
        """Ordered by department, then name; only those of ``departments`` when given."""

    @abc.abstractmethod
    def template(self, template_id: uuid.UUID) -> MessageTemplate | None: ...

    @abc.abstractmethod
    def add_template(self, template: MessageTemplate) -> None: ...

    @abc.abstractmethod
    def remove_template(self, template_id: uuid.UUID) -> bool: ...

    @abc.abstractmethod
    def add_asset(self, asset: Asset, created_by: str) -> None: ...

    @abc.abstractmethod
    def asset(self, asset_id: uuid.UUID) -> Asset | None: ...


class SqlLibrary(AbstractLibrary):
    """The test group (テスト配信), templates and images of the departments."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def test_recipients(self, departments: frozenset[str] | None = None) -> list[TestRecipient]:
        query = select(test_recipients).order_by(test_recipients.c.department, test_recipients.c.label)
        if departments is not None:
            query = query.where(test_recipients.c.department.in_(sorted(departments)))
        return [TestRecipient(r.id, r.department, r.label, r.line_user_id_ct) for r in self._connection.execute(query)]

    def add_test_recipient(self, recipient: TestRecipient) -> None:
        self._connection.execute(test_recipients.insert().values(
            id=recipient.id, department=recipient.department, label=recipient.label,
            line_user_id_ct=recipient.line_user_id_sealed))

    def remove_test_recipient(self, recipient_id: uuid.UUID) -> bool:
        return bool(self._connection.execute(
            test_recipients.delete().where(test_recipients.c.id == recipient_id)).rowcount)

    def templates(self, departments: frozenset[str] | None = None) -> list[MessageTemplate]:
        query = select(templates).order_by(templates.c.department, templates.c.name)
        if departments is not None:
            query = query.where(templates.c.department.in_(sorted(departments)))
        return [MessageTemplate(r.id, r.department, r.name, r.messages, r.updated_by, r.updated_at)
                for r in self._connection.execute(query)]

    def template(self, template_id: uuid.UUID) -> MessageTemplate | None:
        r = self._connection.execute(select(templates).where(templates.c.id == template_id)).first()
        return MessageTemplate(r.id, r.department, r.name, r.messages, r.updated_by, r.updated_at) if r else None

    def add_template(self, template: MessageTemplate) -> None:
        self._connection.execute(templates.insert().values(
            id=template.id, department=template.department, name=template.name, messages=template.messages,
            updated_by=template.updated_by))

    def remove_template(self, template_id: uuid.UUID) -> bool:
        return bool(self._connection.execute(templates.delete().where(templates.c.id == template_id)).rowcount)

    def add_asset(self, asset: Asset, created_by: str) -> None:
        self._connection.execute(assets.insert().values(
            id=asset.id, department=asset.department, content_type=asset.content_type, width=asset.width,
            height=asset.height, original=asset.original, preview=asset.preview, sha256=asset.sha256,
            created_by=created_by))

    def asset(self, asset_id: uuid.UUID) -> Asset | None:
        r = self._connection.execute(select(assets).where(assets.c.id == asset_id)).first()
        return Asset(r.id, r.department, r.content_type, r.width, r.height, r.original, r.preview, r.sha256) \
            if r else None
