"""The sliding-window record of webhook event ids already taken (LINE may send an event twice)."""

from __future__ import annotations

import abc
from collections.abc import Iterable
from datetime import timedelta
from typing import Protocol

from sqlalchemy import Connection, delete, func, text

from ingress_webhook.adapters.orm import webhook_events_seen

# One statement whatever the number of ids (it sits on the hot path: compiled and planned once).
_CLAIM = text(
    "INSERT INTO ingress.webhook_events_seen (webhook_event_id) SELECT unnest(CAST(:ids AS varchar[])) "
    "ON CONFLICT DO NOTHING RETURNING webhook_event_id"
)
_RELEASE = text("DELETE FROM ingress.webhook_events_seen WHERE webhook_event_id = ANY(CAST(:ids AS varchar[]))")


class AbstractSeenEvents(abc.ABC):
    @abc.abstractmethod
    def claim(self, webhook_event_ids: Iterable[str]) -> set[str]:
        """Record the ids in this transaction; return those not seen before."""

    @abc.abstractmethod
    def release(self, webhook_event_ids: Iterable[str]) -> None:
        """Give back ids claimed in this transaction (their requests failed), keeping the rest of it."""

    @abc.abstractmethod
    def forget_older_than(self, window: timedelta, batch: int = 10_000) -> int: ...

    @abc.abstractmethod
    def try_lock_housekeeping(self) -> bool: ...


class HasConnection(Protocol):
    @property
    def connection(self) -> Connection: ...


class SqlSeenEvents(AbstractSeenEvents):
    """Takes the unit of work's connection only when first used (the database may be away)."""

    def __init__(self, uow: HasConnection) -> None:
        self._uow = uow

    @property
    def _connection(self) -> Connection:
        return self._uow.connection

    def claim(self, webhook_event_ids: Iterable[str]) -> set[str]:
        """Record the ids in this transaction; return those not seen before.

        A concurrent request carrying the same id waits on the row lock until this transaction
        ends: if it commits, the other sees a duplicate; if it rolls back (the publish failed),
        the other takes the event. So a redelivery can never be dropped for a failed first try.
        """
        ids = list(dict.fromkeys(webhook_event_ids))
        if not ids:
            return set()
        return set(self._connection.execute(_CLAIM, {"ids": ids}).scalars())

    def release(self, webhook_event_ids: Iterable[str]) -> None:
        """Only ever called with ids this transaction claimed: a concurrent claim of one of them,
        waiting on its row lock, then takes the event when this transaction commits."""
        ids = list(webhook_event_ids)
        if ids:
            self._connection.execute(_RELEASE, {"ids": ids})

    def forget_older_than(self, window: timedelta, batch: int = 10_000) -> int:
        """Housekeeping: drop ids that left the window (in batches, to keep locks short)."""
        oldest = (
            webhook_events_seen.select()
            .with_only_columns(webhook_events_seen.c.webhook_event_id)
            .where(webhook_events_seen.c.received_at < func.now() - window)
            .limit(batch)
            .scalar_subquery()
        )
        result = self._connection.execute(
            delete(webhook_events_seen).where(webhook_events_seen.c.webhook_event_id.in_(oldest))
        )
        return int(result.rowcount or 0)

    def try_lock_housekeeping(self) -> bool:
        """Only one process of the fleet sweeps at a time."""
        lock = text("SELECT pg_try_advisory_xact_lock(hashtext('ingress.housekeeping'))")
        return bool(self._connection.execute(lock).scalar())
