"""Read-side queries (CQRS-lite): plain reads run through ``bus.query``, no aggregates."""

from __future__ import annotations

from typing import Any

from segment_service.service_layer.unit_of_work import AbstractSegmentUnitOfWork


def resident_counts(uow: AbstractSegmentUnitOfWork) -> dict[str, int]:
    return uow.residents.count_by_status()


def current_taxonomy(uow: AbstractSegmentUnitOfWork) -> dict[str, Any] | None:
    latest = uow.taxonomies.latest()
    if latest is None:
        return None
    return {"version": latest.version, "contentSha256": latest.content_sha256, "taxonomy": latest.document}
