"""受信設定: what a resident chose to receive. Plain Python, no I/O.

:class:`Answers` names choices by their taxonomy keys (``kosodate``, ``minami``); storage turns them
into small integer codes (adapters/answers_repository.py). Answers are validated against the
taxonomy current when they are given; always-delivered categories (防災) are part of every resident's
answers whatever they picked, so a segment on 防災 reaches everyone who answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from segment_service.domain.taxonomy import Taxonomy

EXPECTED_MONTHS_AHEAD = 10  # a child may be given before birth (妊娠中): up to 10 months ahead
OLDEST_CHILD_YEARS = 30


class InvalidAnswers(ValueError):
    """The answers do not fit the current taxonomy; the message names every problem."""


class ChangeSource(StrEnum):
    CHAT = "chat"      # quick replies in the LINE chat
    LIFF = "liff"      # the LIFF page
    IMPORT = "import"  # carried over from an earlier system
    STAFF = "staff"    # a staff correction (on the resident's request)


@dataclass(frozen=True, order=True)
class ChildBirth:
    """A child's birth year and month (or expected month). Age in whole years at a date counts the
    child as born on the 1st of the month."""

    year: int
    month: int

    @property
    def month_index(self) -> int:
        """year * 12 + month - 1: what storage keeps (``child_birth_months``)."""
        return self.year * 12 + self.month - 1

    @classmethod
    def from_index(cls, index: int) -> ChildBirth:
        return cls(index // 12, index % 12 + 1)

    @classmethod
    def parse(cls, text: str) -> ChildBirth:
        """``"2021-04"``."""
        year, _, month = text.partition("-")
        if not (year.isdigit() and month.isdigit() and len(year) == 4 and 1 <= len(month) <= 2):
            raise InvalidAnswers(f"children: {text!r} is not a year-month like 2021-04")
        return cls(int(year), int(month))

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def month_index_of(day: date) -> int:
    return day.year * 12 + day.month - 1


def age_in_years(birth_month_index: int, on: date) -> int:
    """Whole years at ``on`` (negative before birth)."""
    return (month_index_of(on) - birth_month_index) // 12


@dataclass(frozen=True)
class Answers:
    """One resident's 受信設定. ``None``: not answered (no district given, say)."""

    categories: frozenset[str] = field(default_factory=frozenset)
    district: str | None = None
    age_band: str | None = None
    language: str | None = None
    children: tuple[ChildBirth, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "categories": sorted(self.categories), "district": self.district, "ageBand": self.age_band,
            "language": self.language, "children": [str(child) for child in self.children],
        }

    @classmethod
    def from_json(cls, raw: Any) -> Answers:
        """From the JSON form of :meth:`as_json` (the LIFF API's body, the history). Shape only;
        :func:`validate_answers` checks the keys."""
        if not isinstance(raw, dict):
            raise InvalidAnswers("answers must be an object with categories, district, ageBand, language, children")
        problems: list[str] = []
        categories = raw.get("categories", [])
        if not isinstance(categories, list) or not all(isinstance(key, str) for key in categories):
            problems.append("categories: a list of keys")
            categories = []
        singles: dict[str, str | None] = {}
        for name in ("district", "ageBand", "language"):
            value = raw.get(name)
            if value is not None and not isinstance(value, str):
                problems.append(f"{name}: a key or null")
                value = None
            singles[name] = value
        children_raw = raw.get("children", [])
        children: list[ChildBirth] = []
        if not isinstance(children_raw, list):
            problems.append("children: a list of year-months like 2021-04")
        else:
            for each in children_raw:
                try:
                    children.append(ChildBirth.parse(str(each)))
                except InvalidAnswers as exc:
                    problems.append(str(exc))
        if problems:
            raise InvalidAnswers("; ".join(problems))
        return cls(frozenset(categories), singles["district"], singles["ageBand"], singles["language"],
                   tuple(sorted(children)))


def validate_answers(answers: Answers, taxonomy: Taxonomy, today: date) -> Answers:
    """The answers as stored: keys checked against ``taxonomy``, always-delivered categories added,
    children sorted. Raises :class:`InvalidAnswers` listing every unknown key at once."""
    problems: list[str] = []
    unknown = sorted(answers.categories - set(taxonomy.keys("categories")))
    if unknown:
        known = ", ".join(taxonomy.keys("categories"))
        problems.append(f"categories: unknown keys {', '.join(unknown)} (known: {known})")
    for dimension, value in (("districts", answers.district), ("age_bands", answers.age_band),
                             ("languages", answers.language)):
        if value is not None and value not in taxonomy.keys(dimension):
            known = ", ".join(taxonomy.keys(dimension)) or "none"
            problems.append(f"{dimension}: unknown key {value} (known: {known})")
    if len(answers.children) > taxonomy.max_children:
        problems.append(f"children: at most {taxonomy.max_children}")
    now = month_index_of(today)
    for child in answers.children:
        if not 1 <= child.month <= 12:
            problems.append(f"children: {child.year}-{child.month}: the month is 1 to 12")
        elif child.month_index > now + EXPECTED_MONTHS_AHEAD:
            problems.append(f"children: {child} is more than {EXPECTED_MONTHS_AHEAD} months ahead")
        elif child.month_index < now - OLDEST_CHILD_YEARS * 12:
            problems.append(f"children: {child} is more than {OLDEST_CHILD_YEARS} years ago")
    if problems:
        raise InvalidAnswers("; ".join(problems))
    return Answers(answers.categories | taxonomy.always_delivered(), answers.district, answers.age_band,
                   answers.language, tuple(sorted(answers.children)))
