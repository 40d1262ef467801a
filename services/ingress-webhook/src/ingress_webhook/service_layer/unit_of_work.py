from __future__ import annotations

from collections.abc import Callable
from typing import Self

from cityline_common.db import UnitOfWork
from sqlalchemy import text
from sqlalchemy.orm import Session

from ingress_webhook.adapters.orm import plumbing
from ingress_webhook.adapters.seen_events import SeenEvents


class IngressUnitOfWork(UnitOfWork):
    seen: SeenEvents

    def __init__(self, session_factory: Callable[[], Session]) -> None:
        super().__init__(session_factory, plumbing)

    def __enter__(self) -> Self:
        super().__enter__()
        self.seen = SeenEvents(self.session)
        return self

    def require_durable_commit(self) -> None:
        """This transaction holds spooled events: wait for the WAL flush on commit."""
        self.session.execute(text("SET LOCAL synchronous_commit TO on"))
