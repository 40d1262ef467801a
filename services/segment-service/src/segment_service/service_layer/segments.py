"""Segments: count previews, saved segments per department, recipient lists frozen for deliveries.

* ``bus.query(count(expression_json, unanswered))`` → :class:`SegmentCount` (raises InvalidSegment);
* ``bus.handle(SaveSegment(...))`` / ``DeleteSegment`` — only in the departments the caller may edit
  (``SegmentForbidden`` otherwise, whatever screen sent it);
* ``bus.query(saved_segments(departments))``, ``bus.query(saved_segment(id))``;
* ``bus.handle(FreezeRecipients(delivery_id, expression | segment_id, unanswered))`` → the list's size;
  idempotent per delivery id; ``bus.query(recipients_page(delivery_id, after, limit))`` streams it
  by keyset (``after``: the last position seen, 0 to start) as opaque resident ids;
  ``with_line_user_id=True`` opens the page's LINE user ids too (the dispatcher, per send batch);
* ``bus.query(memberships(resident_id, segment_ids))`` → which saved segments hold for one resident now
  (unanswered residents excluded, followers only), evaluated in SQL for that resident alone;
* member lists (richmenu-service): a segment's members frozen by ``FreezeRecipients`` under
  ``member_list_name(key)`` ("richmenu:" + key), paged by ``recipients_page`` like a delivery's.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from cityline_common.messagebus import Handlers

from segment_service.adapters.segment_repository import (
    Evaluation,
    Recipient,
    RecipientList,
    ResidentMemberships,
    SavedSegment,
)
from segment_service.domain.commands import (
    DeleteSegment,
    FreezeRecipients,
    FrozenRecipients,
    SavedSegmentRef,
    SaveSegment,
)
from segment_service.domain.segments import (
    InvalidSegment,
    SegmentCount,
    Unanswered,
    include_unanswered,
    parse_expression,
    to_json,
)
from segment_service.service_layer.preferences import Clock, NoTaxonomy, current_taxonomy
from segment_service.service_layer.unit_of_work import AbstractSegmentUnitOfWork

MAX_NAME = 100
MAX_PAGE = 5000
MAX_DELIVERY_ID = 64
MAX_MEMBERSHIP_SEGMENTS = 100
MEMBER_LIST_PREFIX = "richmenu:"  # member lists share the recipient lists' tables, apart from deliveries'
MEMBER_LIST_KEY = re.compile(r"[A-Za-z0-9_-]{1,40}")

_log = logging.getLogger(__name__)


class SegmentForbidden(PermissionError):
    """The caller may not change segments of that department."""


class SegmentNotFound(LookupError):
    pass


def _unanswered(raw: str) -> Unanswered:
    try:
        return Unanswered(raw)
    except ValueError:
        raise InvalidSegment("unanswered: auto, include or exclude") from None


def _evaluation(uow: AbstractSegmentUnitOfWork, expression_json: Any, unanswered: str, now: datetime,
                timezone: ZoneInfo) -> tuple[Evaluation, dict[str, Any], int]:
    current = current_taxonomy(uow)
    if current is None:
        raise NoTaxonomy("no 受信設定 taxonomy has been published yet")
    expression = parse_expression(expression_json, current.taxonomy)
    with_unanswered = include_unanswered(_unanswered(unanswered), expression, current.taxonomy)
    evaluation = Evaluation(expression, uow.answers.codes(), now, now.astimezone(timezone).date(), with_unanswered)
    return evaluation, to_json(expression), current.version


def count(expression_json: Any, unanswered: str, timezone: ZoneInfo,
          now: datetime | None = None) -> Callable[[AbstractSegmentUnitOfWork], SegmentCount]:
    def view(uow: AbstractSegmentUnitOfWork) -> SegmentCount:
        evaluation, _json, _version = _evaluation(uow, expression_json, unanswered, now or datetime.now(UTC),
                                                  timezone)
        return uow.segments.count(evaluation)

    return view


def saved_segments(departments: frozenset[str] | None) -> Callable[[AbstractSegmentUnitOfWork], list[SavedSegment]]:
    def view(uow: AbstractSegmentUnitOfWork) -> list[SavedSegment]:
        return uow.segments.in_departments(departments)

    return view


def saved_segment(segment_id: uuid.UUID) -> Callable[[AbstractSegmentUnitOfWork], SavedSegment | None]:
    def view(uow: AbstractSegmentUnitOfWork) -> SavedSegment | None:
        return uow.segments.get(segment_id)

    return view


@dataclass(frozen=True)
class RecipientsPage:
    recipients: RecipientList
    members: list[Recipient]
    next_after: int | None  # None: the last page


def recipients_page(delivery_id: str, after: int, limit: int, with_line_user_id: bool = False
                    ) -> Callable[[AbstractSegmentUnitOfWork], RecipientsPage | None]:
    """A page of the frozen list: opaque resident ids, and LINE user ids opened only
    ``with_line_user_id`` (the dispatcher asks for them per send batch, where it needs them)."""

    def view(uow: AbstractSegmentUnitOfWork) -> RecipientsPage | None:
        made = uow.segments.recipient_list(delivery_id)
        if made is None:
            return None
        size = max(1, min(limit, MAX_PAGE))
        members = uow.segments.page(made.id, after, size, with_line_user_id)
        last = members[-1].position if members else after
        return RecipientsPage(made, members, last if last < made.members and len(members) == size else None)

    return view


def member_list_name(key: str) -> str:
    """The recipient list that holds richmenu-service's member list ``key``."""
    if not MEMBER_LIST_KEY.fullmatch(key):
        raise InvalidSegment("key: 1 to 40 of A-Z a-z 0-9 _ -")
    return MEMBER_LIST_PREFIX + key


@dataclass(frozen=True)
class Memberships:
    resident: ResidentMemberships
    member_of: list[uuid.UUID]  # in the order asked
    unknown: list[uuid.UUID]  # asked about, but no saved segment

    def as_json(self) -> dict[str, Any]:
        return {"residentId": str(self.resident.resident_id), "following": self.resident.following,
                "lineUserId": self.resident.line_user_id, "memberOf": [str(s) for s in self.member_of],
                "unknownSegments": [str(s) for s in self.unknown]}


def memberships(resident_id: uuid.UUID, segment_ids: Sequence[uuid.UUID], timezone: ZoneInfo,
                now: datetime | None = None) -> Callable[[AbstractSegmentUnitOfWork], Memberships | None]:
    """Which of these saved segments hold for the resident now; None when there is no such resident.
    A segment menu is for residents whose answers match, so the unanswered are never members."""
    if len(segment_ids) > MAX_MEMBERSHIP_SEGMENTS:
        raise InvalidSegment(f"segmentIds: at most {MAX_MEMBERSHIP_SEGMENTS}")

    def view(uow: AbstractSegmentUnitOfWork) -> Memberships | None:
        asked = list(dict.fromkeys(segment_ids))
        saved = {segment.id: segment for segment in uow.segments.get_many(asked)}
        evaluations: dict[uuid.UUID, Evaluation] = {}
        if saved:
            current = current_taxonomy(uow)
            if current is None:
                raise NoTaxonomy("no 受信設定 taxonomy has been published yet")
            at = now or datetime.now(UTC)
            codes = uow.answers.codes()
            for segment_id, segment in saved.items():
                try:
                    expression = parse_expression(segment.expression, current.taxonomy)
                except InvalidSegment:  # saved under a taxonomy it no longer fits: it matches no one
                    _log.warning("segment %s no longer fits the taxonomy; nobody is its member", segment_id)
                    continue
                evaluations[segment_id] = Evaluation(expression, codes, at, at.astimezone(timezone).date(), False)
        found = uow.segments.memberships(resident_id, evaluations)
        if found is None:
            return None
        return Memberships(found, [s for s in asked if s in found.member_of], [s for s in asked if s not in saved])

    return view


def _allowed(department: str, may_edit: frozenset[str] | None) -> None:
    if may_edit is not None and department not in may_edit:
        raise SegmentForbidden(f"no right to edit the segments of {department}")


def register(registry: Handlers[AbstractSegmentUnitOfWork], timezone: ZoneInfo,
             clock: Clock | None = None) -> Handlers[AbstractSegmentUnitOfWork]:
    now_of: Clock = clock or (lambda: datetime.now(UTC))

    def save(command: SaveSegment, uow: AbstractSegmentUnitOfWork) -> SavedSegmentRef:
        name = command.name.strip()
        if not 1 <= len(name) <= MAX_NAME:
            raise InvalidSegment(f"name: 1 to {MAX_NAME} characters")
        if not 1 <= len(command.department) <= MAX_NAME:
            raise InvalidSegment(f"department: 1 to {MAX_NAME} characters")
        _allowed(command.department, command.may_edit)
        _unused, expression, version = _evaluation(uow, command.expression, "auto", now_of(), timezone)
        if command.segment_id is None:
            segment = SavedSegment(uuid.uuid4(), name, command.department, expression, version, command.staff_id,
                                   command.staff_id)
            uow.segments.add(segment)
            return SavedSegmentRef(segment.id, True)
        existing = uow.segments.get(command.segment_id)
        if existing is None:
            raise SegmentNotFound("no such segment")
        _allowed(existing.department, command.may_edit)
        if existing.department != command.department:
            raise InvalidSegment("department: a saved segment stays in its department")
        uow.segments.update(SavedSegment(existing.id, name, existing.department, expression, version,
                                         existing.created_by, command.staff_id))
        return SavedSegmentRef(existing.id, False)

    def delete(command: DeleteSegment, uow: AbstractSegmentUnitOfWork) -> bool:
        existing = uow.segments.get(command.segment_id)
        if existing is None:
            return False
        _allowed(existing.department, command.may_edit)
        return uow.segments.delete(command.segment_id)

    def freeze(command: FreezeRecipients, uow: AbstractSegmentUnitOfWork) -> FrozenRecipients:
        if not 1 <= len(command.delivery_id) <= MAX_DELIVERY_ID:
            raise InvalidSegment(f"deliveryId: 1 to {MAX_DELIVERY_ID} characters")
        existing = uow.segments.recipient_list(command.delivery_id)
        if existing is not None:
            return FrozenRecipients(existing.delivery_id, existing.members, False)
        raw = command.expression
        if command.segment_id is not None:
            saved = uow.segments.get(command.segment_id)
            if saved is None:
                raise SegmentNotFound("no such segment")
            raw = saved.expression
        if raw is None:
            raise InvalidSegment("either expression or segmentId")
        evaluation, expression, version = _evaluation(uow, raw, command.unanswered, now_of(), timezone)
        made, created = uow.segments.freeze(command.delivery_id, expression, evaluation, version)
        return FrozenRecipients(made.delivery_id, made.members, created)

    return (registry.command(SaveSegment, save).command(DeleteSegment, delete)
            .command(FreezeRecipients, freeze))
