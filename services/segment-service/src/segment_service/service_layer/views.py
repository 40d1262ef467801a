"""Read-side queries (CQRS-lite): plain reads through a unit of work, no aggregates."""

from __future__ import annotations

from segment_service.service_layer.unit_of_work import SegmentUnitOfWork


def resident_counts(uow: SegmentUnitOfWork) -> dict[str, int]:
    with uow:
        return uow.residents.count_by_status()
