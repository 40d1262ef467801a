"""Residents: the repository port, and its PostgreSQL adapter that encrypts LINE user ids on the way in."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from datetime import UTC, datetime

from cityline_common.crypto import BlindIndex, CryptoError, FieldCipher
from cityline_common.keys import lock_blind_indexes
from sqlalchemy import Connection, func, select
from sqlalchemy.dialects.postgresql import insert

from segment_service.adapters.orm import LINE_USER_ID, residents
from segment_service.domain.model import Resident, ResidentOrigin, ResidentStatus, validate_line_user_id

LINE_USER_ID_CONTEXT = LINE_USER_ID.context  # bound with the resident id: row_context(context, id)
LINE_USER_ID_INDEX = LINE_USER_ID.blind_index_purpose or ""


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

    @abc.abstractmethod
    def register_imported(self, line_user_ids: Sequence[str]) -> int:
        """Register the followers LINE listed that are not residents yet (``origin = import``, following,
        no event: they followed before this system existed). Existing residents are left as they are,
        whatever their status. Answers how many were added."""


class SqlResidentRepository(AbstractResidentRepository):
    """LINE user ids are stored sealed for their row (``encrypt_for_row`` with the resident id) and
    found through their blind index.

    **No duplicate resident, also while index keys rotate.** ``get_by_line_user_id`` is the only way
    to a resident and always precedes :meth:`add` in the same transaction. It

    1. takes a transaction-scoped advisory lock per index of the id under every key of the ring, in
       one global order (``lock_blind_indexes``). Two transactions about the same id wait for each
       other even before any row exists, also on pods whose rings differ while a new ring rolls out
       (the rings share the old key, which stays listed until rotation is over) and whose inserts,
       under different active keys, the unique constraint could not tell apart;
    2. selects ``WHERE line_user_id_bidx IN (index under each key) FOR UPDATE``. A row the rotation
       is re-indexing is locked by it; once it commits, PostgreSQL re-checks the row's new index
       against the list, which holds the index under the new key too, so the row is found, not
       missed. A first follow finds nothing and inserts under the active key while holding the locks
       of step 1, so a concurrent writer waits and then finds that row.

    The unique constraint stays the backstop: one row per stored index. ``cityline-keys rotate``
    starts only once every pod runs the new ring: a pod still on the old ring would not look up the
    re-indexed row's new index.
    """

    def __init__(self, connection: Connection, cipher: FieldCipher, index: BlindIndex) -> None:
        super().__init__()
        self._connection = connection
        self._cipher = cipher
        self._index = index

    def get_by_line_user_id(self, line_user_id: str) -> Resident | None:
        """Look up and lock the resident row for the rest of the transaction."""
        candidates = self._index.candidates(LINE_USER_ID_INDEX, line_user_id)
        lock_blind_indexes(self._connection, candidates)
        row = self._connection.execute(
            select(residents)
            .where(residents.c.line_user_id_bidx.in_(candidates))
            .order_by(residents.c.created_at)
            .with_for_update()
        ).first()
        if row is None:
            return None
        # Bound to this row: a token copied here from another resident's row raises CryptoError, so the
        # consumer retries and finally dead-letters the event instead of acting on the wrong person.
        stored = self._cipher.decrypt_for_row(row.line_user_id_ct, LINE_USER_ID_CONTEXT, row.id)
        if stored != line_user_id:  # an index copied from another row
            raise CryptoError(f"resident {row.id} does not hold the LINE user id its blind index names")
        resident = Resident(
            id=row.id,
            line_user_id=stored,
            status=ResidentStatus(row.status),
            status_changed_at_ms=row.status_changed_at_ms,
        )
        self.seen.add(resident)
        return resident

    def add(self, resident: Resident) -> None:
        """Insert a new resident (the caller found none under the locks of its transaction)."""
        self._connection.execute(
            insert(residents)
            .values(
                id=resident.id,
                line_user_id_ct=self._cipher.encrypt_for_row(resident.line_user_id, LINE_USER_ID_CONTEXT, resident.id),
                line_user_id_bidx=self._index.compute(LINE_USER_ID_INDEX, resident.line_user_id),
                status=resident.status.value,
                status_changed_at_ms=resident.status_changed_at_ms,
                followed_at=_followed_at(resident),
            )
        )
        self.seen.add(resident)

    def save(self, resident: Resident) -> None:
        self._connection.execute(
            residents.update()
            .where(residents.c.id == resident.id)
            .values(status=resident.status.value, status_changed_at_ms=resident.status_changed_at_ms,
                    updated_at=func.now(),
                    # a new friendship begins with each follow; a block keeps when the last one began
                    followed_at=_followed_at(resident) or residents.c.followed_at)
        )

    def count_by_status(self) -> dict[str, int]:
        rows = self._connection.execute(select(residents.c.status, func.count()).group_by(residents.c.status))
        counts = {status.value: 0 for status in ResidentStatus}
        counts.update({status: count for status, count in rows})
        return counts

    def register_imported(self, line_user_ids: Sequence[str]) -> int:
        """Takes the look-up locks of every id (the protocol of :meth:`get_by_line_user_id`, so a follow
        event for one of them waits, then finds the row), then inserts those no index under any key
        of the ring names."""
        ids = list(dict.fromkeys(validate_line_user_id(each) for each in line_user_ids))
        candidates = {each: self._index.candidates(LINE_USER_ID_INDEX, each) for each in ids}
        every = [index for indexes in candidates.values() for index in indexes]
        if not every:
            return 0
        lock_blind_indexes(self._connection, every)
        existing = set(self._connection.execute(
            select(residents.c.line_user_id_bidx).where(residents.c.line_user_id_bidx.in_(every))).scalars())
        new = [each for each in ids if existing.isdisjoint(candidates[each])]
        if not new:
            return 0
        rows = []
        for line_user_id in new:
            resident = Resident.imported(line_user_id)
            rows.append({
                "id": resident.id,
                "line_user_id_ct": self._cipher.encrypt_for_row(line_user_id, LINE_USER_ID_CONTEXT, resident.id),
                "line_user_id_bidx": self._index.compute(LINE_USER_ID_INDEX, line_user_id),
                "status": resident.status.value,
                "status_changed_at_ms": resident.status_changed_at_ms,
                "origin": ResidentOrigin.IMPORT.value,
                "followed_at": None,  # unknown: before this system
            })
        self._connection.execute(insert(residents), rows)
        return len(new)


def _followed_at(resident: Resident) -> datetime | None:
    if resident.status is not ResidentStatus.FOLLOWING:
        return None
    return datetime.fromtimestamp(resident.status_changed_at_ms / 1000, UTC)
