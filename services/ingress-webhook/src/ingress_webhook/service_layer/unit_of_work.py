from __future__ import annotations

from typing import Self

from cityline_common.db import UnitOfWork
from sqlalchemy import Engine, text

from ingress_webhook.adapters.orm import plumbing
from ingress_webhook.adapters.seen_events import SeenEvents


class IngressUnitOfWork(UnitOfWork):
    seen: SeenEvents

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, plumbing)

    def __enter__(self) -> Self:
        super().__enter__()
        self.seen = SeenEvents(self.connection)
        return self

    def require_durable_commit(self) -> None:
        """This transaction holds spooled events: wait for the WAL flush on commit."""
        self.connection.execute(text("SET LOCAL synchronous_commit TO on"))
