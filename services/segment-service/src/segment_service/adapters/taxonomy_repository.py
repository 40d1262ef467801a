"""Published taxonomy versions. Append-only: a version, once published, never changes."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, text

from segment_service.adapters.orm import taxonomy_versions


@dataclass(frozen=True)
class PublishedTaxonomy:
    version: int
    content_sha256: str
    document: dict[str, Any]
    published_at: datetime | None = None


class AbstractTaxonomyRepository(abc.ABC):
    @abc.abstractmethod
    def latest(self) -> PublishedTaxonomy | None: ...

    @abc.abstractmethod
    def by_hash(self, content_sha256: str) -> PublishedTaxonomy | None: ...

    @abc.abstractmethod
    def all(self) -> list[PublishedTaxonomy]:
        """Every version, oldest first (a city publishes a handful a year)."""

    @abc.abstractmethod
    def append(self, content_sha256: str, document: dict[str, Any]) -> int:
        """Store a new version; returns its number (one more than the latest)."""


class SqlTaxonomyRepository(AbstractTaxonomyRepository):
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def latest(self) -> PublishedTaxonomy | None:
        row = self._connection.execute(
            select(taxonomy_versions).order_by(taxonomy_versions.c.version.desc()).limit(1)
        ).first()
        return PublishedTaxonomy(row.version, row.content_sha256, row.document) if row else None

    def by_hash(self, content_sha256: str) -> PublishedTaxonomy | None:
        row = self._connection.execute(
            select(taxonomy_versions).where(taxonomy_versions.c.content_sha256 == content_sha256)
        ).first()
        return PublishedTaxonomy(row.version, row.content_sha256, row.document) if row else None

    def all(self) -> list[PublishedTaxonomy]:
        rows = self._connection.execute(select(taxonomy_versions).order_by(taxonomy_versions.c.version))
        return [PublishedTaxonomy(row.version, row.content_sha256, row.document, row.published_at) for row in rows]

    def append(self, content_sha256: str, document: dict[str, Any]) -> int:
        # One publisher at a time: the advisory lock makes "next version" race-free.
        self._connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('segment.taxonomy_versions'))"))
        current = self._connection.execute(select(func.coalesce(func.max(taxonomy_versions.c.version), 0)))
        version = int(current.scalar_one()) + 1
        self._connection.execute(
            taxonomy_versions.insert().values(version=version, content_sha256=content_sha256, document=document)
        )
        return version
