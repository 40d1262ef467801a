"""Stable small integer codes for taxonomy keys: what storage and segment queries use.

Every (dimension, key) gets a code the first time a taxonomy naming it is published, and keeps it
for ever; a retired or merged key's code is never given to another key, so a stored answer can
never change meaning. Category codes are bit positions in one ``bigint`` (0-62), so at most 63
categories can ever exist; the other dimensions use ``smallint`` codes from 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CATEGORY_BITS = 63
CODED_DIMENSIONS = ("categories", "districts", "age_bands", "languages")


class CodesExhausted(ValueError):
    pass


@dataclass
class TaxonomyCodes:
    by_key: dict[tuple[str, str], int] = field(default_factory=dict)

    def code(self, dimension: str, key: str) -> int:
        return self.by_key[(dimension, key)]

    def key(self, dimension: str, code: int) -> str | None:
        return next((k for (d, k), c in self.by_key.items() if d == dimension and c == code), None)

    def category_mask(self, keys: frozenset[str] | set[str] | list[str] | tuple[str, ...]) -> int:
        mask = 0
        for key in keys:
            mask |= 1 << self.code("categories", key)
        return mask

    def categories_of(self, mask: int) -> frozenset[str]:
        return frozenset(k for (d, k), c in self.by_key.items() if d == "categories" and mask >> c & 1)

    def missing(self, wanted: dict[str, tuple[str, ...]]) -> dict[tuple[str, str], int]:
        """Codes to give to the keys of ``wanted`` (dimension -> keys) that have none yet."""
        new: dict[tuple[str, str], int] = {}
        for dimension, keys in wanted.items():
            used = [c for (d, _k), c in self.by_key.items() if d == dimension]
            next_code = (max(used) + 1) if used else (0 if dimension == "categories" else 1)
            for key in keys:
                if (dimension, key) in self.by_key:
                    continue
                if dimension == "categories" and next_code >= CATEGORY_BITS:
                    raise CodesExhausted("categories: 63 category codes have been used; widening the mask "
                                         "needs a migration")
                new[(dimension, key)] = next_code
                next_code += 1
        return new
