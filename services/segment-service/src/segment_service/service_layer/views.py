"""Read-side queries (CQRS-lite): plain reads through a unit of work, no aggregates."""

from __future__ import annotations

from typing import Any

from segment_service.service_layer.unit_of_work import SegmentUnitOfWork


def resident_counts(uow: SegmentUnitOfWork) -> dict[str, int]:
    with uow:
        return uow.residents.count_by_status()


def current_taxonomy(uow: SegmentUnitOfWork) -> dict[str, Any] | None:
    with uow:
        latest = uow.taxonomies.latest()
    if latest is None:
        return None
    return {"version": latest.version, "contentSha256": latest.content_sha256, "taxonomy": latest.document}
