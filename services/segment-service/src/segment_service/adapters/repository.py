"""Residents: the repository port, and its PostgreSQL adapter that encrypts LINE user ids on the way in."""

from __future__ import annotations

import abc

from cityline_common.crypto import BlindIndex, FieldCipher
from sqlalchemy import Connection, func, select
from sqlalchemy.dialects.postgresql import insert

from segment_service.adapters.orm import residents
from segment_service.domain.model import Resident, ResidentStatus

LINE_USER_ID_CONTEXT = "segment.residents.line_user_id"
LINE_USER_ID_INDEX = "line_user_id"


class AbstractResidentRepository(abc.ABC):
    def __init__(self) -> None:
        self.seen: set[Resident] = set()  # handed out in this unit of work; their events are collected

    @abc.abstractmethod
    def get_by_line_user_id(self, line_user_id: str) -> Resident | None:
        """The resident, locked for the rest of the transaction, or None."""

    @abc.abstractmethod
    def add(self, resident: Resident) -> None: ...

    @abc.abstractmethod
    def save(self, resident: Resident) -> None: ...

    @abc.abstractmethod
    def count_by_status(self) -> dict[str, int]: ...


class SqlResidentRepository(AbstractResidentRepository):
    def __init__(self, connection: Connection, cipher: FieldCipher, index: BlindIndex) -> None:
        super().__init__()
        self._connection = connection
        self._cipher = cipher
        self._index = index

    def get_by_line_user_id(self, line_user_id: str) -> Resident | None:
        """Look up and lock the resident row for the rest of the transaction."""
        row = self._connection.execute(
            select(residents)
            .where(residents.c.line_user_id_bidx == self._index.compute(LINE_USER_ID_INDEX, line_user_id))
            .with_for_update()
        ).first()
        if row is None:
            return None
        resident = Resident(
            id=row.id,
            line_user_id=self._cipher.decrypt(row.line_user_id_ct, LINE_USER_ID_CONTEXT),
            status=ResidentStatus(row.status),
            status_changed_at_ms=row.status_changed_at_ms,
        )
        self.seen.add(resident)
        return resident

    def add(self, resident: Resident) -> None:
        """Insert a new resident (the caller found none under the row lock of its transaction)."""
        self._connection.execute(
            insert(residents)
            .values(
                id=resident.id,
                line_user_id_ct=self._cipher.encrypt(resident.line_user_id, LINE_USER_ID_CONTEXT),
                line_user_id_bidx=self._index.compute(LINE_USER_ID_INDEX, resident.line_user_id),
                status=resident.status.value,
                status_changed_at_ms=resident.status_changed_at_ms,
            )
        )
        self.seen.add(resident)

    def save(self, resident: Resident) -> None:
        self._connection.execute(
            residents.update()
            .where(residents.c.id == resident.id)
            .values(status=resident.status.value, status_changed_at_ms=resident.status_changed_at_ms,
                    updated_at=func.now())
        )

    def count_by_status(self) -> dict[str, int]:
        rows = self._connection.execute(select(residents.c.status, func.count()).group_by(residents.c.status))
        counts = {status.value: 0 for status in ResidentStatus}
        counts.update({status: count for status, count in rows})
        return counts
