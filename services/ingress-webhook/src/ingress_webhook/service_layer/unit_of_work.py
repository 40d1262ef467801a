"""ingress-webhook's unit of work: the port its handler sees, and its PostgreSQL adapter."""

from __future__ import annotations

import abc
from typing import Self

from cityline_common.db import SqlUnitOfWork
from cityline_common.unit_of_work import AbstractUnitOfWork
from sqlalchemy import Engine, text

from ingress_webhook.adapters.orm import plumbing
from ingress_webhook.adapters.seen_events import AbstractSeenEvents, SqlSeenEvents


class AbstractIngressUnitOfWork(AbstractUnitOfWork):
    seen: AbstractSeenEvents

    @abc.abstractmethod
    def require_durable_commit(self) -> None:
        """This transaction holds spooled events: its commit must survive a database crash."""


class SqlIngressUnitOfWork(AbstractIngressUnitOfWork, SqlUnitOfWork):
    def __init__(self, engine: Engine) -> None:
        SqlUnitOfWork.__init__(self, engine, plumbing)

    def __enter__(self) -> Self:
        super().__enter__()
        self.seen = SqlSeenEvents(self)
        return self

    def require_durable_commit(self) -> None:
        """Wait for the WAL flush on commit (the de-duplication record alone does not)."""
        self.connection.execute(text("SET LOCAL synchronous_commit TO on"))
