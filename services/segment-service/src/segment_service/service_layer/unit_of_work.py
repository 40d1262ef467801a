from __future__ import annotations

from collections.abc import Iterator
from typing import Self

from cityline_common.crypto import BlindIndex, FieldCipher
from cityline_common.db import UnitOfWork
from cityline_common.messagebus import Event
from sqlalchemy import Engine

from segment_service.adapters.orm import plumbing
from segment_service.adapters.repository import ResidentRepository
from segment_service.adapters.taxonomy_repository import TaxonomyRepository


class SegmentUnitOfWork(UnitOfWork):
    residents: ResidentRepository
    taxonomies: TaxonomyRepository

    def __init__(self, engine: Engine, cipher: FieldCipher, index: BlindIndex) -> None:
        super().__init__(engine, plumbing)
        self._cipher = cipher
        self._index = index

    def __enter__(self) -> Self:
        super().__enter__()
        self.residents = ResidentRepository(self.connection, self._cipher, self._index)
        self.taxonomies = TaxonomyRepository(self.connection)
        self._events: list[Event] = []
        return self

    def record(self, event: Event) -> None:
        """For events that belong to no aggregate instance (a published taxonomy)."""
        self._events.append(event)

    def collect_new_events(self) -> Iterator[Event]:
        while self._events:
            yield self._events.pop(0)
        for resident in self.residents.seen:
            while resident.events:
                yield resident.events.pop(0)
