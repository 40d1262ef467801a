"""受信設定の項目の版: what each published taxonomy version changed from the one before. Plain Python.

Staff read a version's changes in their own terms: items added, renamed, merged into another item
(with the answers following), retired, and categories that became (or stopped being) always delivered.
Merges and retirements come from the codes table (where the publisher mapped each removed key); the
rest from comparing the two documents.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from segment_service.domain.codes import CODED_DIMENSIONS


@dataclass(frozen=True)
class VersionChange:
    dimension: str
    key: str
    kind: str  # added | renamed | merged | retired | always_delivered | not_always_delivered
    label: str | None = None  # the label in the new version (the old one for merged and retired)
    previous_label: str | None = None  # renamed: the label before
    into: str | None = None  # merged: the key the answers moved to
    into_label: str | None = None  # … and its label in the new version

    def as_json(self) -> dict[str, Any]:
        return {"dimension": self.dimension, "key": self.key, "kind": self.kind, "label": self.label,
                "previousLabel": self.previous_label, "into": self.into, "intoLabel": self.into_label}


@dataclass(frozen=True)
class VersionSummary:
    version: int
    published_at: datetime
    content_sha256: str
    items: Mapping[str, int]  # dimension -> how many items
    changes: tuple[VersionChange, ...]

    def as_json(self) -> dict[str, Any]:
        return {"version": self.version, "publishedAt": self.published_at.isoformat(),
                "contentSha256": self.content_sha256, "items": dict(self.items),
                "changes": [change.as_json() for change in self.changes]}


def _entries(document: Mapping[str, Any], dimension: str) -> dict[str, Mapping[str, Any]]:
    return {str(entry["key"]): entry for entry in document.get(dimension, []) if isinstance(entry, Mapping)}


def changes_between(before: Mapping[str, Any] | None, after: Mapping[str, Any],
                    merged_into: Mapping[tuple[str, str], str | None]) -> tuple[VersionChange, ...]:
    """What ``after`` changed from ``before`` (None: the first version, where everything is added).
    ``merged_into`` maps (dimension, key) removed in this version to its target (None: retired)."""
    changes: list[VersionChange] = []
    for dimension in CODED_DIMENSIONS:
        old, new = _entries(before or {}, dimension), _entries(after, dimension)
        for key, entry in new.items():
            label = str(entry.get("label", key))
            if key not in old:
                changes.append(VersionChange(dimension, key, "added", label))
                continue
            previous = str(old[key].get("label", key))
            if previous != label:
                changes.append(VersionChange(dimension, key, "renamed", label, previous))
            was, now = bool(old[key].get("always_delivered")), bool(entry.get("always_delivered"))
            if was != now:
                changes.append(VersionChange(dimension, key, "always_delivered" if now else "not_always_delivered",
                                             label))
        for key, entry in old.items():
            if key in new:
                continue
            target = merged_into.get((dimension, key))
            into_label = str(new[target].get("label", target)) if target in new else None
            changes.append(VersionChange(dimension, key, "merged" if target else "retired",
                                         str(entry.get("label", key)), into=target, into_label=into_label))
    return tuple(changes)


def summarise(versions: Sequence[tuple[int, datetime, str, Mapping[str, Any]]],
              removals: Mapping[int, Mapping[tuple[str, str], str | None]]) -> list[VersionSummary]:
    """Every version, newest first. ``versions``: (version, published at, content hash, document), oldest
    first; ``removals``: version -> {(dimension, key): merged into, or None for retired}."""
    summaries = []
    previous: Mapping[str, Any] | None = None
    for version, published_at, content_sha256, document in versions:
        items = {dimension: len(_entries(document, dimension)) for dimension in CODED_DIMENSIONS}
        summaries.append(VersionSummary(version, published_at, content_sha256, items,
                                        changes_between(previous, document, removals.get(version, {}))))
        previous = document
    return list(reversed(summaries))
