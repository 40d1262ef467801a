"""richmenu-service's unit of work: the port its handlers see, its PostgreSQL adapter and an in-memory fake."""

from __future__ import annotations

from typing import Self

from cityline_common.crypto import FieldCipher
from cityline_common.db import SqlUnitOfWork
from cityline_common.unit_of_work import AbstractUnitOfWork, InMemoryUnitOfWork
from sqlalchemy import Engine

from richmenu_service.adapters.orm import plumbing
from richmenu_service.adapters.repository import (
    AbstractChanges,
    AbstractLinks,
    AbstractMenus,
    AbstractRules,
    MemoryChanges,
    MemoryLinks,
    MemoryMenus,
    MemoryRules,
    MemoryStore,
    SqlChanges,
    SqlLinks,
    SqlMenus,
    SqlRules,
)


class AbstractRichmenuUnitOfWork(AbstractUnitOfWork):
    menus: AbstractMenus
    rules: AbstractRules
    links: AbstractLinks
    changes: AbstractChanges


class SqlRichmenuUnitOfWork(AbstractRichmenuUnitOfWork, SqlUnitOfWork):
    def __init__(self, engine: Engine, cipher: FieldCipher) -> None:
        SqlUnitOfWork.__init__(self, engine, plumbing)
        self._cipher = cipher

    def __enter__(self) -> Self:
        super().__enter__()
        self.menus = SqlMenus(self.connection)
        self.rules = SqlRules(self.connection)
        self.links = SqlLinks(self.connection, self._cipher)
        self.changes = SqlChanges(self.connection)
        return self


class MemoryRichmenuUnitOfWork(AbstractRichmenuUnitOfWork, InMemoryUnitOfWork):
    """For handler tests: every unit of work made from one :class:`MemoryStore` sees the same data (commits
    are not isolated: the tests read stories, not transactions)."""

    def __init__(self, store: MemoryStore) -> None:
        InMemoryUnitOfWork.__init__(self)
        self.store = store
        self.menus = MemoryMenus(store)
        self.rules = MemoryRules(store)
        self.links = MemoryLinks(store)
        self.changes = MemoryChanges(store)
