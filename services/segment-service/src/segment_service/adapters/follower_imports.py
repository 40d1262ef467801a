"""Progress of `import-followers` runs (one row per run, written with each page's residents)."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, func, select
from sqlalchemy.dialects.postgresql import insert

from segment_service.adapters.orm import follower_imports


@dataclass
class ImportProgress:
    run_id: str
    next_page_token: str | None  # LINE's `next`; None before the first page, and once finished
    pages_done: int = 0
    ids_seen: int = 0
    residents_added: int = 0
    finished: bool = False


class AbstractFollowerImports(abc.ABC):
    @abc.abstractmethod
    def unfinished(self) -> ImportProgress | None:
        """The latest run that did not finish (a killed one), locked, or None."""

    @abc.abstractmethod
    def get(self, run_id: str) -> ImportProgress | None: ...

    @abc.abstractmethod
    def save(self, progress: ImportProgress) -> None:
        """Insert or update the run's row."""


class SqlFollowerImports(AbstractFollowerImports):
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def unfinished(self) -> ImportProgress | None:
        row = self._connection.execute(
            select(follower_imports).where(follower_imports.c.finished_at.is_(None))
            .order_by(follower_imports.c.started_at.desc()).limit(1).with_for_update()
        ).first()
        return None if row is None else self._progress(row)

    def get(self, run_id: str) -> ImportProgress | None:
        row = self._connection.execute(
            select(follower_imports).where(follower_imports.c.id == run_id).with_for_update()).first()
        return None if row is None else self._progress(row)

    @staticmethod
    def _progress(row: Row[Any]) -> ImportProgress:
        return ImportProgress(run_id=row.id, next_page_token=row.next_page_token, pages_done=row.pages_done,
                              ids_seen=row.ids_seen, residents_added=row.residents_added,
                              finished=row.finished_at is not None)

    def save(self, progress: ImportProgress) -> None:
        values = {"next_page_token": progress.next_page_token, "pages_done": progress.pages_done,
                  "ids_seen": progress.ids_seen, "residents_added": progress.residents_added,
                  "updated_at": func.now(), "finished_at": func.now() if progress.finished else None}
        statement = insert(follower_imports).values(id=progress.run_id, **values)
        self._connection.execute(statement.on_conflict_do_update(index_elements=[follower_imports.c.id], set_=values))
