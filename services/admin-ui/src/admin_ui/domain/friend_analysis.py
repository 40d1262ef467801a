"""友だち分析: friends, blocks, growth, and how many chose each 受信設定 item, by district. Plain Python.

segment-service counts (``GET /internal/residents/choices``: friends grouped by district, at most a
minute old); this module puts its answer beside the current taxonomy's labels, so the page reads in
the city's words and lists every item, chosen or not (a 0 that is a fact is shown as 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from admin_ui.domain.dashboard import FriendFigures, whole_count

ANALYSIS_DAYS = 90
TALLIED = ("categories", "age_bands", "languages")
NO_DISTRICT = ""  # the query string's value for friends who gave no district


@dataclass(frozen=True)
class DistrictFigures:
    key: str | None  # None: friends who gave no district (or never answered)
    residents: int
    answered: int
    with_children: int
    items: Mapping[str, Mapping[str, int]]  # dimension -> key -> friends who chose it

    def count(self, dimension: str, key: str) -> int:
        return self.items.get(dimension, {}).get(key, 0)

    def share(self, count: int) -> str:
        """``count`` as a share of those who answered ("12.5%"), or "—" when nobody answered."""
        return f"{count * 100 / self.answered:.1f}%" if self.answered else "—"


@dataclass(frozen=True)
class FriendAnalysis:
    counted_at: datetime
    total: DistrictFigures
    districts: tuple[DistrictFigures, ...]
    labels: Mapping[str, tuple[tuple[str, str], ...]]  # dimension -> (key, label), the taxonomy's order
    growth: FriendFigures | None
    blocked: int = 0

    def district_label(self, key: str | None) -> str:
        if key is None:
            return "地区の回答なし"
        return dict(self.labels.get("districts", ())).get(key, key)

    def district(self, key: str | None) -> DistrictFigures | None:
        return next((each for each in self.districts if each.key == key), None)

    def ordered_districts(self) -> list[DistrictFigures]:
        """The taxonomy's order (every district, including those with no friends yet), no district last."""
        found = {each.key: each for each in self.districts}
        ordered = [found.get(key) or DistrictFigures(key, 0, 0, 0, {}) for key, _ in self.labels.get("districts", ())]
        ordered += [each for each in self.districts
                    if each.key is not None and each.key not in dict(self.labels.get("districts", ()))]
        if None in found:
            ordered.append(found[None])
        return ordered



def _district(body: Mapping[str, Any], key: str | None) -> DistrictFigures:
    items = {dimension: {str(k): whole_count(v) for k, v in body.get(dimension, {}).items()} for dimension in TALLIED}
    return DistrictFigures(key, whole_count(body["residents"]), whole_count(body["answered"]),
                           whole_count(body["withChildren"]), items)


def parse_analysis(choices: Mapping[str, Any], taxonomy: Mapping[str, Any] | None,
                   growth: FriendFigures | None) -> FriendAnalysis:
    """segment-service's answers as the page's figures; raises on anything malformed."""
    document = taxonomy["taxonomy"] if taxonomy else {}
    labels = {dimension: tuple((str(e["key"]), str(e.get("label", e["key"]))) for e in document.get(dimension, []))
              for dimension in (*TALLIED, "districts")}
    districts = tuple(_district(each, None if each["district"] is None else str(each["district"]))
                      for each in choices["districts"])
    return FriendAnalysis(datetime.fromisoformat(str(choices["countedAt"])), _district(choices["total"], None),
                          districts, labels, growth, whole_count(choices.get("blocked", 0)))
