"""友だち分析: how many friends chose each 受信設定 item, by district (地区). Plain Python, no I/O.

Counts are over friends (following residents) only: a blocked resident receives nothing, so what they
once chose says nothing about who a delivery reaches. A district of ``None`` holds the friends who gave
no district (never answered, or answered without one).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

TALLIED = ("categories", "age_bands", "languages")


@dataclass
class DistrictTally:
    """One district's friends: how many, how many answered, how many gave a child, and each item's count."""

    residents: int = 0
    answered: int = 0
    with_children: int = 0
    items: dict[str, dict[str, int]] = field(default_factory=lambda: {dimension: {} for dimension in TALLIED})

    def add(self, residents: int, answered: int, with_children: int, items: Mapping[str, Mapping[str, int]]) -> None:
        self.residents += residents
        self.answered += answered
        self.with_children += with_children
        for dimension, counts in items.items():
            mine = self.items.setdefault(dimension, {})
            for key, count in counts.items():
                if count:
                    mine[key] = mine.get(key, 0) + count

    def as_json(self) -> dict[str, Any]:
        return {"residents": self.residents, "answered": self.answered, "withChildren": self.with_children,
                **{dimension: dict(sorted(counts.items())) for dimension, counts in self.items.items()}}


@dataclass(frozen=True)
class TallyRow:
    """What a storage adapter reads: friends grouped by (district, age band, language) with category sums."""

    district: str | None
    age_band: str | None
    language: str | None
    residents: int
    answered: int
    with_children: int
    categories: Mapping[str, int]
    following: bool = True  # False: blocked residents, counted only as a number (``ChoiceTally.blocked``)


@dataclass(frozen=True)
class ChoiceTally:
    districts: Mapping[str | None, DistrictTally]
    blocked: int = 0  # counted in the same pass, so the page's 友だち数 and ブロック数 are of one moment

    @classmethod
    def of(cls, rows: Iterable[TallyRow]) -> ChoiceTally:
        districts: dict[str | None, DistrictTally] = {}
        blocked = 0
        for row in rows:
            if not row.following:
                blocked += row.residents
                continue
            items = {"categories": dict(row.categories),
                     "age_bands": {row.age_band: row.residents} if row.age_band else {},
                     "languages": {row.language: row.residents} if row.language else {}}
            districts.setdefault(row.district, DistrictTally()).add(row.residents, row.answered, row.with_children,
                                                                    items)
        return cls(districts, blocked)

    def total(self) -> DistrictTally:
        whole = DistrictTally()
        for each in self.districts.values():
            whole.add(each.residents, each.answered, each.with_children, each.items)
        return whole

    def as_json(self) -> dict[str, Any]:
        """``{"total": {…}, "blocked": n, "districts": [{"district": key or null, …}, …]}`` (no district last)."""
        ordered = sorted(self.districts.items(), key=lambda item: (item[0] is None, item[0] or ""))
        return {"total": self.total().as_json(), "blocked": self.blocked,
                "districts": [{"district": key, **tally.as_json()} for key, tally in ordered]}
