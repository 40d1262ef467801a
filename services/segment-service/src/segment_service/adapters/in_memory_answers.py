"""In-memory answers and segments, for handler stories (see adapters/in_memory.py)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from segment_service.adapters.answers_repository import (
    AbstractAnswersRepository,
    PreferenceChange,
    ResidentAnswers,
)
from segment_service.adapters.segment_repository import (
    AbstractSegmentRepository,
    Evaluation,
    Recipient,
    RecipientList,
    ResidentMemberships,
    SavedSegment,
)
from segment_service.domain.analysis import ChoiceTally, TallyRow
from segment_service.domain.codes import TaxonomyCodes
from segment_service.domain.model import Resident, ResidentStatus
from segment_service.domain.preferences import Answers
from segment_service.domain.segments import ResidentFacts, SegmentCount, evaluate, is_member


@dataclass
class StoredAnswers:
    answers: Answers
    taxonomy_version: int
    answered_at: datetime


@dataclass
class InMemoryAnswersData:
    answers: dict[uuid.UUID, StoredAnswers] = field(default_factory=dict)
    history: list[PreferenceChange] = field(default_factory=list)
    codes: TaxonomyCodes = field(default_factory=TaxonomyCodes)
    retired: dict[tuple[str, str], tuple[str | None, int]] = field(default_factory=dict)


class InMemoryAnswersRepository(AbstractAnswersRepository):
    def __init__(self, data: InMemoryAnswersData, residents: dict[str, Resident]) -> None:
        self._data = data
        self._residents = residents

    def lock(self, resident_id: uuid.UUID) -> ResidentAnswers | None:
        if not any(resident.id == resident_id for resident in self._residents.values()):
            return None
        stored = self._data.answers.get(resident_id)
        if stored is None:
            return ResidentAnswers(resident_id, None, None)
        return ResidentAnswers(resident_id, stored.answers, stored.taxonomy_version)

    def store(self, resident_id: uuid.UUID, answers: Answers, taxonomy_version: int, at: datetime) -> None:
        for key in answers.categories:
            self._data.codes.code("categories", key)  # KeyError like the SQL adapter's
        self._data.answers[resident_id] = StoredAnswers(answers, taxonomy_version, at)

    def record_change(self, change: PreferenceChange) -> None:
        self._data.history.append(change)

    def history(self, resident_id: uuid.UUID) -> list[PreferenceChange]:
        return [change for change in self._data.history if change.resident_id == resident_id]

    def codes(self) -> TaxonomyCodes:
        return self._data.codes

    def add_codes(self, new: dict[tuple[str, str], int], version: int) -> None:
        self._data.codes.by_key.update(new)

    def retire_code(self, dimension: str, key: str, merged_into: str | None, version: int) -> None:
        self._data.retired[(dimension, key)] = (merged_into, version)

    def revive_codes(self, keys: list[tuple[str, str]]) -> None:
        for key in keys:
            self._data.retired.pop(key, None)

    def count_answering(self, dimension: str, key: str) -> int:
        return sum(1 for stored in self._data.answers.values() if key in _keys(stored.answers, dimension))

    def count_answered(self) -> int:
        return len(self._data.answers)

    def remap(self, dimension: str, from_key: str, to_key: str | None) -> int:
        moved = 0
        for resident_id, stored in list(self._data.answers.items()):
            if from_key not in _keys(stored.answers, dimension):
                continue
            answers = stored.answers
            if dimension == "categories":
                categories = (answers.categories - {from_key}) | ({to_key} if to_key else set())
                answers = replace(answers, categories=frozenset(categories))
            else:
                answers = _with_single(answers, dimension, to_key)
            self._data.answers[resident_id] = replace(stored, answers=answers)
            moved += 1
        return moved

    def add_category_to_answered(self, key: str) -> int:
        added = 0
        for resident_id, stored in list(self._data.answers.items()):
            if key not in stored.answers.categories:
                answers = replace(stored.answers, categories=stored.answers.categories | {key})
                self._data.answers[resident_id] = replace(stored, answers=answers)
                added += 1
        return added


    def removals(self) -> dict[int, dict[tuple[str, str], str | None]]:
        found: dict[int, dict[tuple[str, str], str | None]] = {}
        for key, (into, version) in self._data.retired.items():
            found.setdefault(version, {})[key] = into
        return found

    def tally(self) -> ChoiceTally:
        rows = []
        for resident in self._residents.values():
            if resident.status is not ResidentStatus.FOLLOWING:
                rows.append(TallyRow(None, None, None, 1, 0, 0, {}, following=False))
                continue
            stored = self._data.answers.get(resident.id)
            answers = stored.answers if stored is not None else None
            rows.append(TallyRow(
                district=answers.district if answers else None, age_band=answers.age_band if answers else None,
                language=answers.language if answers else None, residents=1, answered=1 if answers else 0,
                with_children=1 if answers and answers.children else 0,
                categories={key: 1 for key in answers.categories} if answers else {}))
        return ChoiceTally.of(rows)


_FIELDS = {"districts": "district", "age_bands": "age_band", "languages": "language"}


def _keys(answers: Answers, dimension: str) -> frozenset[str]:
    if dimension == "categories":
        return answers.categories
    value = getattr(answers, _FIELDS[dimension])
    return frozenset({value}) if value is not None else frozenset()


class InMemorySegmentRepository(AbstractSegmentRepository):
    """Counts and freezes by brute force over the in-memory residents (domain.segments.is_member)."""

    def __init__(self, data: InMemorySegmentsData, answers: InMemoryAnswersData,
                 residents: dict[str, Resident]) -> None:
        self._data = data
        self._answers = answers
        self._residents = residents

    def add(self, segment: SavedSegment) -> None:
        self._data.saved[segment.id] = segment

    def get(self, segment_id: uuid.UUID) -> SavedSegment | None:
        return self._data.saved.get(segment_id)

    def get_many(self, segment_ids: Sequence[uuid.UUID]) -> list[SavedSegment]:
        return [self._data.saved[s] for s in segment_ids if s in self._data.saved]

    def in_departments(self, departments: frozenset[str] | None) -> list[SavedSegment]:
        chosen = [s for s in self._data.saved.values() if departments is None or s.department in departments]
        return sorted(chosen, key=lambda s: (s.department, s.name, str(s.id)))

    def update(self, segment: SavedSegment) -> None:
        self._data.saved[segment.id] = segment

    def delete(self, segment_id: uuid.UUID) -> bool:
        return self._data.saved.pop(segment_id, None) is not None

    def facts(self) -> list[ResidentFacts]:
        out = []
        for resident in self._residents.values():
            stored = self._answers.answers.get(resident.id)
            out.append(ResidentFacts(resident.id, resident.status is ResidentStatus.FOLLOWING,
                                     getattr(resident, "followed_at", None),
                                     stored.answers if stored is not None else None))
        return out

    def _members(self, evaluation: Evaluation) -> list[ResidentFacts]:
        return sorted((f for f in self.facts() if is_member(evaluation.expression, f, at=evaluation.at,
                                                            today=evaluation.today,
                                                            with_unanswered=evaluation.with_unanswered)),
                      key=lambda f: f.resident_id)

    def count(self, evaluation: Evaluation) -> SegmentCount:
        following = [f for f in self.facts() if f.following]
        matching = sum(1 for f in following if evaluate(evaluation.expression, f, evaluation.at, evaluation.today))
        unanswered = sum(1 for f in following if f.answers is None)
        return SegmentCount(matching, unanswered, len(self._members(evaluation)), evaluation.with_unanswered)

    def freeze(self, delivery_id: str, expression_json: dict[str, Any], evaluation: Evaluation,
               taxonomy_version: int) -> tuple[RecipientList, bool]:
        existing = self.recipient_list(delivery_id)
        if existing is not None:
            return existing, False
        members = [f.resident_id for f in self._members(evaluation)]
        made = RecipientList(len(self._data.lists) + 1, delivery_id, len(members), evaluation.with_unanswered,
                             evaluation.today, taxonomy_version)
        self._data.lists[delivery_id] = (made, members)
        return made, True

    def recipient_list(self, delivery_id: str) -> RecipientList | None:
        found = self._data.lists.get(delivery_id)
        return found[0] if found is not None else None

    def memberships(self, resident_id: uuid.UUID,
                    evaluations: Mapping[uuid.UUID, Evaluation]) -> ResidentMemberships | None:
        found = next((f for f in self.facts() if f.resident_id == resident_id), None)
        if found is None:
            return None
        line_user_id = next(r.line_user_id for r in self._residents.values() if r.id == resident_id)
        member_of = frozenset(segment_id for segment_id, e in evaluations.items()
                              if is_member(e.expression, found, at=e.at, today=e.today,
                                           with_unanswered=e.with_unanswered))
        return ResidentMemberships(resident_id, found.following, line_user_id if found.following else None,
                                   member_of)

    def page(self, list_id: int, after: int, limit: int, with_line_user_id: bool = False) -> list[Recipient]:
        line_ids = {r.id: r.line_user_id for r in self._residents.values()}
        for made, members in self._data.lists.values():
            if made.id == list_id:
                return [Recipient(position, str(resident_id), line_ids[resident_id] if with_line_user_id else None)
                        for position, resident_id in enumerate(members, start=1) if position > after][:limit]
        return []


@dataclass
class InMemorySegmentsData:
    saved: dict[uuid.UUID, SavedSegment] = field(default_factory=dict)
    lists: dict[str, tuple[RecipientList, list[uuid.UUID]]] = field(default_factory=dict)


def _with_single(answers: Answers, dimension: str, key: str | None) -> Answers:
    if dimension == "districts":
        return replace(answers, district=key)
    if dimension == "age_bands":
        return replace(answers, age_band=key)
    return replace(answers, language=key)
