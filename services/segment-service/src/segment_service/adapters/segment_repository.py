"""Saved segments, counts and frozen recipient lists: the port and its PostgreSQL adapter."""

from __future__ import annotations

import abc
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from cityline_common.crypto import FieldCipher
from sqlalchemy import BigInteger, Connection, Text, cast, func, literal, literal_column, or_, select, text
from sqlalchemy.dialects.postgresql import aggregate_order_by, insert

from segment_service.adapters.orm import (
    LINE_USER_ID,
    recipient_list_members,
    recipient_lists,
    resident_answers,
    residents,
    segments,
)
from segment_service.adapters.segment_sql import compile_expression, membership
from segment_service.domain.codes import TaxonomyCodes
from segment_service.domain.model import ResidentStatus
from segment_service.domain.segments import Expression, SegmentCount


@dataclass(frozen=True)
class SavedSegment:
    id: uuid.UUID
    name: str
    department: str
    expression: dict[str, Any]
    taxonomy_version: int
    created_by: str
    updated_by: str
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {"id": str(self.id), "name": self.name, "department": self.department, "expression": self.expression,
                "taxonomyVersion": self.taxonomy_version, "createdBy": self.created_by, "updatedBy": self.updated_by,
                "createdAt": self.created_at.isoformat() if self.created_at else None,
                "updatedAt": self.updated_at.isoformat() if self.updated_at else None}


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of an expression: the moment (followed-within) and the city's day (ages)."""

    expression: Expression
    codes: TaxonomyCodes
    at: datetime
    today: date
    with_unanswered: bool


@dataclass(frozen=True)
class RecipientList:
    id: int
    delivery_id: str
    members: int
    include_unanswered: bool
    evaluated_on: date
    taxonomy_version: int

    def as_json(self) -> dict[str, Any]:
        return {"deliveryId": self.delivery_id, "members": self.members,
                "includeUnanswered": self.include_unanswered, "evaluatedOn": self.evaluated_on.isoformat(),
                "taxonomyVersion": self.taxonomy_version}


@dataclass(frozen=True)
class ResidentMemberships:
    """One resident, now: whether they follow, their LINE user id (opened only for a follower) and the
    segments, of those asked about, whose expression holds for them."""

    resident_id: uuid.UUID
    following: bool
    line_user_id: str | None
    member_of: frozenset[uuid.UUID]


class Recipient(NamedTuple):
    """A member of a frozen list (a tuple: half a million of them are made per delivery)."""

    position: int
    resident_id: str  # opaque to the dispatcher: the resident's uuid as text
    line_user_id: str | None = None  # opened only when asked for (the dispatcher, per send batch)


class AbstractSegmentRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, segment: SavedSegment) -> None: ...

    @abc.abstractmethod
    def get(self, segment_id: uuid.UUID) -> SavedSegment | None: ...

    @abc.abstractmethod
    def get_many(self, segment_ids: Sequence[uuid.UUID]) -> list[SavedSegment]:
        """Those of these segments that exist, in no particular order."""

    @abc.abstractmethod
    def in_departments(self, departments: frozenset[str] | None) -> list[SavedSegment]:
        """Saved segments of these departments (None: every department), by department and name."""

    @abc.abstractmethod
    def update(self, segment: SavedSegment) -> None: ...

    @abc.abstractmethod
    def delete(self, segment_id: uuid.UUID) -> bool: ...

    @abc.abstractmethod
    def count(self, evaluation: Evaluation) -> SegmentCount: ...

    @abc.abstractmethod
    def freeze(self, delivery_id: str, expression_json: dict[str, Any], evaluation: Evaluation,
               taxonomy_version: int) -> tuple[RecipientList, bool]:
        """The delivery's recipient list, made now from ``evaluation`` unless it exists: (list, created)."""

    @abc.abstractmethod
    def recipient_list(self, delivery_id: str) -> RecipientList | None: ...

    @abc.abstractmethod
    def memberships(self, resident_id: uuid.UUID,
                    evaluations: Mapping[uuid.UUID, Evaluation]) -> ResidentMemberships | None:
        """Which of these segments hold for this one resident now (only a follower is a member), or None
        when there is no such resident."""

    @abc.abstractmethod
    def page(self, list_id: int, after: int, limit: int, with_line_user_id: bool = False) -> list[Recipient]:
        """Members with a position after ``after``, in position order (keyset): opaque resident ids, and
        their LINE user ids opened only ``with_line_user_id``."""


class SqlSegmentRepository(AbstractSegmentRepository):
    def __init__(self, connection: Connection, cipher: FieldCipher) -> None:
        self._connection = connection
        self._cipher = cipher

    def add(self, segment: SavedSegment) -> None:
        self._connection.execute(segments.insert().values(
            id=segment.id, name=segment.name, department=segment.department, expression=segment.expression,
            taxonomy_version=segment.taxonomy_version, created_by=segment.created_by, updated_by=segment.updated_by))

    def get(self, segment_id: uuid.UUID) -> SavedSegment | None:
        row = self._connection.execute(select(segments).where(segments.c.id == segment_id)).first()
        return _segment(row) if row is not None else None

    def get_many(self, segment_ids: Sequence[uuid.UUID]) -> list[SavedSegment]:
        if not segment_ids:
            return []
        return [_segment(row) for row in self._connection.execute(
            select(segments).where(segments.c.id.in_(list(segment_ids))))]

    def in_departments(self, departments: frozenset[str] | None) -> list[SavedSegment]:
        query = select(segments).order_by(segments.c.department, segments.c.name, segments.c.id)
        if departments is not None:
            query = query.where(segments.c.department.in_(sorted(departments)))
        return [_segment(row) for row in self._connection.execute(query)]

    def update(self, segment: SavedSegment) -> None:
        self._connection.execute(segments.update().where(segments.c.id == segment.id).values(
            name=segment.name, expression=segment.expression, taxonomy_version=segment.taxonomy_version,
            updated_by=segment.updated_by, updated_at=func.now()))

    def delete(self, segment_id: uuid.UUID) -> bool:
        return bool(self._connection.execute(segments.delete().where(segments.c.id == segment_id)).rowcount)

    def count(self, evaluation: Evaluation) -> SegmentCount:
        """One pass over ``resident_answers`` (no join): matching, unanswered and, when the unanswered
        are included, the recipients, each a ``count(*) FILTER (…)`` of the same scan."""
        condition = compile_expression(evaluation.expression, evaluation.codes, at=evaluation.at,
                                       today=evaluation.today)
        unanswered = resident_answers.c.answered_at.is_(None)
        # A count is a short scan: compiling it (JIT) would cost more than it saves.
        self._connection.execute(text("SET LOCAL jit = off"))
        aggregates = [func.count().filter(condition), func.count().filter(unanswered)]
        if evaluation.with_unanswered:
            aggregates.append(func.count().filter(or_(condition, unanswered)))
        row = self._connection.execute(
            select(*aggregates).select_from(resident_answers).where(resident_answers.c.following)).one()
        matching, unanswered_count = int(row[0]), int(row[1])
        recipients = int(row[2]) if evaluation.with_unanswered else matching
        return SegmentCount(matching, unanswered_count, recipients, evaluation.with_unanswered)

    def freeze(self, delivery_id: str, expression_json: dict[str, Any], evaluation: Evaluation,
               taxonomy_version: int) -> tuple[RecipientList, bool]:
        list_id = self._connection.execute(
            insert(recipient_lists).values(
                delivery_id=delivery_id, expression=expression_json, include_unanswered=evaluation.with_unanswered,
                evaluated_on=evaluation.today, taxonomy_version=taxonomy_version, members=0)
            .on_conflict_do_nothing(index_elements=[recipient_lists.c.delivery_id])
            .returning(recipient_lists.c.id)).scalar_one_or_none()
        if list_id is None:  # frozen before (or being frozen now: the insert waited for that transaction)
            existing = self.recipient_list(delivery_id)
            assert existing is not None
            return existing, False
        where = membership(evaluation.expression, evaluation.codes, at=evaluation.at, today=evaluation.today,
                           with_unanswered=evaluation.with_unanswered)
        chosen = (select(literal(list_id, BigInteger),
                         func.row_number().over(),  # scan order: no sort of the members
                         resident_answers.c.resident_id)
                  .select_from(resident_answers).where(where))
        result = self._connection.execute(recipient_list_members.insert().from_select(
            ["list_id", "position", "resident_id"], chosen))
        members = int(result.rowcount)
        self._connection.execute(recipient_lists.update().where(recipient_lists.c.id == list_id)
                                 .values(members=members))
        made = self.recipient_list(delivery_id)
        assert made is not None
        return made, True

    def recipient_list(self, delivery_id: str) -> RecipientList | None:
        row = self._connection.execute(
            select(recipient_lists).where(recipient_lists.c.delivery_id == delivery_id)).first()
        if row is None:
            return None
        return RecipientList(row.id, row.delivery_id, row.members, row.include_unanswered, row.evaluated_on,
                             row.taxonomy_version)

    def memberships(self, resident_id: uuid.UUID,
                    evaluations: Mapping[uuid.UUID, Evaluation]) -> ResidentMemberships | None:
        # One row: a boolean column per segment over the resident's narrow answers row (by primary key).
        chosen = list(evaluations.items())
        columns = [membership(e.expression, e.codes, at=e.at, today=e.today, with_unanswered=e.with_unanswered)
                   .label(f"m{n}") for n, (_id, e) in enumerate(chosen)]
        row = self._connection.execute(
            select(residents.c.status, residents.c.line_user_id_ct, *columns)
            .select_from(residents.outerjoin(resident_answers, resident_answers.c.resident_id == residents.c.id))
            .where(residents.c.id == resident_id)).first()
        if row is None:
            return None
        following = row.status == ResidentStatus.FOLLOWING.value
        line_user_id = (self._cipher.decrypt_for_row(row.line_user_id_ct, LINE_USER_ID.context, resident_id)
                        if following else None)
        member_of = frozenset(segment_id for n, (segment_id, _e) in enumerate(chosen) if following and row[2 + n])
        return ResidentMemberships(resident_id, following, line_user_id, member_of)

    def page(self, list_id: int, after: int, limit: int, with_line_user_id: bool = False) -> list[Recipient]:
        # Positions are 1..members without gaps: the range bounds the scan to the page itself, read in
        # order from the primary key (list_id, position).
        bounds = (recipient_list_members.c.list_id == list_id, recipient_list_members.c.position > after,
                  recipient_list_members.c.position <= after + limit)
        if not with_line_user_id:  # the default: no join, nothing to open, one row back
            return self._resident_ids(bounds, after)
        # The planner joins each member to its resident by primary key (never a scan of ``residents``).
        rows = self._connection.execute(
            select(recipient_list_members.c.position, recipient_list_members.c.resident_id,
                   residents.c.line_user_id_ct)
            .join(residents, residents.c.id == recipient_list_members.c.resident_id)
            .where(*bounds).order_by(recipient_list_members.c.position)).all()
        decrypt = self._cipher.decrypt_for_row
        context = LINE_USER_ID.context
        return [Recipient(position, str(resident_id), decrypt(token, context, resident_id))
                for position, resident_id, token in rows]

    def _resident_ids(self, bounds: tuple[Any, ...], after: int) -> list[Recipient]:
        """The page's resident ids as one ``string_agg`` (no row per member to build in Python). Positions
        are 1..members without gaps (``row_number()`` at freezing), so the page's are after+1..last."""
        member = recipient_list_members.c
        found, last, joined = self._connection.execute(
            select(func.count(), func.max(member.position),
                   func.string_agg(cast(member.resident_id, Text),
                                   aggregate_order_by(literal_column("','"), member.position)))
            .where(*bounds)).one()
        if not found:
            return []
        if found != last - after:  # never made so; read row by row rather than trust it
            rows = self._connection.execute(select(member.position, member.resident_id).where(*bounds)
                                            .order_by(member.position)).all()
            return [Recipient(position, str(resident_id)) for position, resident_id in rows]
        return [Recipient(position, resident_id)
                for position, resident_id in zip(range(after + 1, last + 1), joined.split(","), strict=True)]


def _segment(row: Any) -> SavedSegment:
    return SavedSegment(row.id, row.name, row.department, row.expression, row.taxonomy_version, row.created_by,
                        row.updated_by, row.created_at, row.updated_at)
