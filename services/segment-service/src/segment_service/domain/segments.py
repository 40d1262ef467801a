"""Segments: who a delivery is for, as a boolean expression over 受信設定 answers and resident facts.

The expression is JSON (what admin-ui's builder sends and what is saved)::

    {"and": [{"category": ["kosodate"]},
             {"district": ["minami", "inano"]},
             {"child_age": {"between": [3, 5]}}]}

* ``and`` / ``or``: a list of expressions; ``not``: one expression;
* ``category``, ``district``, ``age_band``, ``language``: a list of keys of the current taxonomy
  (true when the resident's answer is, or for categories holds, one of them);
* ``child_age``: ``{"between": [a, b]}`` whole years, on the day the segment is evaluated, of any
  of the resident's children (born on the 1st of their birth month; an expected child is not 0);
* ``followed_within_days``: N — became a friend in the last N days;
* ``answered``: true / false — has given 受信設定 answers at all.

Only residents who follow the account are ever members. Residents who never answered match no
answer condition; whether a delivery adds them anyway is the caller's choice
(:class:`Unanswered`): by default (``auto``) only when the expression names an always-delivered
category (防災), the count of unanswered residents being reported separately either way.

:func:`evaluate` is the brute-force meaning (the property test holds the SQL compiler in
adapters/segment_sql.py to it).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from segment_service.domain.preferences import Answers, age_in_years
from segment_service.domain.taxonomy import Taxonomy

MAX_DEPTH = 8
MAX_NODES = 100
MAX_AGE = 30
MAX_FOLLOWED_DAYS = 3650
KEY_CONDITIONS = {"category": "categories", "district": "districts", "age_band": "age_bands", "language": "languages"}


class InvalidSegment(ValueError):
    """The expression cannot be used; the message names every problem with its place."""


class Unanswered(StrEnum):
    AUTO = "auto"        # include residents who never answered only for an always-delivered category
    INCLUDE = "include"
    EXCLUDE = "exclude"


@dataclass(frozen=True)
class And:
    parts: tuple[Expression, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Expression, ...]


@dataclass(frozen=True)
class Not:
    part: Expression


@dataclass(frozen=True)
class InKeys:
    dimension: str  # categories | districts | age_bands | languages
    keys: frozenset[str]


@dataclass(frozen=True)
class ChildAge:
    low: int
    high: int


@dataclass(frozen=True)
class FollowedWithin:
    days: int


@dataclass(frozen=True)
class Answered:
    value: bool


Expression = And | Or | Not | InKeys | ChildAge | FollowedWithin | Answered


@dataclass(frozen=True)
class ResidentFacts:
    """What a segment may ask about one resident."""

    resident_id: uuid.UUID
    following: bool
    followed_at: datetime | None
    answers: Answers | None


def parse_expression(raw: Any, taxonomy: Taxonomy) -> Expression:
    problems: list[str] = []
    counter = [0]
    expression = _parse(raw, taxonomy, "segment", 1, problems, counter)
    if counter[0] > MAX_NODES:
        problems.append(f"segment: at most {MAX_NODES} conditions")
    if problems:
        raise InvalidSegment("; ".join(problems))
    return expression


def _parse(raw: Any, taxonomy: Taxonomy, where: str, depth: int, problems: list[str],  # noqa: PLR0911, PLR0917
           counter: list[int]) -> Expression:
    counter[0] += 1
    if depth > MAX_DEPTH:
        problems.append(f"{where}: nested deeper than {MAX_DEPTH}")
        return Answered(True)
    if not isinstance(raw, dict) or len(raw) != 1:
        problems.append(f"{where}: one of and, or, not, category, district, age_band, language, child_age, "
                        "followed_within_days, answered")
        return Answered(True)
    [(name, value)] = raw.items()
    here = f"{where}.{name}"
    if name in {"and", "or"}:
        if not isinstance(value, list) or not value:
            problems.append(f"{here}: a non-empty list of conditions")
            return Answered(True)
        parts = tuple(_parse(part, taxonomy, f"{here}[{i}]", depth + 1, problems, counter)
                      for i, part in enumerate(value))
        return And(parts) if name == "and" else Or(parts)
    if name == "not":
        return Not(_parse(value, taxonomy, here, depth + 1, problems, counter))
    if name in KEY_CONDITIONS:
        return _keys(name, value, taxonomy, here, problems)
    if name == "child_age":
        between = value.get("between") if isinstance(value, dict) else None
        if (not isinstance(between, list) or len(between) != 2 or not all(_whole(v) for v in between)
                or not 0 <= between[0] <= between[1] <= MAX_AGE):
            problems.append(f"{here}: {{\"between\": [a, b]}} with whole years 0 <= a <= b <= {MAX_AGE}")
            return Answered(True)
        return ChildAge(between[0], between[1])
    if name == "followed_within_days":
        if not _whole(value) or not 1 <= value <= MAX_FOLLOWED_DAYS:
            problems.append(f"{here}: a whole number of days from 1 to {MAX_FOLLOWED_DAYS}")
            return Answered(True)
        return FollowedWithin(value)
    if name == "answered":
        if not isinstance(value, bool):
            problems.append(f"{here}: true or false")
            return Answered(True)
        return Answered(value)
    problems.append(f"{where}: unknown condition {name!r}")
    return Answered(True)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _keys(name: str, value: Any, taxonomy: Taxonomy, where: str, problems: list[str]) -> Expression:
    dimension = KEY_CONDITIONS[name]
    if not isinstance(value, list) or not value or not all(isinstance(key, str) for key in value):
        problems.append(f"{where}: a non-empty list of keys")
        return Answered(True)
    known = taxonomy.keys(dimension)
    unknown = [key for key in value if key not in known]
    if unknown:
        problems.append(f"{where}: unknown {dimension} {', '.join(map(repr, unknown))} "
                        f"(known: {', '.join(known) or 'none'})")
    return InKeys(dimension, frozenset(value))


def to_json(expression: Expression) -> dict[str, Any]:  # noqa: PLR0911
    match expression:
        case And(parts):
            return {"and": [to_json(part) for part in parts]}
        case Or(parts):
            return {"or": [to_json(part) for part in parts]}
        case Not(part):
            return {"not": to_json(part)}
        case InKeys(dimension, keys):
            name = next(n for n, d in KEY_CONDITIONS.items() if d == dimension)
            return {name: sorted(keys)}
        case ChildAge(low, high):
            return {"child_age": {"between": [low, high]}}
        case FollowedWithin(days):
            return {"followed_within_days": days}
        case Answered(value):
            return {"answered": value}


def conditions(expression: Expression) -> int:
    """How many leaf conditions the expression has."""
    match expression:
        case And(parts) | Or(parts):
            return sum(conditions(part) for part in parts)
        case Not(part):
            return conditions(part)
        case _:
            return 1


def names_always_delivered(expression: Expression, taxonomy: Taxonomy) -> bool:
    """Whether a category condition (not under ``not``) names an always-delivered category."""
    match expression:
        case And(parts) | Or(parts):
            return any(names_always_delivered(part, taxonomy) for part in parts)
        case InKeys("categories", keys):
            return bool(keys & taxonomy.always_delivered())
        case _:
            return False


def include_unanswered(choice: Unanswered, expression: Expression, taxonomy: Taxonomy) -> bool:
    if choice is Unanswered.AUTO:
        return names_always_delivered(expression, taxonomy)
    return choice is Unanswered.INCLUDE


def evaluate(expression: Expression, facts: ResidentFacts, at: datetime, today: date) -> bool:  # noqa: PLR0911
    """Whether the expression holds for the resident at ``at`` (the city's ``today`` for ages)."""
    answers = facts.answers
    match expression:
        case And(parts):
            return all(evaluate(part, facts, at, today) for part in parts)
        case Or(parts):
            return any(evaluate(part, facts, at, today) for part in parts)
        case Not(part):
            return not evaluate(part, facts, at, today)
        case InKeys(dimension, keys):
            return answers is not None and bool(_answer_keys(answers, dimension) & keys)
        case ChildAge(low, high):
            return answers is not None and any(
                low <= age_in_years(child.month_index, today) <= high for child in answers.children)
        case FollowedWithin(days):
            return facts.followed_at is not None and facts.followed_at >= at - timedelta(days=days)
        case Answered(value):
            return (answers is not None) == value


def is_member(expression: Expression, facts: ResidentFacts, *, at: datetime, today: date,
              with_unanswered: bool) -> bool:
    if not facts.following:
        return False
    return evaluate(expression, facts, at, today) or (with_unanswered and facts.answers is None)


def _answer_keys(answers: Answers, dimension: str) -> frozenset[str]:
    if dimension == "categories":
        return answers.categories
    value = {"districts": answers.district, "age_bands": answers.age_band, "languages": answers.language}[dimension]
    return frozenset({value}) if value is not None else frozenset()


@dataclass(frozen=True)
class SegmentCount:
    matching: int        # following residents the expression holds for
    unanswered: int      # following residents who never answered (whatever the expression)
    recipients: int      # what a delivery would reach with the chosen inclusion of the unanswered
    unanswered_included: bool

    def as_json(self) -> dict[str, Any]:
        return {"matching": self.matching, "unanswered": self.unanswered, "recipients": self.recipients,
                "unansweredIncluded": self.unanswered_included}
