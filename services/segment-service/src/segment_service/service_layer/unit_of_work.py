from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Self

from cityline_common.crypto import BlindIndex, FieldCipher
from cityline_common.db import UnitOfWork
from cityline_common.messagebus import Event
from sqlalchemy.orm import Session

from segment_service.adapters.orm import plumbing
from segment_service.adapters.repository import ResidentRepository


class SegmentUnitOfWork(UnitOfWork):
    residents: ResidentRepository

    def __init__(self, session_factory: Callable[[], Session], cipher: FieldCipher, index: BlindIndex) -> None:
        super().__init__(session_factory, plumbing)
        self._cipher = cipher
        self._index = index

    def __enter__(self) -> Self:
        super().__enter__()
        self.residents = ResidentRepository(self.session, self._cipher, self._index)
        return self

    def collect_new_events(self) -> Iterator[Event]:
        for resident in self.residents.seen:
            while resident.events:
                yield resident.events.pop(0)
