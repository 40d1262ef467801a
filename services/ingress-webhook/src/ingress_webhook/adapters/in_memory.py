"""In-memory adapters of ingress-webhook's ports, for handler tests that read as stories."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Self

from cityline_common.unit_of_work import InMemoryUnitOfWork

from ingress_webhook.adapters.seen_events import AbstractSeenEvents
from ingress_webhook.service_layer.unit_of_work import AbstractIngressUnitOfWork


class InMemorySeenEvents(AbstractSeenEvents):
    def __init__(self, committed: set[str], pending: set[str]) -> None:
        self._committed = committed
        self._pending = pending

    def claim(self, webhook_event_ids: Iterable[str]) -> set[str]:
        fresh = {each for each in webhook_event_ids if each not in self._committed and each not in self._pending}
        self._pending |= fresh
        return fresh

    def release(self, webhook_event_ids: Iterable[str]) -> None:
        self._pending.difference_update(webhook_event_ids)

    def forget_older_than(self, window: timedelta, batch: int = 10_000) -> int:
        return 0  # no clock here: the sweep is tested against PostgreSQL

    def try_lock_housekeeping(self) -> bool:
        return True


class InMemoryIngressUnitOfWork(InMemoryUnitOfWork, AbstractIngressUnitOfWork):
    """``seen_ids`` is shared by every unit of work of a test (like the table); claims land on commit."""

    def __init__(self, seen_ids: set[str]) -> None:
        super().__init__()
        self.seen_ids = seen_ids
        self._pending_ids: set[str] = set()
        self.durable = False

    def __enter__(self) -> Self:
        super().__enter__()
        self.seen = InMemorySeenEvents(self.seen_ids, self._pending_ids)
        return self

    def commit(self) -> None:
        super().commit()
        self.seen_ids |= self._pending_ids
        self._pending_ids.clear()

    def rollback(self) -> None:
        super().rollback()
        self._pending_ids.clear()

    def require_durable_commit(self) -> None:
        self.durable = True
