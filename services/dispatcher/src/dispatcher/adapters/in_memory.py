"""In-memory adapters of dispatcher's ports, for handler tests that read as stories.

:class:`InMemoryDispatcherData` is the "database" of one test: units of work made by its :meth:`uow` share it.
Each unit of work works on its own copy and publishes it on commit, so a refused command leaves nothing
behind, as a rolled-back transaction would. The repositories keep the SQL adapters' semantics (history lines
appended since read, a settle counted once on its send, pending, stalled, errors, due).

:class:`FakeRecipients` and :class:`FakeLine` stand in for segment-service and LINE: they record what they
were asked and answer what the test scripted.
"""

from __future__ import annotations

import copy
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Self

from cityline_common.contracts import Contract
from cityline_common.unit_of_work import InMemoryUnitOfWork

from dispatcher.adapters.line import AbstractLineSender, Sent
from dispatcher.adapters.repository import (
    AbstractDeliveryRepository,
    AbstractLibrary,
    AbstractSendRepository,
    Asset,
    JobRow,
    MessageTemplate,
    Send,
    StoredDelivery,
    TestRecipient,
)
from dispatcher.adapters.segments import AbstractRecipients, Count, RecipientsUnavailable
from dispatcher.domain.jobs import SendJob, classify
from dispatcher.domain.lifecycle import Delivery, Status, Transition
from dispatcher.service_layer.unit_of_work import AbstractDispatcherUnitOfWork


def _utc_now() -> datetime:
    return datetime.now(UTC)


# --- the tables ------------------------------------------------------------------------------------------


@dataclass
class _DeliveryRow:
    delivery: Delivery  # without history and events: those live apart, as in SQL
    reviewed: dict[str, Any] | None
    aggregation_unit: str | None
    runs: int
    created_at: datetime
    updated_at: datetime


@dataclass
class _JobRecord:
    row: JobRow
    request_id: str | None = None
    settled_at: datetime | None = None


@dataclass
class _Tables:
    deliveries: dict[uuid.UUID, _DeliveryRow] = field(default_factory=dict)
    history: dict[uuid.UUID, list[Transition]] = field(default_factory=dict)
    sends: dict[uuid.UUID, Send] = field(default_factory=dict)
    jobs: dict[tuple[uuid.UUID, int], _JobRecord] = field(default_factory=dict)
    test_recipients: dict[uuid.UUID, TestRecipient] = field(default_factory=dict)
    templates: dict[uuid.UUID, MessageTemplate] = field(default_factory=dict)
    assets: dict[uuid.UUID, tuple[Asset, str]] = field(default_factory=dict)  # with who uploaded it


# --- repositories ----------------------------------------------------------------------------------------


class InMemoryDeliveryRepository(AbstractDeliveryRepository):
    def __init__(self, tables: _Tables, clock: Callable[[], datetime]) -> None:
        self._tables = tables
        self._clock = clock
        self._loaded: dict[uuid.UUID, int] = {}  # history lines read, per delivery

    def _stored(self, row: _DeliveryRow, history: list[Transition]) -> StoredDelivery:
        delivery = copy.deepcopy(row.delivery)
        delivery.history = list(history)
        delivery.events = []
        self._loaded[delivery.id] = len(history)
        return StoredDelivery(delivery, copy.deepcopy(row.reviewed), row.aggregation_unit, row.runs,
                              row.created_at, row.updated_at)

    def get(self, delivery_id: uuid.UUID, *, lock: bool = False) -> StoredDelivery | None:
        row = self._tables.deliveries.get(delivery_id)
        if row is None:
            return None
        return self._stored(row, self._tables.history.get(delivery_id, []))

    @staticmethod
    def _row_of(delivery: Delivery) -> Delivery:
        kept = copy.deepcopy(replace(delivery, history=[], events=[]))
        kept.messages = tuple(dict(m) for m in delivery.messages)
        kept.target = dict(delivery.target)
        kept.rule = dict(delivery.rule) if delivery.rule else None
        return kept

    def add(self, delivery: Delivery) -> None:
        if delivery.id in self._tables.deliveries:
            raise ValueError(f"delivery {delivery.id} exists")  # the primary key
        now = self._clock()
        self._tables.deliveries[delivery.id] = _DeliveryRow(self._row_of(delivery), None, None, 0, now, now)
        self._tables.history[delivery.id] = []
        self._loaded[delivery.id] = 0
        self._append_history(delivery)

    def save(self, delivery: Delivery, *, reviewed: dict[str, Any] | None = None,
             aggregation_unit: str | None = None, runs: int | None = None) -> None:
        row = self._tables.deliveries.get(delivery.id)
        if row is None:
            raise LookupError(f"delivery {delivery.id} is not stored")  # its history would break the foreign key
        row.delivery = self._row_of(delivery)
        row.updated_at = self._clock()
        if reviewed is not None:
            row.reviewed = copy.deepcopy(reviewed)
        if aggregation_unit is not None:
            row.aggregation_unit = aggregation_unit
        if runs is not None:
            row.runs = runs
        self._append_history(delivery)

    def _append_history(self, delivery: Delivery) -> None:
        new = delivery.history[self._loaded.get(delivery.id, 0):]
        self._tables.history.setdefault(delivery.id, []).extend(new)
        self._loaded[delivery.id] = len(delivery.history)

    def listed(self, departments: frozenset[str] | None, status: str | None, limit: int) -> list[StoredDelivery]:
        rows = [row for row in self._tables.deliveries.values()
                if (departments is None or row.delivery.department in departments)
                and (not status or row.delivery.status.value == status)]
        rows.sort(key=lambda row: row.updated_at, reverse=True)
        return [self._stored(row, []) for row in rows[:limit]]  # as SQL: a list reads no history

    def due(self, now: datetime, limit: int) -> list[uuid.UUID]:
        rows = [row.delivery for row in self._tables.deliveries.values()
                if row.delivery.status is Status.SCHEDULED and row.delivery.send_at is not None
                and row.delivery.send_at <= now]
        rows.sort(key=lambda delivery: delivery.send_at or now)
        return [delivery.id for delivery in rows[:limit]]


class InMemorySendRepository(AbstractSendRepository):
    def __init__(self, tables: _Tables) -> None:
        self._tables = tables

    def add(self, send: Send, jobs: Sequence[SendJob]) -> None:
        if send.id in self._tables.sends:
            raise ValueError(f"send {send.id} exists")
        # As the SQL insert: the counters start at their defaults, whatever the Send says.
        self._tables.sends[send.id] = replace(send, jobs_settled=0, sent=0, failed=0, finished_at=None,
                                              messages=copy.deepcopy(send.messages))
        for job in jobs:
            key = (send.id, job.number)
            if key in self._tables.jobs:
                raise ValueError(f"job {job.number} of send {send.id} exists")
            self._tables.jobs[key] = _JobRecord(JobRow(send.id, job.number, job.first, job.last, job.retry_key,
                                                       "pending", 0, None))

    def get(self, send_id: uuid.UUID, *, lock: bool = False) -> Send | None:
        return self._tables.sends.get(send_id)

    def of_delivery(self, delivery_id: uuid.UUID) -> list[Send]:
        return sorted((s for s in self._tables.sends.values() if s.delivery_id == delivery_id), key=lambda s: s.run)

    def latest_of(self, delivery_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Send]:
        latest: dict[uuid.UUID, Send] = {}
        for send in self._tables.sends.values():
            if send.delivery_id in delivery_ids and (send.delivery_id not in latest
                                                     or send.run > latest[send.delivery_id].run):
                latest[send.delivery_id] = send
        return latest

    def set_status(self, send_id: uuid.UUID, status: str, finished_at: datetime | None = None) -> None:
        send = self._tables.sends.get(send_id)
        if send is None:
            return  # an UPDATE of no row
        self._tables.sends[send_id] = replace(send, status=status, finished_at=finished_at or send.finished_at)

    def job(self, send_id: uuid.UUID, number: int, *, lock: bool = False) -> JobRow | None:
        found = self._tables.jobs.get((send_id, number))
        return found.row if found else None

    def settle(self, job: JobRow, status: str, *, request_id: str | None, error: str | None, attempts: int,
               at: datetime) -> Send:
        record = self._tables.jobs[(job.send_id, job.number)]
        record.row = replace(record.row, status=status, error=error, attempts=attempts)
        record.request_id, record.settled_at = request_id, at
        size = job.last - job.first + 1
        send = self._tables.sends[job.send_id]
        send = replace(send, jobs_settled=send.jobs_settled + 1,
                       sent=send.sent + (size if status == "sent" else 0),
                       failed=send.failed + (size if status == "failed" else 0))
        self._tables.sends[job.send_id] = send
        return send

    def _jobs_of(self, send_id: uuid.UUID) -> list[_JobRecord]:
        return sorted((r for (s, _n), r in self._tables.jobs.items() if s == send_id), key=lambda r: r.row.number)

    def pending(self, send_id: uuid.UUID) -> list[JobRow]:
        return [r.row for r in self._jobs_of(send_id) if r.row.status == "pending"]

    def stalled(self, before: datetime) -> list[Send]:
        found = []
        for send in self._tables.sends.values():
            if send.status != "sending" or send.jobs_settled >= send.jobs:
                continue
            settled = [r.settled_at for r in self._jobs_of(send.id) if r.settled_at is not None]
            if (max(settled) if settled else send.started_at) < before:
                found.append(send)
        return found

    def errors(self, send_id: uuid.UUID) -> list[tuple[str, int]]:
        counts: dict[str, int] = {}
        for record in self._jobs_of(send_id):
            if record.row.status == "failed":
                reason = str(record.row.error or "")
                counts[reason] = counts.get(reason, 0) + record.row.last - record.row.first + 1
        return list(counts.items())

    def request_id(self, send_id: uuid.UUID, number: int) -> str | None:
        """LINE's request id of a settled job (for tests; the SQL adapter keeps it in a column)."""
        found = self._tables.jobs.get((send_id, number))
        return found.request_id if found else None


class InMemoryLibrary(AbstractLibrary):
    def __init__(self, tables: _Tables, clock: Callable[[], datetime]) -> None:
        self._tables = tables
        self._clock = clock

    def test_recipients(self, departments: frozenset[str] | None = None) -> list[TestRecipient]:
        found = [r for r in self._tables.test_recipients.values() if departments is None or r.department in departments]
        return sorted(found, key=lambda r: (r.department, r.label))

    def add_test_recipient(self, recipient: TestRecipient) -> None:
        if recipient.id in self._tables.test_recipients:
            raise ValueError(f"test recipient {recipient.id} exists")
        self._tables.test_recipients[recipient.id] = recipient

    def remove_test_recipient(self, recipient_id: uuid.UUID) -> bool:
        return self._tables.test_recipients.pop(recipient_id, None) is not None

    def templates(self, departments: frozenset[str] | None = None) -> list[MessageTemplate]:
        found = [t for t in self._tables.templates.values() if departments is None or t.department in departments]
        return sorted(found, key=lambda t: (t.department, t.name))

    def template(self, template_id: uuid.UUID) -> MessageTemplate | None:
        return self._tables.templates.get(template_id)

    def add_template(self, template: MessageTemplate) -> None:
        if template.id in self._tables.templates:
            raise ValueError(f"template {template.id} exists")
        # As the SQL insert: updated_at is the database's now().
        self._tables.templates[template.id] = replace(template, messages=copy.deepcopy(template.messages),
                                                      updated_at=self._clock())

    def remove_template(self, template_id: uuid.UUID) -> bool:
        return self._tables.templates.pop(template_id, None) is not None

    def add_asset(self, asset: Asset, created_by: str) -> None:
        if asset.id in self._tables.assets:
            raise ValueError(f"asset {asset.id} exists")
        self._tables.assets[asset.id] = (asset, created_by)

    def asset(self, asset_id: uuid.UUID) -> Asset | None:
        found = self._tables.assets.get(asset_id)
        return found[0] if found else None


# --- the unit of work ------------------------------------------------------------------------------------


@dataclass
class InMemoryDispatcherData:
    """What the in-memory "database" holds; one per test. ``clock`` stands for the database's now()."""

    clock: Callable[[], datetime] = _utc_now
    tables: _Tables = field(default_factory=_Tables)
    units: list[InMemoryDispatcherUnitOfWork] = field(default_factory=list)

    def uow(self) -> InMemoryDispatcherUnitOfWork:
        unit = InMemoryDispatcherUnitOfWork(self)
        self.units.append(unit)
        return unit

    def emitted(self) -> list[Contract]:
        """Every contract committed by any unit of work of this test, in order."""
        return [contract for unit in self.units for contract in unit.emitted_contracts()]

    def emitted_messages(self) -> list[Any]:
        """The committed outbox messages (contract, message id, headers), in order."""
        return [message for unit in self.units for message in unit.emitted]


class InMemoryDispatcherUnitOfWork(InMemoryUnitOfWork, AbstractDispatcherUnitOfWork):
    sends: InMemorySendRepository

    def __init__(self, data: InMemoryDispatcherData) -> None:
        super().__init__()
        self._data = data
        self._work = _Tables()

    def _open(self) -> None:
        self._work = copy.deepcopy(self._data.tables)
        self.deliveries = InMemoryDeliveryRepository(self._work, self._data.clock)
        self.sends = InMemorySendRepository(self._work)
        self.library = InMemoryLibrary(self._work, self._data.clock)

    def __enter__(self) -> Self:
        super().__enter__()
        self._open()
        return self

    def commit(self) -> None:
        self._data.tables = copy.deepcopy(self._work)
        super().commit()

    def rollback(self) -> None:
        super().rollback()
        self._open()  # whatever was not committed is gone; the next statement starts afresh


# --- segment-service and LINE ------------------------------------------------------------------------------


class FakeRecipients(AbstractRecipients):
    """segment-service with a fixed list of friends: every target means all of them, in this order.
    ``unavailable``: a reason to refuse every call with (segment-service down)."""

    def __init__(self, line_user_ids: Iterable[str] = (), *, unavailable: str | None = None) -> None:
        self.members = list(line_user_ids)
        self.unavailable = unavailable
        self.frozen: dict[uuid.UUID, list[str]] = {}
        self.counted: list[Mapping[str, Any]] = []
        self.opened: list[tuple[uuid.UUID, int, int]] = []

    def _check(self) -> None:
        if self.unavailable is not None:
            raise RecipientsUnavailable(self.unavailable)

    def count(self, target: Mapping[str, Any]) -> Count:
        self._check()
        self.counted.append(dict(target))
        return Count(len(self.members), len(self.members), 0, True)

    def freeze(self, list_id: uuid.UUID, target: Mapping[str, Any]) -> int:
        self._check()
        frozen = self.frozen.setdefault(list_id, list(self.members))  # idempotent: frozen once
        return len(frozen)

    def line_user_ids(self, list_id: uuid.UUID, first: int, last: int) -> list[str]:
        self._check()
        if list_id not in self.frozen:
            raise RecipientsUnavailable("no such frozen list", 404)
        self.opened.append((list_id, first, last))
        return self.frozen[list_id][first - 1:last]


Answer = int | None | tuple[int | None, str]  # an HTTP status (None: no answer), or one with LINE's message


@dataclass(frozen=True)
class LineCall:
    to: tuple[str, ...]
    messages: list[dict[str, Any]]
    retry_key: uuid.UUID
    unit: str | None
    status: int | None  # what LINE answered


class FakeLine(AbstractLineSender):
    """LINE as a script. ``answers``: what the next multicasts get, in order (200 once the script is used up);
    ``push_answers`` likewise for pushes. A retry key LINE already accepted gets 409, as LINE answers, without
    using the script. ``refuse``: the validate endpoint's reason to refuse the content with."""

    def __init__(self, answers: Iterable[Answer] = (), *, push_answers: Iterable[Answer] = (),
                 refuse: str | None = None, units_left: int | None = 1000) -> None:
        self.answers: deque[Answer] = deque(answers)
        self.push_answers: deque[Answer] = deque(push_answers)
        self.refuse = refuse
        self.units = units_left
        self.accepted: set[uuid.UUID] = set()  # retry keys LINE has accepted
        self.multicasts: dict[uuid.UUID, list[LineCall]] = defaultdict(list)  # attempts per retry key
        self.pushes: dict[uuid.UUID, list[LineCall]] = defaultdict(list)
        self.validated: list[list[dict[str, Any]]] = []

    def _answer(self, script: deque[Answer], retry_key: uuid.UUID) -> tuple[int | None, str]:
        if retry_key in self.accepted:
            return 409, "The retry key is already accepted"
        answer = script.popleft() if script else 200
        status, message = answer if isinstance(answer, tuple) else (answer, "")
        if status is not None and 200 <= status < 300:
            self.accepted.add(retry_key)
        return status, message

    def _call(self, script: deque[Answer], calls: dict[uuid.UUID, list[LineCall]], *, to: Sequence[str],
              messages: Sequence[Mapping[str, Any]], retry_key: uuid.UUID, unit: str | None) -> Sent:
        status, message = self._answer(script, retry_key)
        calls[retry_key].append(LineCall(tuple(to), [dict(m) for m in messages], retry_key, unit, status))
        request_id = f"req-{retry_key.hex[:8]}-{len(calls[retry_key])}" if status != 409 else None
        return Sent(classify(status, message), request_id)

    def multicast(self, to: Sequence[str], messages: Sequence[Mapping[str, Any]], retry_key: uuid.UUID,
                  unit: str | None) -> Sent:
        return self._call(self.answers, self.multicasts, to=to, messages=messages, retry_key=retry_key, unit=unit)

    def push(self, to: str, messages: Sequence[Mapping[str, Any]], retry_key: uuid.UUID) -> Sent:
        return self._call(self.push_answers, self.pushes, to=[to], messages=messages, retry_key=retry_key,
                          unit=None)

    def validate(self, messages: Sequence[Mapping[str, Any]]) -> str | None:
        self.validated.append([dict(m) for m in messages])
        return self.refuse

    def statistics(self, unit: str, first_day: str, last_day: str) -> dict[str, Any] | None:
        return None

    def units_left(self) -> int | None:
        return self.units

    # -- for tests ------------------------------------------------------------------------------------------

    def sent_to(self) -> list[str]:
        """Every LINE user id an accepted multicast reached, in order."""
        return [user for calls in self.multicasts.values() for call in calls
                if call.status is not None and 200 <= call.status < 300 for user in call.to]

    def pushed_to(self) -> list[str]:
        return [call.to[0] for calls in self.pushes.values() for call in calls]
