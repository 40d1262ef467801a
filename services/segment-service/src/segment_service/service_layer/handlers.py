"""Use cases of segment-service. Each runs inside the caller's unit of work; none commits."""

from __future__ import annotations

from cityline_common.amqp.topology import CITY_EVENTS

from segment_service.domain import commands, events, model
from segment_service.domain.taxonomy import parse_taxonomy
from segment_service.service_layer.unit_of_work import SegmentUnitOfWork


def follow_resident(command: commands.FollowResident, uow: SegmentUnitOfWork) -> None:
    resident = uow.residents.get_by_line_user_id(command.line_user_id)
    if resident is None:
        uow.residents.add(model.Resident.first_follow(command.line_user_id, command.occurred_at_ms))
        return
    resident.follow(command.occurred_at_ms)
    uow.residents.save(resident)


def unfollow_resident(command: commands.UnfollowResident, uow: SegmentUnitOfWork) -> None:
    resident = uow.residents.get_by_line_user_id(command.line_user_id)
    if resident is None:
        uow.residents.add(model.blocked_before_first_follow(command.line_user_id, command.occurred_at_ms))
        return
    resident.unfollow(command.occurred_at_ms)
    uow.residents.save(resident)


def publish_resident_followed(event: events.ResidentFollowed, uow: SegmentUnitOfWork) -> None:
    uow.emit(
        exchange=CITY_EVENTS,
        routing_key="segment.resident.followed",
        type="segment.ResidentFollowed",
        payload={"residentId": str(event.resident_id), "lineUserId": event.line_user_id,
                 "occurredAtMs": event.occurred_at_ms, "refollowed": event.refollowed},
    )


def publish_resident_unfollowed(event: events.ResidentUnfollowed, uow: SegmentUnitOfWork) -> None:
    uow.emit(
        exchange=CITY_EVENTS,
        routing_key="segment.resident.unfollowed",
        type="segment.ResidentUnfollowed",
        payload={"residentId": str(event.resident_id), "lineUserId": event.line_user_id,
                 "occurredAtMs": event.occurred_at_ms},
    )


def publish_taxonomy(command: commands.PublishTaxonomy, uow: SegmentUnitOfWork) -> tuple[int, bool]:
    """Returns (version, created). Publishing the same content again returns its version."""
    taxonomy = parse_taxonomy(command.document)
    content_hash = taxonomy.content_hash()
    existing = uow.taxonomies.by_hash(content_hash)
    if existing is not None:
        return existing.version, False
    version = uow.taxonomies.append(content_hash, taxonomy.document())
    uow.record(events.TaxonomyPublished(version, content_hash))
    return version, True


def publish_taxonomy_published(event: events.TaxonomyPublished, uow: SegmentUnitOfWork) -> None:
    uow.emit(
        exchange=CITY_EVENTS,
        routing_key="segment.taxonomy.published",
        type="segment.TaxonomyPublished",
        payload={"version": event.version, "contentSha256": event.content_sha256},
    )


COMMAND_HANDLERS = {
    commands.FollowResident: follow_resident,
    commands.UnfollowResident: unfollow_resident,
    commands.PublishTaxonomy: publish_taxonomy,
}
EVENT_HANDLERS = {
    events.ResidentFollowed: [publish_resident_followed],
    events.ResidentUnfollowed: [publish_resident_unfollowed],
    events.TaxonomyPublished: [publish_taxonomy_published],
}
