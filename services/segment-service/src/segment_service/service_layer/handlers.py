"""Use cases of segment-service. Each runs inside the bus's unit of work; none commits.

受信設定 (changing a resident's answers: the interface the chat flow and the LIFF API use) lives in
service_layer/preferences.py — see its docstring; taxonomy publishing with merges and retirements in
service_layer/taxonomy_changes.py; segments in service_layer/segments.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from zoneinfo import ZoneInfo

from cityline_common.messagebus import Handlers

from segment_service import contracts
from segment_service.domain import commands, events, model, texts
from segment_service.domain.friends import CITY_TIMEZONE, FriendChange, day_of, shard_of
from segment_service.service_layer import preferences, segments, taxonomy_changes
from segment_service.service_layer.unit_of_work import AbstractSegmentUnitOfWork

Seal = Callable[[uuid.UUID, str], str]
"""Seals a resident's LINE user id for a message about that resident."""


def follow_resident(
    timezone: ZoneInfo,
) -> Callable[[commands.FollowResident, AbstractSegmentUnitOfWork], model.FollowOutcome]:
    def handler(command: commands.FollowResident, uow: AbstractSegmentUnitOfWork) -> model.FollowOutcome:
        resident = uow.residents.get_by_line_user_id(command.line_user_id)
        if resident is None:
            resident = model.Resident.first_follow(command.line_user_id, command.occurred_at_ms)
            uow.residents.add(resident)
            outcome = model.FollowOutcome.FIRST
        elif resident.follow(command.occurred_at_ms):
            uow.residents.save(resident)  # their answers stay: a re-follow changes only the status
            outcome = model.FollowOutcome.REFOLLOWED
        else:
            return model.FollowOutcome.UNCHANGED  # already a friend, or an older event: nothing is counted
        _count(uow, timezone, resident, FriendChange.FOLLOW, command.occurred_at_ms)
        return outcome

    return handler


def unfollow_resident(timezone: ZoneInfo) -> Callable[[commands.UnfollowResident, AbstractSegmentUnitOfWork], None]:
    def handler(command: commands.UnfollowResident, uow: AbstractSegmentUnitOfWork) -> None:
        resident = uow.residents.get_by_line_user_id(command.line_user_id)
        if resident is None:
            # A block is a block on the day it happened, also of someone who followed before we
            # were there to see it.
            resident = model.blocked_before_first_follow(command.line_user_id, command.occurred_at_ms)
            uow.residents.add(resident)
        elif resident.unfollow(command.occurred_at_ms):
            uow.residents.save(resident)
        else:
            return
        _count(uow, timezone, resident, FriendChange.UNFOLLOW, command.occurred_at_ms)

    return handler


def _count(uow: AbstractSegmentUnitOfWork, timezone: ZoneInfo, resident: model.Resident, change: FriendChange,
           occurred_at_ms: int) -> None:
    """Count the change on the city's day of the event, in the transaction that makes it."""
    uow.friend_changes.count(day_of(occurred_at_ms, timezone), change, shard_of(resident.id.int))


def set_account_text(command: commands.SetAccountText, uow: AbstractSegmentUnitOfWork) -> None:
    """InvalidAccountText (nothing stored) for an unknown key or an unusable text."""
    uow.texts.put(command.key, texts.validate_text(command.key, command.text), command.staff)


def announce_followed(seal: Seal) -> Callable[[events.ResidentFollowed, AbstractSegmentUnitOfWork], None]:
    def handler(event: events.ResidentFollowed, uow: AbstractSegmentUnitOfWork) -> None:
        uow.emit(contracts.ResidentFollowed(
            resident_id=event.resident_id, occurred_at_ms=event.occurred_at_ms, refollowed=event.refollowed,
            line_user_id_sealed=seal(event.resident_id, event.line_user_id),
        ))

    return handler


def announce_unfollowed(event: events.ResidentUnfollowed, uow: AbstractSegmentUnitOfWork) -> None:
    uow.emit(contracts.ResidentUnfollowed(resident_id=event.resident_id, occurred_at_ms=event.occurred_at_ms))


def announce_taxonomy(event: events.TaxonomyPublished, uow: AbstractSegmentUnitOfWork) -> None:
    uow.emit(contracts.TaxonomyPublished(version=event.version, content_sha256=event.content_sha256))


def handlers(seal: Seal, timezone: ZoneInfo | None = None,
             clock: preferences.Clock | None = None) -> Handlers[AbstractSegmentUnitOfWork]:
    """``timezone``: the city's, whose calendar days the daily friend counts follow; ``clock``: UTC now."""
    city = timezone or ZoneInfo(CITY_TIMEZONE)
    registry = (
        Handlers[AbstractSegmentUnitOfWork]()
        .command(commands.FollowResident, follow_resident(city))
        .command(commands.UnfollowResident, unfollow_resident(city))
        .command(commands.PublishTaxonomy, taxonomy_changes.publish_taxonomy)
        .command(commands.SetAccountText, set_account_text)
        .event(events.ResidentFollowed, announce_followed(seal))
        .event(events.ResidentUnfollowed, announce_unfollowed)
        .event(events.TaxonomyPublished, announce_taxonomy)
    )
    return segments.register(preferences.register(registry, city, clock), city, clock)
