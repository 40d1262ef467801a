"""操作ログ storage: the ``admin.audit_log`` table (append-only, hash-chained), its chain head, and
the audit log port with its PostgreSQL and in-memory adapters.

Writers serialise on the chain head: ``pg_advisory_xact_lock`` on a fixed key, held until the
writing transaction commits or rolls back, then the head (``admin.audit_chain``: the chain's own
counter and last hash) is read, the entry sealed and inserted. A trigger on the table checks that
each new entry follows the head and moves the head on, in the same transaction, so a rolled-back
entry leaves neither a row nor a gap. The advisory lock is held to the end of the transaction:
record the entry late in a use case, after slow work (password hashing, HTTP calls).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ColumnElement,
    Connection,
    DateTime,
    Index,
    Row,
    Select,
    SmallInteger,
    String,
    Table,
    Text,
    and_,
    func,
    insert,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB

from admin_ui.adapters.orm import metadata
from admin_ui.domain.audit import (
    GENESIS,
    AuditEntry,
    AuditEvent,
    AuditFilter,
    AuditPage,
    ChainHead,
    dict_or_none,
    seal,
)

# pg_advisory_xact_lock key every audit writer takes: "audit_lg" as a big-endian int64.
AUDIT_CHAIN_LOCK = int.from_bytes(b"audit_lg", "big")

audit_log = Table(
    "audit_log",
    metadata,
    # The chain's own sequence (from admin.audit_chain), not a bigserial: a sequence value taken
    # by a transaction that rolls back is lost, which would look like a deleted row.
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("actor", Text),  # staff id; NULL: not signed in (a failed sign-in)
    Column("actor_login", Text),
    Column("action", Text, nullable=False),
    Column("target", Text),
    Column("department", Text),
    Column("source", Text),  # client address
    Column("before", JSONB),
    Column("after", JSONB),
    Column("prev_hash", String(64), nullable=False),
    Column("row_hash", String(64), nullable=False),
)
Index("ix_admin_audit_log_occurred_at", audit_log.c.occurred_at)
Index("ix_admin_audit_log_actor_login", audit_log.c.actor_login, audit_log.c.seq)
Index("ix_admin_audit_log_department", audit_log.c.department, audit_log.c.seq)
Index("ix_admin_audit_log_action", audit_log.c.action, audit_log.c.seq)

audit_chain = Table(
    "audit_chain",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("row_hash", String(64), nullable=False),
    CheckConstraint("id = 1", name="audit_chain_one_row"),
)


class AbstractAuditLog(abc.ABC):
    """The audit log as handlers see it (``uow.audit``): record within the unit of work's
    transaction; search, export and walk the chain on the read side."""

    def record(
        self,
        *,
        actor: str | None,
        action: str,
        actor_login: str | None = None,
        target: str | None = None,
        department: str | None = None,
        source: str | None = None,
        before: Mapping[str, object] | None = None,
        after: Mapping[str, object] | None = None,
    ) -> None:
        """Add an entry in the current transaction: it commits with the change it records, or not at all.

        ``actor``: the staff member's id, None when nobody is signed in (a failed sign-in);
        ``actor_login``: their login (or the login someone tried), what the screen searches by;
        ``source``: the client address; ``before``/``after``: what changed — never a password,
        hash, secret or token.
        """
        self._add(AuditEvent.of(
            actor=actor, actor_login=actor_login, action=action, target=target, department=department,
            source=source, before=before, after=after,
        ))

    @abc.abstractmethod
    def _add(self, event: AuditEvent) -> None: ...

    @abc.abstractmethod
    def search(
        self,
        *,
        person: str | None = None,
        department: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> AuditPage:
        """Newest first; ``since`` inclusive, ``until`` exclusive."""

    @abc.abstractmethod
    def export(self, where: AuditFilter) -> Iterator[AuditEntry]:
        """Every matching entry, oldest first, streamed."""

    @abc.abstractmethod
    def read_chain(self) -> tuple[ChainHead, Iterator[AuditEntry]]:
        """The chain head and every entry in sequence order (streamed), as of one moment: writers
        appending meanwhile are not seen. Call it first thing in a unit of work."""

    @abc.abstractmethod
    def head(self) -> ChainHead: ...

    def filtered(self, where: AuditFilter, limit: int, offset: int) -> AuditPage:
        return self.search(
            person=where.person, department=where.department, action=where.action, since=where.since,
            until=where.until, limit=limit, offset=offset,
        )


def _entry(row: Row[Any]) -> AuditEntry:
    event = AuditEvent(
        action=row.action, actor=row.actor, actor_login=row.actor_login, target=row.target,
        department=row.department, source=row.source, before=dict_or_none(row.before),
        after=dict_or_none(row.after),
    )
    return AuditEntry(row.seq, row.occurred_at, event, row.prev_hash, row.row_hash)


def _conditions(where: AuditFilter) -> list[ColumnElement[bool]]:
    c = audit_log.c
    conditions: list[ColumnElement[bool]] = []
    if where.person is not None:
        conditions.append(c.actor_login == where.person)
    if where.department is not None:
        conditions.append(c.department == where.department)
    if where.action is not None:
        conditions.append(c.action == where.action)
    if where.since is not None:
        conditions.append(c.occurred_at >= where.since)
    if where.until is not None:
        conditions.append(c.occurred_at < where.until)
    return conditions


class SqlAuditLog(AbstractAuditLog):
    """The audit log on the unit of work's connection (taken lazily, like the unit of work's)."""

    STREAM_BATCH = 500

    def __init__(self, connection: Callable[[], Connection]) -> None:
        self._connection = connection

    def _add(self, event: AuditEvent) -> None:
        connection = self._connection()
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_CHAIN_LOCK})
        # A new statement after the lock: under READ COMMITTED it sees the head the previous writer
        # committed. (Under REPEATABLE READ a stale head makes the trigger's row lock fail the
        # transaction instead: never a fork.) clock_timestamp(): time now, not the transaction's start.
        row = connection.execute(
            select(audit_chain.c.seq, audit_chain.c.row_hash, func.clock_timestamp().label("now"))
            .where(audit_chain.c.id == 1)
        ).one()
        entry = seal(ChainHead(row.seq, row.row_hash), row.now, event)
        connection.execute(insert(audit_log).values(
            seq=entry.seq, occurred_at=entry.occurred_at, actor=event.actor, actor_login=event.actor_login,
            action=event.action, target=event.target, department=event.department, source=event.source,
            before=event.before, after=event.after, prev_hash=entry.prev_hash, row_hash=entry.row_hash,
        ))

    def search(
        self,
        *,
        person: str | None = None,
        department: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> AuditPage:
        where = AuditFilter(person, department, action, since, until)
        condition = and_(true(), *_conditions(where))
        connection = self._connection()
        total = connection.execute(select(func.count()).select_from(audit_log).where(condition)).scalar_one()
        rows = connection.execute(
            select(audit_log).where(condition).order_by(audit_log.c.seq.desc()).limit(limit).offset(offset)
        )
        return AuditPage([_entry(row) for row in rows], total, limit, offset)

    def _stream(self, query: Select[Any]) -> Iterator[AuditEntry]:
        # A server-side cursor: the export and the verifier hold one batch in memory at a time.
        for row in self._connection().execute(query.execution_options(yield_per=self.STREAM_BATCH)):
            yield _entry(row)

    def export(self, where: AuditFilter) -> Iterator[AuditEntry]:
        return self._stream(select(audit_log).where(and_(true(), *_conditions(where))).order_by(audit_log.c.seq))

    def read_chain(self) -> tuple[ChainHead, Iterator[AuditEntry]]:
        # One snapshot for the head and the entries; otherwise an entry committed between reading
        # the head and walking the table would look inserted. Must open the transaction.
        self._connection().execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        return self.head(), self._stream(select(audit_log).order_by(audit_log.c.seq))

    def head(self) -> ChainHead:
        row = self._connection().execute(
            select(audit_chain.c.seq, audit_chain.c.row_hash).where(audit_chain.c.id == 1)
        ).one()
        return ChainHead(row.seq, row.row_hash)


class InMemoryAuditLog(AbstractAuditLog):
    """For handler stories: entries in a list, sealed into the same chain as in PostgreSQL.

    Transactional like the real one: an in-memory unit of work calls :meth:`commit` and
    :meth:`rollback` from its own, so a use case that fails leaves no entry behind.
    """

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.entries: list[AuditEntry] = []  # committed, in order
        self.pending: list[AuditEvent] = []
        self._clock = clock or (lambda: datetime.now(UTC))

    def _add(self, event: AuditEvent) -> None:
        self.pending.append(event)

    def commit(self) -> None:
        for event in self.pending:
            self.entries.append(seal(self.head(), self._clock(), event))
        self.pending = []

    def rollback(self) -> None:
        self.pending = []

    @property
    def events(self) -> list[AuditEvent]:
        """What was committed, without the chain: what stories usually assert on."""
        return [entry.event for entry in self.entries]

    def search(
        self,
        *,
        person: str | None = None,
        department: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> AuditPage:
        where = AuditFilter(person, department, action, since, until)
        found = [entry for entry in reversed(self.entries) if where.matches(entry)]
        return AuditPage(found[offset:offset + limit], len(found), limit, offset)

    def export(self, where: AuditFilter) -> Iterator[AuditEntry]:
        return (entry for entry in list(self.entries) if where.matches(entry))

    def read_chain(self) -> tuple[ChainHead, Iterator[AuditEntry]]:
        return self.head(), iter(list(self.entries))

    def head(self) -> ChainHead:
        return self.entries[-1].head if self.entries else GENESIS
