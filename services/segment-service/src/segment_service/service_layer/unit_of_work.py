"""segment-service's unit of work: the port handlers see, and its PostgreSQL adapter."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Self

from cityline_common.crypto import BlindIndex, FieldCipher
from cityline_common.db import SqlUnitOfWork
from cityline_common.unit_of_work import AbstractUnitOfWork, HasEvents
from sqlalchemy import Engine

from segment_service.adapters.friend_changes import AbstractFriendChanges, SqlFriendChanges
from segment_service.adapters.orm import plumbing
from segment_service.adapters.repository import AbstractResidentRepository, SqlResidentRepository
from segment_service.adapters.taxonomy_repository import AbstractTaxonomyRepository, SqlTaxonomyRepository


class AbstractSegmentUnitOfWork(AbstractUnitOfWork):
    residents: AbstractResidentRepository
    taxonomies: AbstractTaxonomyRepository
    friend_changes: AbstractFriendChanges  # follows and blocks per day, counted with each change

    def _aggregates(self) -> Iterable[HasEvents]:
        return self.residents.seen


class SqlSegmentUnitOfWork(AbstractSegmentUnitOfWork, SqlUnitOfWork):
    def __init__(self, engine: Engine, cipher: FieldCipher, index: BlindIndex) -> None:
        SqlUnitOfWork.__init__(self, engine, plumbing)
        self._cipher = cipher
        self._index = index

    def __enter__(self) -> Self:
        super().__enter__()
        self.residents = SqlResidentRepository(self.connection, self._cipher, self._index)
        self.taxonomies = SqlTaxonomyRepository(self.connection)
        self.friend_changes = SqlFriendChanges(self.connection)
        return self
