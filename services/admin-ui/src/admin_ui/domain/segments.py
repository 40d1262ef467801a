"""セグメント: the builder's form and the expression segment-service understands. Plain Python, no I/O.

The form has one group per kind of condition (categories, districts, age bands, languages, children's
ages, followed within N days); the groups are combined with すべて満たす (``and``) or いずれか
(``or``), and each group may be turned into its opposite (``not``). :meth:`SegmentForm.expression`
builds segment-service's JSON (``segment_service.domain.segments``); :meth:`SegmentForm.from_expression`
reads back what the builder saved (anything else is refused: it was not made here).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

KEY_GROUPS = ("category", "district", "age_band", "language")  # the expression's names, and the form's
GROUPS = (*KEY_GROUPS, "child_age", "followed_within_days")
UNANSWERED = ("auto", "include", "exclude")
MAX_AGE = 30
MAX_FOLLOWED_DAYS = 3650
NAME_MAX = 100


class SegmentFormError(ValueError):
    """What is wrong with the form (Japanese message ids; the page translates them)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


class SegmentRefused(Exception):
    """segment-service refused (or did not answer) a change; ``reason`` is its explanation, if any."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class SegmentForm:
    name: str = ""
    department: str = ""
    keys: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # group → chosen keys
    child_from: int | None = None
    child_to: int | None = None
    followed_days: int | None = None
    combine: str = "and"
    negated: frozenset[str] = frozenset()
    unanswered: str = "auto"

    @classmethod
    def from_form(cls, form: Any) -> SegmentForm:
        """From a submitted form (``getlist`` / ``get``, as Flask's ``request.form``); raises
        :class:`SegmentFormError` for numbers that are not numbers."""
        problems: list[str] = []

        def number(name: str, low: int, high: int, problem: str) -> int | None:
            raw = str(form.get(name, "")).strip()
            if not raw:
                return None
            if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
                problems.append(problem)
                return None
            return int(raw)

        child_from = number("child_from", 0, MAX_AGE, "子どもの年齢は 0〜30 の整数で入力してください。")
        child_to = number("child_to", 0, MAX_AGE, "子どもの年齢は 0〜30 の整数で入力してください。")
        followed = number("followed_days", 1, MAX_FOLLOWED_DAYS,
                          "友だち追加からの日数は 1〜3650 の整数で入力してください。")
        if (child_from is None) != (child_to is None):
            problems.append("子どもの年齢は「から」と「まで」の両方を入力してください。")
        elif child_from is not None and child_to is not None and child_from > child_to:
            problems.append("子どもの年齢の「から」が「まで」より大きくなっています。")
        if problems:
            raise SegmentFormError(problems)
        combine = str(form.get("combine", "and"))
        unanswered = str(form.get("unanswered", "auto"))
        return cls(
            name=str(form.get("name", "")).strip()[:NAME_MAX],
            department=str(form.get("department", ""))[:64],
            keys={group: tuple(str(v)[:64] for v in form.getlist(group))[:100] for group in KEY_GROUPS},
            child_from=child_from, child_to=child_to, followed_days=followed,
            combine=combine if combine in ("and", "or") else "and",
            negated=frozenset(v for v in form.getlist("negate") if v in GROUPS),
            unanswered=unanswered if unanswered in UNANSWERED else "auto",
        )

    def conditions(self) -> list[dict[str, Any]]:
        parts: list[tuple[str, dict[str, Any]]] = [
            (group, {group: list(self.keys[group])}) for group in KEY_GROUPS if self.keys.get(group)
        ]
        if self.child_from is not None and self.child_to is not None:
            parts.append(("child_age", {"child_age": {"between": [self.child_from, self.child_to]}}))
        if self.followed_days is not None:
            parts.append(("followed_within_days", {"followed_within_days": self.followed_days}))
        return [{"not": part} if group in self.negated else part for group, part in parts]

    def expression(self) -> dict[str, Any]:
        """segment-service's expression; no condition at all is every resident who answered or not
        (``{"and": []}``: true for every friend)."""
        return {self.combine: self.conditions()}

    def chosen(self, group: str, key: str) -> bool:
        return key in self.keys.get(group, ())

    @classmethod
    def from_expression(cls, name: str, department: str, expression: Any) -> SegmentForm:
        """The form of an expression this builder made; raises :class:`SegmentFormError` otherwise."""
        unreadable = SegmentFormError(["このセグメントはこの画面で作られた形ではないため、編集できません。"])
        if not isinstance(expression, dict) or len(expression) != 1:
            raise unreadable
        combine, parts = next(iter(expression.items()))
        if combine not in ("and", "or") or not isinstance(parts, list):
            raise unreadable
        keys: dict[str, tuple[str, ...]] = {}
        negated: set[str] = set()
        child: tuple[int, int] | None = None
        followed: int | None = None
        for raw in parts:
            part = raw
            negate = isinstance(part, dict) and set(part) == {"not"}
            if negate:
                part = part["not"]
            if not isinstance(part, dict) or len(part) != 1:
                raise unreadable
            group, value = next(iter(part.items()))
            if group in KEY_GROUPS and isinstance(value, list) and group not in keys:
                keys[group] = tuple(str(v) for v in value)
            elif group == "child_age" and isinstance(value, dict) and _pair(value.get("between")) and child is None:
                child = (value["between"][0], value["between"][1])
            elif group == "followed_within_days" and isinstance(value, int) and followed is None:
                followed = value
            else:
                raise unreadable
            if negate:
                negated.add(group)
        return cls(name=name, department=department, keys=keys,
                   child_from=child[0] if child else None, child_to=child[1] if child else None,
                   followed_days=followed, combine=combine, negated=frozenset(negated))


def _pair(value: Any) -> bool:
    return (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value))


@dataclass(frozen=True)
class SegmentCount:
    """segment-service's count preview: matching answers, unanswered friends, and who would receive."""

    matching: int
    unanswered: int
    recipients: int
    unanswered_included: bool

    def as_json(self) -> dict[str, Any]:
        return {"matching": self.matching, "unanswered": self.unanswered, "recipients": self.recipients,
                "unansweredIncluded": self.unanswered_included}


@dataclass(frozen=True)
class SavedSegment:
    id: str
    name: str
    department: str
    expression: Any
    updated_by: str | None
    updated_at: datetime | None


@dataclass(frozen=True)
class TaxonomyItem:
    key: str
    label: str


@dataclass(frozen=True)
class BuilderChoices:
    """What the builder offers, from the current taxonomy: group → items."""

    version: int
    groups: Mapping[str, Sequence[TaxonomyItem]]
    always_delivered: frozenset[str] = frozenset()

    def keys(self, group: str) -> set[str]:
        return {item.key for item in self.groups.get(group, ())}


TAXONOMY_SECTIONS = {"category": "categories", "district": "districts", "age_band": "age_bands",
                     "language": "languages"}


def builder_choices(body: Any) -> BuilderChoices:
    """segment-service's ``GET /internal/taxonomy`` answer as the builder's choices; raises on anything
    malformed."""
    document = body["taxonomy"]
    groups = {}
    always = set()
    for group, section in TAXONOMY_SECTIONS.items():
        items = []
        for entry in document.get(section, []):
            if entry.get("retired"):
                continue
            items.append(TaxonomyItem(str(entry["key"]), str(entry.get("label", entry["key"]))))
            if group == "category" and entry.get("always_delivered"):
                always.add(str(entry["key"]))
        groups[group] = tuple(items)
    return BuilderChoices(int(body["version"]), groups, frozenset(always))


@dataclass(frozen=True)
class SegmentRow:
    segment: SavedSegment
    department_name: str
    updated_by: str | None  # the staff member's name (or id, when no longer known here)


@dataclass(frozen=True)
class SegmentList:
    rows: tuple[SegmentRow, ...] | None  # None: segment-service did not answer
    editable: frozenset[str] | None  # departments where the member may save; None: every one


GROUP_WORDS = {"category": "受け取る情報", "district": "地区", "age_band": "年代", "language": "言語"}


def describe(form: SegmentForm, choices: BuilderChoices | None) -> list[str]:
    """The segment in words, one line per condition (Japanese; what a confirmation screen shows).
    Keys no longer in the taxonomy are shown as keys."""
    groups = choices.groups if choices else {}
    labels = {group: {item.key: item.label for item in items} for group, items in groups.items()}
    lines = []
    for group in KEY_GROUPS:
        keys = form.keys.get(group, ())
        if not keys:
            continue
        names = "・".join(labels.get(group, {}).get(key, key) for key in keys)
        which = "のいずれかを選んだ人" if group == "category" else "の人"
        line = f"{GROUP_WORDS[group]}: {names}{which}"
        lines.append(f"{line}ではない" if group in form.negated else line)
    if form.child_from is not None and form.child_to is not None:
        line = f"子どもの年齢: {form.child_from}〜{form.child_to}歳の子どもがいる人"
        lines.append(f"{line}ではない" if "child_age" in form.negated else line)
    if form.followed_days is not None:
        line = f"友だち追加から{form.followed_days}日以内の人"
        lines.append(f"{line}ではない" if "followed_within_days" in form.negated else line)
    if not lines:
        return ["条件なし（友だち全員）"]
    joined = "すべてに当てはまる人" if form.combine == "and" else "どれか1つに当てはまる人"
    return [*lines, f"（上の条件の{joined}）"] if len(lines) > 1 else lines
