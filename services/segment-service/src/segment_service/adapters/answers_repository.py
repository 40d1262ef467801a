"""受信設定 answers: the port and its PostgreSQL adapter (codes, one narrow row per resident, history)."""

from __future__ import annotations

import abc
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert

from segment_service.adapters.orm import preference_changes, resident_answers, residents, taxonomy_codes
from segment_service.domain.analysis import ChoiceTally, TallyRow
from segment_service.domain.codes import TaxonomyCodes
from segment_service.domain.preferences import Answers, ChangeSource, ChildBirth

SINGLE_COLUMNS = {"districts": "district", "age_bands": "age_band", "languages": "language"}


@dataclass(frozen=True)
class ResidentAnswers:
    resident_id: uuid.UUID
    answers: Answers | None  # None: never answered
    taxonomy_version: int | None


@dataclass(frozen=True)
class PreferenceChange:
    resident_id: uuid.UUID
    changed_at: datetime
    source: ChangeSource
    taxonomy_version: int
    before: Answers | None
    after: Answers


class AbstractAnswersRepository(abc.ABC):
    @abc.abstractmethod
    def lock(self, resident_id: uuid.UUID) -> ResidentAnswers | None:
        """The resident's answers, locked for the rest of the transaction; None: no such resident."""

    @abc.abstractmethod
    def store(self, resident_id: uuid.UUID, answers: Answers, taxonomy_version: int, at: datetime) -> None: ...

    @abc.abstractmethod
    def record_change(self, change: PreferenceChange) -> None: ...

    @abc.abstractmethod
    def history(self, resident_id: uuid.UUID) -> list[PreferenceChange]: ...

    @abc.abstractmethod
    def codes(self) -> TaxonomyCodes: ...

    @abc.abstractmethod
    def add_codes(self, new: dict[tuple[str, str], int], version: int) -> None: ...

    @abc.abstractmethod
    def retire_code(self, dimension: str, key: str, merged_into: str | None, version: int) -> None: ...

    @abc.abstractmethod
    def revive_codes(self, keys: list[tuple[str, str]]) -> None:
        """Keys in the taxonomy being published are current again (a retired key that comes back keeps
        its old code)."""

    @abc.abstractmethod
    def count_answering(self, dimension: str, key: str) -> int:
        """Residents whose answers hold ``key`` (whether following or not)."""

    @abc.abstractmethod
    def count_answered(self) -> int: ...

    @abc.abstractmethod
    def remap(self, dimension: str, from_key: str, to_key: str | None) -> int:
        """Move every answer holding ``from_key`` to ``to_key`` (None: drop it); returns how many moved."""

    @abc.abstractmethod
    def add_category_to_answered(self, key: str) -> int:
        """A category became always delivered: every resident who answered now holds it."""

    @abc.abstractmethod
    def removals(self) -> dict[int, dict[tuple[str, str], str | None]]:
        """Keys merged or retired, by the version that did it: {version: {(dimension, key): into or None}}."""

    @abc.abstractmethod
    def tally(self) -> ChoiceTally:
        """友だち分析: friends by district with how many chose each item (domain/analysis.py)."""


def answers_json(answers: Answers | None) -> dict[str, Any] | None:
    return None if answers is None else answers.as_json()


class SqlAnswersRepository(AbstractAnswersRepository):
    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._codes: TaxonomyCodes | None = None

    def codes(self) -> TaxonomyCodes:
        if self._codes is None:
            rows = self._connection.execute(select(taxonomy_codes.c.dimension, taxonomy_codes.c.key,
                                                   taxonomy_codes.c.code))
            self._codes = TaxonomyCodes({(d, k): c for d, k, c in rows})
        return self._codes

    def add_codes(self, new: dict[tuple[str, str], int], version: int) -> None:
        if not new:
            return
        self._connection.execute(taxonomy_codes.insert(), [
            {"dimension": d, "key": k, "code": c, "first_version": version} for (d, k), c in new.items()])
        self._codes = None

    def retire_code(self, dimension: str, key: str, merged_into: str | None, version: int) -> None:
        self._connection.execute(
            taxonomy_codes.update()
            .where(and_(taxonomy_codes.c.dimension == dimension, taxonomy_codes.c.key == key))
            .values(retired_version=version, merged_into=merged_into))

    def revive_codes(self, keys: list[tuple[str, str]]) -> None:
        if keys:
            self._connection.execute(
                taxonomy_codes.update()
                .where(taxonomy_codes.c.retired_version.is_not(None),
                       tuple_(taxonomy_codes.c.dimension, taxonomy_codes.c.key).in_(keys))
                .values(retired_version=None, merged_into=None))

    def lock(self, resident_id: uuid.UUID) -> ResidentAnswers | None:
        # The resident's row first (the order follows and blocks take), then the answers row.
        found = self._connection.execute(
            select(residents.c.id).where(residents.c.id == resident_id).with_for_update()).first()
        if found is None:
            return None
        row = self._connection.execute(
            select(resident_answers).where(resident_answers.c.resident_id == resident_id).with_for_update()).first()
        if row is None or row.answered_at is None:
            return ResidentAnswers(resident_id, None, None)
        return ResidentAnswers(resident_id, self._answers(row), row.taxonomy_version)

    def _answers(self, row: Any) -> Answers:
        codes = self.codes()
        return Answers(
            categories=codes.categories_of(row.categories),
            district=codes.key("districts", row.district) if row.district is not None else None,
            age_band=codes.key("age_bands", row.age_band) if row.age_band is not None else None,
            language=codes.key("languages", row.language) if row.language is not None else None,
            children=tuple(ChildBirth.from_index(m) for m in sorted(row.child_birth_months)),
        )

    def store(self, resident_id: uuid.UUID, answers: Answers, taxonomy_version: int, at: datetime) -> None:
        codes = self.codes()
        values = {
            "categories": codes.category_mask(answers.categories),
            "district": codes.code("districts", answers.district) if answers.district else None,
            "age_band": codes.code("age_bands", answers.age_band) if answers.age_band else None,
            "language": codes.code("languages", answers.language) if answers.language else None,
            "child_birth_months": [child.month_index for child in answers.children],
            "answered_at": at, "taxonomy_version": taxonomy_version, "updated_at": at,
        }
        self._connection.execute(
            insert(resident_answers).values(resident_id=resident_id, **values)
            .on_conflict_do_update(index_elements=[resident_answers.c.resident_id], set_=values))

    def record_change(self, change: PreferenceChange) -> None:
        self._connection.execute(preference_changes.insert().values(
            resident_id=change.resident_id, changed_at=change.changed_at, source=change.source.value,
            taxonomy_version=change.taxonomy_version, before=answers_json(change.before),
            after=answers_json(change.after)))

    def history(self, resident_id: uuid.UUID) -> list[PreferenceChange]:
        rows = self._connection.execute(
            select(preference_changes).where(preference_changes.c.resident_id == resident_id)
            .order_by(preference_changes.c.changed_at, preference_changes.c.id))
        return [PreferenceChange(row.resident_id, row.changed_at, ChangeSource(row.source), row.taxonomy_version,
                                 Answers.from_json(row.before) if row.before is not None else None,
                                 Answers.from_json(row.after)) for row in rows]

    def count_answering(self, dimension: str, key: str) -> int:
        codes = self.codes()
        if (dimension, key) not in codes.by_key:
            return 0
        code = codes.code(dimension, key)
        answered = resident_answers.c.answered_at.is_not(None)
        if dimension == "categories":
            condition = resident_answers.c.categories.op("&")(1 << code) != 0
        else:
            condition = resident_answers.c[SINGLE_COLUMNS[dimension]] == code
        return int(self._connection.execute(
            select(func.count()).select_from(resident_answers).where(answered, condition)).scalar_one())

    def count_answered(self) -> int:
        return int(self._connection.execute(select(func.count()).select_from(resident_answers)
                                            .where(resident_answers.c.answered_at.is_not(None))).scalar_one())

    def remap(self, dimension: str, from_key: str, to_key: str | None) -> int:
        codes = self.codes()
        if (dimension, from_key) not in codes.by_key:
            return 0
        old = codes.code(dimension, from_key)
        new = codes.code(dimension, to_key) if to_key is not None else None
        if dimension == "categories":
            bit = 1 << old
            result = self._connection.execute(
                text("UPDATE segment.resident_answers SET categories = (categories & ~CAST(:bit AS bigint))"
                     " | CAST(:add AS bigint), updated_at = now() WHERE categories & CAST(:bit AS bigint) <> 0"),
                {"bit": bit, "add": (1 << new) if new is not None else 0})
        else:
            column = resident_answers.c[SINGLE_COLUMNS[dimension]]
            result = self._connection.execute(
                resident_answers.update().where(column == old).values({column: new, "updated_at": func.now()}))
        return int(result.rowcount)

    def add_category_to_answered(self, key: str) -> int:
        bit = 1 << self.codes().code("categories", key)
        result = self._connection.execute(
            text("UPDATE segment.resident_answers SET categories = categories | CAST(:bit AS bigint)"
                 " WHERE answered_at IS NOT NULL AND categories & CAST(:bit AS bigint) = 0"), {"bit": bit})
        return int(result.rowcount)

    def removals(self) -> dict[int, dict[tuple[str, str], str | None]]:
        rows = self._connection.execute(
            select(taxonomy_codes.c.retired_version, taxonomy_codes.c.dimension, taxonomy_codes.c.key,
                   taxonomy_codes.c.merged_into).where(taxonomy_codes.c.retired_version.is_not(None)))
        found: dict[int, dict[tuple[str, str], str | None]] = {}
        for version, dimension, key, into in rows:
            found.setdefault(version, {})[(dimension, key)] = into
        return found

    def tally(self) -> ChoiceTally:
        # One pass over the narrow rows: grouped by following and the three single-choice columns (at most
        # a few hundred groups), each category summed from its bit.
        codes = self.codes()
        categories = sorted((c, k) for (d, k), c in codes.by_key.items() if d == "categories")
        a = resident_answers.c
        bits = [func.sum(a.categories.op(">>")(code).op("&")(1)).label(f"c{code}") for code, _ in categories]
        rows = self._connection.execute(
            select(a.following, a.district, a.age_band, a.language, func.count().label("residents"),
                   func.count().filter(a.answered_at.is_not(None)).label("answered"),
                   func.count().filter(func.cardinality(a.child_birth_months) > 0).label("with_children"), *bits)
            .group_by(a.following, a.district, a.age_band, a.language))
        return ChoiceTally.of(
            TallyRow(
                district=codes.key("districts", row.district) if row.district is not None else None,
                age_band=codes.key("age_bands", row.age_band) if row.age_band is not None else None,
                language=codes.key("languages", row.language) if row.language is not None else None,
                residents=row.residents, answered=row.answered, with_children=row.with_children,
                categories={key: int(getattr(row, f"c{code}")) for code, key in categories}, following=row.following,
            ) for row in rows)
