"""segment-service's unit of work: the port handlers see, and its PostgreSQL adapter."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Self

from cityline_common.crypto import BlindIndex, FieldCipher
from cityline_common.db import SqlUnitOfWork
from cityline_common.unit_of_work import AbstractUnitOfWork, HasEvents
from sqlalchemy import Engine

from segment_service.adapters.account_texts import AbstractAccountTexts, SqlAccountTexts
from segment_service.adapters.answers_repository import AbstractAnswersRepository, SqlAnswersRepository
from segment_service.adapters.follower_imports import AbstractFollowerImports, SqlFollowerImports
from segment_service.adapters.friend_changes import AbstractFriendChanges, SqlFriendChanges
from segment_service.adapters.orm import plumbing
from segment_service.adapters.repository import AbstractResidentRepository, SqlResidentRepository
from segment_service.adapters.segment_repository import AbstractSegmentRepository, SqlSegmentRepository
from segment_service.adapters.taxonomy_repository import AbstractTaxonomyRepository, SqlTaxonomyRepository

_log = logging.getLogger(__name__)


class AbstractSegmentUnitOfWork(AbstractUnitOfWork):
    residents: AbstractResidentRepository
    taxonomies: AbstractTaxonomyRepository
    friend_changes: AbstractFriendChanges  # follows and blocks per day, counted with each change
    texts: AbstractAccountTexts  # the city's greetings, as staff set them
    follower_imports: AbstractFollowerImports  # where each import-followers run is
    answers: AbstractAnswersRepository  # 受信設定: taxonomy codes, answers, their history
    segments: AbstractSegmentRepository  # saved segments, counts, frozen recipient lists

    def _aggregates(self) -> Iterable[HasEvents]:
        return self.residents.seen

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once this unit of work has committed (never if it rolls back): external I/O
        such as a LINE reply, which must not happen inside the transaction, nor for a change that is
        not stored. A failing action is logged; the commit stands."""
        self.__dict__.setdefault("_after_commit", []).append(action)

    def _run_after_commit(self) -> None:
        actions: list[Callable[[], None]] = self.__dict__.pop("_after_commit", [])
        for action in actions:
            try:
                action()
            except Exception:
                _log.exception("an action after commit failed")

    def _discard_after_commit(self) -> None:
        self.__dict__.pop("_after_commit", None)


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
        self.texts = SqlAccountTexts(self.connection)
        self.follower_imports = SqlFollowerImports(self.connection)
        self.answers = SqlAnswersRepository(self.connection)
        self.segments = SqlSegmentRepository(self.connection, self._cipher)
        self._discard_after_commit()
        return self

    def commit(self) -> None:
        super().commit()
        self._run_after_commit()

    def rollback(self) -> None:
        super().rollback()
        self._discard_after_commit()
