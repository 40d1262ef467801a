"""In-memory adapters of segment-service's ports, for handler tests that read as stories.

They keep what a handler stores in plain Python objects, shared across units of work made by the
same factory (like one database), so a test can follow a resident through several messages.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any, Self

from cityline_common.unit_of_work import InMemoryUnitOfWork

from segment_service.adapters.account_texts import AbstractAccountTexts
from segment_service.adapters.follower_imports import AbstractFollowerImports, ImportProgress
from segment_service.adapters.friend_changes import AbstractFriendChanges
from segment_service.adapters.in_memory_answers import (
    InMemoryAnswersData,
    InMemoryAnswersRepository,
    InMemorySegmentRepository,
    InMemorySegmentsData,
)
from segment_service.adapters.repository import AbstractResidentRepository
from segment_service.adapters.taxonomy_repository import AbstractTaxonomyRepository, PublishedTaxonomy
from segment_service.domain.friends import SHARDS, FriendChange
from segment_service.domain.model import Resident, ResidentStatus
from segment_service.service_layer.unit_of_work import AbstractSegmentUnitOfWork


class InMemoryResidentRepository(AbstractResidentRepository):
    def __init__(self, store: dict[str, Resident]) -> None:
        super().__init__()
        self._store = store

    def get_by_line_user_id(self, line_user_id: str) -> Resident | None:
        resident = self._store.get(line_user_id)
        if resident is not None:
            self.seen.add(resident)
        return resident

    def add(self, resident: Resident) -> None:
        if resident.line_user_id in self._store:
            raise ValueError("a resident with this LINE user id exists")  # the unique blind index
        self._store[resident.line_user_id] = resident
        self.seen.add(resident)

    def save(self, resident: Resident) -> None:
        self._store[resident.line_user_id] = resident

    def count_by_status(self) -> dict[str, int]:
        counts = {status.value: 0 for status in ResidentStatus}
        for resident in self._store.values():
            counts[resident.status.value] += 1
        return counts

    def register_imported(self, line_user_ids: Sequence[str]) -> int:
        added = 0
        for line_user_id in dict.fromkeys(line_user_ids):
            if line_user_id not in self._store:
                self._store[line_user_id] = Resident.imported(line_user_id)
                added += 1
        return added


class InMemoryAccountTexts(AbstractAccountTexts):
    def __init__(self, store: dict[str, tuple[str, str | None]]) -> None:
        self._store = store

    def get(self, key: str) -> str | None:
        found = self._store.get(key)
        return None if found is None else found[0]

    def put(self, key: str, text: str, staff: str) -> None:
        self._store[key] = (text, staff)

    def all(self) -> dict[str, tuple[str, str | None]]:
        return dict(self._store)


class InMemoryFollowerImports(AbstractFollowerImports):
    def __init__(self, store: dict[str, ImportProgress]) -> None:
        self._store = store

    def unfinished(self) -> ImportProgress | None:
        found = [each for each in self._store.values() if not each.finished]
        return replace(found[-1]) if found else None

    def get(self, run_id: str) -> ImportProgress | None:
        found = self._store.get(run_id)
        return None if found is None else replace(found)

    def save(self, progress: ImportProgress) -> None:
        self._store[progress.run_id] = replace(progress)


class InMemoryTaxonomyRepository(AbstractTaxonomyRepository):
    def __init__(self, versions: list[PublishedTaxonomy]) -> None:
        self._versions = versions

    def latest(self) -> PublishedTaxonomy | None:
        return self._versions[-1] if self._versions else None

    def by_hash(self, content_sha256: str) -> PublishedTaxonomy | None:
        return next((each for each in self._versions if each.content_sha256 == content_sha256), None)

    def all(self) -> list[PublishedTaxonomy]:
        return list(self._versions)

    def append(self, content_sha256: str, document: dict[str, Any]) -> int:
        version = len(self._versions) + 1
        self._versions.append(PublishedTaxonomy(version, content_sha256, json.loads(json.dumps(document)),
                                                datetime.now(UTC)))
        return version


class InMemoryFriendChanges(AbstractFriendChanges):
    def __init__(self, store: dict[tuple[date, int], list[int]]) -> None:
        self._store = store

    def count(self, day: date, change: FriendChange, shard: int) -> None:
        if not 0 <= shard < SHARDS:
            raise ValueError(f"shard must be from 0 to {SHARDS - 1}")
        counts = self._store.setdefault((day, shard), [0, 0])
        counts[0 if change is FriendChange.FOLLOW else 1] += 1

    def between(self, first: date, last: date) -> dict[date, tuple[int, int]]:
        totals: dict[date, tuple[int, int]] = {}
        for (day, _shard), (follows, unfollows) in self._store.items():
            if first <= day <= last:
                before = totals.get(day, (0, 0))
                totals[day] = (before[0] + follows, before[1] + unfollows)
        return totals

    def first_day(self) -> date | None:
        return min((day for day, _shard in self._store), default=None)


@dataclass
class InMemorySegmentData:
    """What the in-memory "database" holds; one per test."""

    residents: dict[str, Resident] = field(default_factory=dict)
    taxonomies: list[PublishedTaxonomy] = field(default_factory=list)
    friend_changes: dict[tuple[date, int], list[int]] = field(default_factory=dict)
    texts: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    follower_imports: dict[str, ImportProgress] = field(default_factory=dict)
    answers: InMemoryAnswersData = field(default_factory=InMemoryAnswersData)
    segments: InMemorySegmentsData = field(default_factory=InMemorySegmentsData)
    units: list[InMemorySegmentUnitOfWork] = field(default_factory=list)

    def uow(self) -> InMemorySegmentUnitOfWork:
        unit = InMemorySegmentUnitOfWork(self)
        self.units.append(unit)
        return unit

    def emitted(self) -> list[Any]:
        """Every contract committed by any unit of work of this test, in order."""
        return [contract for unit in self.units for contract in unit.emitted_contracts()]


class InMemorySegmentUnitOfWork(InMemoryUnitOfWork, AbstractSegmentUnitOfWork):
    def __init__(self, data: InMemorySegmentData) -> None:
        super().__init__()
        self._data = data

    def __enter__(self) -> Self:
        super().__enter__()
        self.residents = InMemoryResidentRepository(self._data.residents)
        self.taxonomies = InMemoryTaxonomyRepository(self._data.taxonomies)
        self.friend_changes = InMemoryFriendChanges(self._data.friend_changes)
        self.texts = InMemoryAccountTexts(self._data.texts)
        self.follower_imports = InMemoryFollowerImports(self._data.follower_imports)
        self.answers = InMemoryAnswersRepository(self._data.answers, self._data.residents)
        self.segments = InMemorySegmentRepository(self._data.segments, self._data.answers, self._data.residents)
        return self

    def commit(self) -> None:
        super().commit()
        self._run_after_commit()

    def rollback(self) -> None:
        super().rollback()
        self._discard_after_commit()

