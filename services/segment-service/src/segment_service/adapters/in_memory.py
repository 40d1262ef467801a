"""In-memory adapters of segment-service's ports, for handler tests that read as stories.

They keep what a handler stores in plain Python objects, shared across units of work made by the
same factory (like one database), so a test can follow a resident through several messages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Self

from cityline_common.unit_of_work import InMemoryUnitOfWork

from segment_service.adapters.friend_changes import AbstractFriendChanges
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


class InMemoryTaxonomyRepository(AbstractTaxonomyRepository):
    def __init__(self, versions: list[PublishedTaxonomy]) -> None:
        self._versions = versions

    def latest(self) -> PublishedTaxonomy | None:
        return self._versions[-1] if self._versions else None

    def by_hash(self, content_sha256: str) -> PublishedTaxonomy | None:
        return next((each for each in self._versions if each.content_sha256 == content_sha256), None)

    def append(self, content_sha256: str, document: dict[str, Any]) -> int:
        version = len(self._versions) + 1
        self._versions.append(PublishedTaxonomy(version, content_sha256, json.loads(json.dumps(document))))
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
        return self

