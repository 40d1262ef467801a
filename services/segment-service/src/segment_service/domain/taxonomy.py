"""The preference taxonomy (受信設定の選択肢): categories, districts, age bands, languages.

A municipality describes its own taxonomy in a document (YAML in deploy/); this module validates
it. Published taxonomies are versioned: residents' answers and segments name the version they
were made against, so renaming a label never silently changes who receives what.

Taxonomy v2: children are no longer fixed buckets (``child_stages``: 0〜2歳, 3〜5歳 …, which went
stale as children grew) but birth year-months stored with each resident's answers
(domain/preferences.py), so "children aged 3-5" is computed on the day a segment is resolved.
Documents published before still carry ``child_stages``: they parse (the section is accepted and
dropped), so history stays readable and re-publishing such a document converts it. The optional
``children`` section only tunes the question (how many children a resident may give).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
MAX_LABEL = 40
DIMENSIONS = ("categories", "districts", "age_bands", "languages")
LEGACY_SECTIONS = ("child_stages",)  # taxonomy v1: accepted and dropped (see the module docstring)
MAX_CHILDREN = 10


class InvalidTaxonomy(ValueError):
    """The document cannot be published; the message lists every problem found."""


@dataclass(frozen=True)
class Choice:
    key: str
    label: str
    always_delivered: bool = False  # e.g. 防災: delivered whatever the resident chose


@dataclass(frozen=True)
class Taxonomy:
    municipality_code: str
    municipality_name: str
    dimensions: dict[str, tuple[Choice, ...]]
    max_children: int = 6

    def keys(self, dimension: str) -> tuple[str, ...]:
        return tuple(choice.key for choice in self.dimensions.get(dimension, ()))

    def always_delivered(self) -> frozenset[str]:
        return frozenset(choice.key for choice in self.dimensions["categories"] if choice.always_delivered)

    def label(self, dimension: str, key: str) -> str | None:
        return next((c.label for c in self.dimensions.get(dimension, ()) if c.key == key), None)

    def document(self) -> dict[str, Any]:
        """Canonical JSON form (what is stored and hashed)."""
        return {
            "municipality": {"code": self.municipality_code, "name": self.municipality_name},
            **{
                name: [
                    {"key": c.key, "label": c.label, **({"always_delivered": True} if c.always_delivered else {})}
                    for c in choices
                ]
                for name, choices in self.dimensions.items()
            },
            "children": {"max": self.max_children},
        }

    def content_hash(self) -> str:
        canonical = json.dumps(self.document(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def parse_taxonomy(raw: Any) -> Taxonomy:
    if not isinstance(raw, dict):
        raise InvalidTaxonomy("the taxonomy must be a mapping with municipality and categories")
    problems: list[str] = []
    code, name = _municipality(raw.get("municipality"), problems)
    unknown = set(raw) - {"municipality", *DIMENSIONS, *LEGACY_SECTIONS, "children", "name_en"}
    if unknown:
        problems.append(f"unknown sections: {', '.join(sorted(unknown))}")
    dimensions = {dimension: _choices(dimension, raw.get(dimension, []), problems) for dimension in DIMENSIONS}
    if not dimensions["categories"]:
        problems.append("categories: at least one category is required")
    max_children = _children(raw.get("children"), problems)
    if problems:
        raise InvalidTaxonomy("; ".join(problems))
    return Taxonomy(code, name, dimensions, max_children)


def _children(raw: Any, problems: list[str]) -> int:
    if raw is None:
        return 6
    value = raw.get("max") if isinstance(raw, dict) else None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_CHILDREN:
        problems.append(f"children.max: a whole number from 0 to {MAX_CHILDREN}")
        return 6
    return value


def _municipality(raw: Any, problems: list[str]) -> tuple[str, str]:
    if not isinstance(raw, dict):
        problems.append("municipality: required, with code and name")
        return "", ""
    code, name = str(raw.get("code", "")), str(raw.get("name", ""))
    if not re.fullmatch(r"\d{6}", code):
        problems.append("municipality.code: the 6-digit 全国地方公共団体コード")
    if not name.strip():
        problems.append("municipality.name: required")
    return code, name


def _choices(dimension: str, entries: Any, problems: list[str]) -> tuple[Choice, ...]:
    if not isinstance(entries, list):
        problems.append(f"{dimension}: must be a list")
        return ()
    choices: list[Choice] = []
    seen: set[str] = set()
    for position, entry in enumerate(entries):
        where = f"{dimension}[{position}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be a mapping with key and label")
            continue
        key, label = str(entry.get("key", "")), str(entry.get("label", "")).strip()
        always = entry.get("always_delivered", False)
        if not _KEY.match(key):
            problems.append(f"{where}.key: 1-40 of a-z 0-9 _ - (got {key!r})")
        elif key in seen:
            problems.append(f"{where}.key: {key!r} is used twice")
        seen.add(key)
        if not label or len(label) > MAX_LABEL:
            problems.append(f"{where}.label: 1-{MAX_LABEL} characters")
        if not isinstance(always, bool):
            problems.append(f"{where}.always_delivered: true or false")
        elif always and dimension != "categories":
            problems.append(f"{where}.always_delivered: only categories can be always delivered")
        choices.append(Choice(key, label, always is True))
    return tuple(choices)
