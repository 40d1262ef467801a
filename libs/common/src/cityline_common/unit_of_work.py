"""The unit of work as a port: what handlers may do inside one transaction.

Handlers see only :class:`AbstractUnitOfWork` (and a service's subclass adding its repositories).
:class:`cityline_common.db.SqlUnitOfWork` is the PostgreSQL adapter; :class:`InMemoryUnitOfWork`
is the in-memory one that handler tests run against, so a use case reads as a story and runs in
milliseconds, while adapters keep their tests against the real database and broker.
"""

from __future__ import annotations

import abc
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from cityline_common.contracts import Contract


class Event:
    """Something that happened inside a service: past-tense names (ResidentFollowed)."""


class HasEvents(Protocol):
    """An aggregate that raises domain events."""

    events: list[Event]


@dataclass(frozen=True)
class OutgoingMessage:
    """A contract on its way out through the outbox, with the id consumers de-duplicate on."""

    contract: Contract
    message_id: str
    headers: dict[str, Any] = field(default_factory=dict)
    available_at: datetime | None = None


class AbstractUnitOfWork(abc.ABC):
    """One transaction. Business changes and the messages they cause commit together or not at all."""

    def __enter__(self) -> Self:
        self._recorded: list[Event] = []
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.rollback()  # a no-op after commit; undoes everything otherwise

    @abc.abstractmethod
    def commit(self) -> None: ...

    @abc.abstractmethod
    def rollback(self) -> None: ...

    @abc.abstractmethod
    def claim_message(self, consumer: str, message_id: str) -> bool:
        """Record that ``consumer`` handles ``message_id`` in this transaction; False if it already did."""

    @abc.abstractmethod
    def _add_outgoing(self, message: OutgoingMessage) -> None: ...

    def emit(
        self,
        contract: Contract,
        *,
        message_id: str | None = None,
        headers: dict[str, Any] | None = None,
        available_at: datetime | None = None,
    ) -> str:
        """Send ``contract`` after commit (through the outbox); returns the message id consumers will see."""
        message = OutgoingMessage(contract, message_id or str(uuid.uuid4()), dict(headers or {}), available_at)
        self._add_outgoing(message)
        return message.message_id

    def record(self, event: Event) -> None:
        """For events that belong to no aggregate instance (a published taxonomy, say)."""
        self._recorded.append(event)

    def _aggregates(self) -> Iterable[HasEvents]:
        """The aggregates this unit of work handed out; their events are collected after each handler."""
        return ()

    def collect_new_events(self) -> Iterator[Event]:
        while self._recorded:
            yield self._recorded.pop(0)
        for aggregate in self._aggregates():
            while aggregate.events:
                yield aggregate.events.pop(0)


class InMemoryUnitOfWork(AbstractUnitOfWork):
    """Keeps everything in Python objects: what was committed and what was emitted (only once committed)."""

    def __init__(self) -> None:
        self.committed = False
        self.commits = 0
        self.emitted: list[OutgoingMessage] = []  # committed messages, in order
        self._pending: list[OutgoingMessage] = []
        self._claimed: set[tuple[str, str]] = set()
        self._pending_claims: set[tuple[str, str]] = set()

    def commit(self) -> None:
        self.emitted.extend(self._pending)
        self._claimed |= self._pending_claims
        self._pending, self._pending_claims = [], set()
        self.committed = True
        self.commits += 1

    def rollback(self) -> None:
        self._pending, self._pending_claims = [], set()

    def claim_message(self, consumer: str, message_id: str) -> bool:
        key = (consumer, message_id)
        if key in self._claimed or key in self._pending_claims:
            return False
        self._pending_claims.add(key)
        return True

    def _add_outgoing(self, message: OutgoingMessage) -> None:
        self._pending.append(message)

    def emitted_contracts(self) -> list[Contract]:
        return [message.contract for message in self.emitted]
