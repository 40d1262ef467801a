"""The city's account texts (greetings): the port handlers see and its PostgreSQL adapter."""

from __future__ import annotations

import abc

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects.postgresql import insert

from segment_service.adapters.orm import account_texts


class AbstractAccountTexts(abc.ABC):
    @abc.abstractmethod
    def get(self, key: str) -> str | None:
        """The staff's text, or None when they never set it (the default applies)."""

    @abc.abstractmethod
    def put(self, key: str, text: str, staff: str) -> None: ...

    @abc.abstractmethod
    def all(self) -> dict[str, tuple[str, str | None]]:
        """key → (text, staff id) of every text staff have set."""


class SqlAccountTexts(AbstractAccountTexts):
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def get(self, key: str) -> str | None:
        return self._connection.execute(select(account_texts.c.text).where(account_texts.c.key == key)).scalar()

    def put(self, key: str, text: str, staff: str) -> None:
        statement = insert(account_texts).values(key=key, text=text, updated_by=staff)
        self._connection.execute(statement.on_conflict_do_update(
            index_elements=[account_texts.c.key],
            set_={"text": statement.excluded.text, "updated_by": statement.excluded.updated_by,
                  "updated_at": func.now()},
        ))

    def all(self) -> dict[str, tuple[str, str | None]]:
        rows = self._connection.execute(select(account_texts.c.key, account_texts.c.text, account_texts.c.updated_by))
        return {row.key: (row.text, row.updated_by) for row in rows}
