"""受信設定の項目: the staff's editor of the 受信設定 taxonomy, as a form. Plain Python, no I/O.

segment-service keeps the taxonomy (versions, codes, the answers that follow a merge); this module
turns the current document into rows staff can edit and a submitted form back into the document and
the mappings segment-service publishes (``segment_service.service_layer.taxonomy_changes``):

* keep an item (its label may change: a rename moves nobody);
* merge it into another item of the same kind (the answers follow), or retire it (answers lose it);
* add one new item per kind at a time (its key is permanent: a-z, 0-9, ``_`` and ``-``);
* make a category always delivered (防災: sent whatever residents chose), or stop that.

Every form field is named after the item's permanent key, so a change to one row never touches
another. Problems come back as Japanese message ids (the page translates them).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from admin_ui.domain.dashboard import whole_count

DIMENSIONS = ("categories", "districts", "age_bands", "languages")
DIMENSION_LABELS = {"categories": "受け取る情報", "districts": "地区（小学校区）", "age_bands": "年代",
                    "languages": "言語"}
ACTIONS = ("keep", "merge", "retire")
KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
LABEL_MAX = 40


class ItemsFormError(ValueError):
    def __init__(self, problems: list[tuple[str, dict[str, str]]]) -> None:
        """``problems``: (Japanese message id, its arguments)."""
        super().__init__("; ".join(message % arguments for message, arguments in problems))
        self.problems = problems


@dataclass(frozen=True)
class ItemRow:
    dimension: str
    key: str
    label: str
    always_delivered: bool = False
    action: str = "keep"  # keep | merge | retire
    into: str | None = None  # merge: the item that takes its answers
    new: bool = False


@dataclass(frozen=True)
class ItemsDraft:
    """The current taxonomy (``base``: its document) with the staff's changes."""

    version: int
    base: Mapping[str, Any]
    rows: tuple[ItemRow, ...]

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> ItemsDraft:
        """segment-service's ``GET /internal/taxonomy`` answer, nothing changed yet."""
        document = body["taxonomy"]
        rows = tuple(ItemRow(dimension, str(entry["key"]), str(entry.get("label", entry["key"])),
                             bool(entry.get("always_delivered")))
                     for dimension in DIMENSIONS for entry in document.get(dimension, []))
        return cls(int(body["version"]), document, rows)

    def current(self, dimension: str) -> list[ItemRow]:
        return [row for row in self.rows if row.dimension == dimension and not row.new]

    def label(self, dimension: str, key: str | None) -> str:
        """An item's label as the draft has it (the key itself when unknown)."""
        return next((row.label for row in self.rows if row.dimension == dimension and row.key == key), key or "")

    def added(self, dimension: str) -> ItemRow | None:
        return next((row for row in self.rows if row.dimension == dimension and row.new), None)

    def with_form(self, form: Any) -> ItemsDraft:
        """The draft as submitted (``form``: ``get``/``getlist`` like Flask's ``request.form``); raises
        :class:`ItemsFormError` listing every problem."""
        problems: list[tuple[str, dict[str, str]]] = []
        rows = [self._edited(row, form, problems) for row in self.rows if not row.new]
        for dimension in DIMENSIONS:
            added = _added(dimension, form, rows, problems)
            if added is not None:
                rows.append(added)
        kept = {(row.dimension, row.key) for row in rows if row.action == "keep"}
        for row in rows:
            if row.action == "merge" and row.into is not None and (row.dimension, row.into) not in kept:
                problems.append(("「%(label)s」の統合先は、残す項目から選んでください。", {"label": row.label}))
        if not any(r.dimension == "categories" and r.action == "keep" for r in rows):
            problems.append(("受け取る情報は1つ以上残してください。", {}))
        if problems:
            raise ItemsFormError(problems)
        return ItemsDraft(self.version, self.base, tuple(rows))

    @staticmethod
    def _edited(row: ItemRow, form: Any, problems: list[tuple[str, dict[str, str]]]) -> ItemRow:
        field = f"item-{row.dimension}-{row.key}"
        label = str(form.get(f"{field}-label", row.label)).strip()
        action = str(form.get(f"{field}-action", "keep"))
        into = str(form.get(f"{field}-into", "")).strip() or None
        if action not in ACTIONS:
            action = "keep"
        if action == "keep" and not 1 <= len(label) <= LABEL_MAX:
            problems.append(("「%(key)s」の表示名は1〜40文字で入力してください。", {"key": row.key}))
        if action == "merge" and into is None:
            problems.append(("「%(label)s」の統合先を選んでください。", {"label": row.label}))
        always = row.dimension == "categories" and form.get(f"{field}-always") == "on"
        return ItemRow(row.dimension, row.key, label if action == "keep" else row.label, always, action,
                       into if action == "merge" else None)

    def document(self) -> dict[str, Any]:
        """The taxonomy document to publish: the base's other sections, the kept and added items."""
        document = {name: value for name, value in self.base.items() if name not in DIMENSIONS}
        for dimension in DIMENSIONS:
            document[dimension] = [
                {"key": row.key, "label": row.label, **({"always_delivered": True} if row.always_delivered else {})}
                for row in self.rows if row.dimension == dimension and row.action == "keep"]
        return document

    def mappings(self) -> dict[str, dict[str, str | None]]:
        """Merged and retired keys: ``{"categories": {"gomi": "kankyo", "old": None}}``."""
        found: dict[str, dict[str, str | None]] = {}
        for row in self.rows:
            if row.action in ("merge", "retire"):
                found.setdefault(row.dimension, {})[row.key] = row.into if row.action == "merge" else None
        return found

    def fingerprint(self) -> str:
        """Names exactly this draft: publishing checks the staff saw the preview of what is published."""
        canonical = json.dumps([self.version, self.document(), self.mappings()], ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def changed(self) -> bool:
        return self.document() != {name: value for name, value in self.base.items()} or bool(self.mappings())


@dataclass(frozen=True)
class PlannedChange:
    """One line of segment-service's preview: what publishing would do to residents' answers."""

    dimension: str
    key: str
    kind: str  # merge | retire | always_delivered
    into: str | None
    residents: int


@dataclass(frozen=True)
class ItemsPreview:
    changes: tuple[PlannedChange, ...]
    added: tuple[tuple[str, str], ...]
    problems: tuple[str, ...]

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> ItemsPreview:
        """segment-service's ``POST /internal/taxonomy/preview`` answer; raises on anything malformed."""
        changes = tuple(PlannedChange(str(c["dimension"]), str(c["key"]), str(c["kind"]),
                                      None if c.get("to") is None else str(c["to"]), whole_count(c["residents"]))
                        for c in body["changes"])
        added = tuple((str(a["dimension"]), str(a["key"])) for a in body["added"])
        return cls(changes, added, tuple(str(p) for p in body["problems"]))


@dataclass(frozen=True)
class VersionChange:
    dimension: str
    key: str
    kind: str  # added | renamed | merged | retired | always_delivered | not_always_delivered
    label: str | None
    previous_label: str | None
    into: str | None
    into_label: str | None = None


@dataclass(frozen=True)
class ItemsVersion:
    version: int
    published_at: datetime
    items: Mapping[str, int]
    changes: tuple[VersionChange, ...]

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> ItemsVersion:
        return cls(int(body["version"]), datetime.fromisoformat(str(body["publishedAt"])),
                   {str(k): whole_count(v) for k, v in body["items"].items()},
                   tuple(VersionChange(str(c["dimension"]), str(c["key"]), str(c["kind"]), c.get("label"),
                                       c.get("previousLabel"), c.get("into"), c.get("intoLabel"))
                         for c in body["changes"]))


def _added(dimension: str, form: Any, rows: list[ItemRow],
           problems: list[tuple[str, dict[str, str]]]) -> ItemRow | None:
    """The new item of ``dimension`` the form adds, if any."""
    key = str(form.get(f"new-{dimension}-key", "")).strip()
    label = str(form.get(f"new-{dimension}-label", "")).strip()
    if not key and not label:
        return None
    if not KEY.match(key):
        problems.append(("新しい項目のキーは半角の英小文字・数字・「_」「-」で40文字以内にしてください"
                         "（例: kosodate）。", {}))
    elif any(r.dimension == dimension and r.key == key for r in rows):
        problems.append(("キー「%(key)s」はすでに使われています。", {"key": key}))
    if not 1 <= len(label) <= LABEL_MAX:
        problems.append(("新しい項目の表示名は1〜40文字で入力してください。", {}))
    always = dimension == "categories" and form.get(f"new-{dimension}-always") == "on"
    return ItemRow(dimension, key, label, always, new=True)

