"""Who sees which menu (表示ルール), and what a change of rules or of the clock means for LINE.

Plain Python, no I/O, no clock: the moment is passed in (aware datetimes; Japan has no DST, so a period
entered in Japan time is a fixed pair of instants). Residents are opaque: segment expressions are evaluated
by a ``member_of(segment, resident) -> bool`` the caller passes in (segment-service owns them).

Priority (highest first): 災害モード (DISASTER) > 期間限定 (PERIOD: ``starts_at`` ≤ at < ``ends_at``, end
exclusive) > セグメント別 (SEGMENT) > 既定 (DEFAULT). Among rules of the same kind that apply, the higher
``priority`` number wins, then the newest (``created_at``), then the rule id (so the answer is always one).
A disaster or period rule may carry a segment (a disaster menu for some 地区 only; a summer menu for parents).

Decisions, shaped by LINE's rich menu API (reference/line-platform.md §3, §4):
- **LINE's default menu does the mass work.** At any moment the "LINE default" is the menu of a resident in no
  segment (:func:`line_default_menu`), set with one call. A resident gets a per-user link only when their
  menu differs from it (:func:`link_target` is ``None`` otherwise: unlink). So changing the default menu, or a
  period/disaster menu for everyone, is one default-menu call plus (un)linking only the residents with links.
- Per-user changes go out as bulk link / unlink, ≤ :data:`BULK_MAX` (500) ids a request, 2,000 requests/s:
  :func:`relink_plan` groups and chunks them.
- When after a change nobody needs a link (a global rule outranks every segment rule: disaster mode for all),
  :attr:`ChangeScope.unlink_all` says so: LINE's batch ``unlinkAll`` does it in one request, but batch control
  is 3 per hour (:data:`BATCH_PER_HOUR`), so :func:`mass_method` falls back to bulk unlink when the budget is
  spent: disaster on/off twice in an hour must still work.
- Order: links first, then the default, then unlinks, so that each resident's menu changes once: a resident
  linked away from the old default moves before the default does; one unlinked onto the new default moves after it.
- :func:`change_scope` is conservative: a changed rule without a segment, or a changed LINE default, concerns
  everyone who is linked or in a segment of an active rule; otherwise only members of the changed rules'
  segments. The relink plan then keeps only residents whose link target really changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import IntEnum, StrEnum
from typing import TypeVar
from zoneinfo import ZoneInfo

TOKYO = ZoneInfo("Asia/Tokyo")
BULK_MAX = 500  # bulk link / unlink userIds per request
BATCH_PER_HOUR = 3  # rich menu batch control requests per hour

R = TypeVar("R")
MemberOf = Callable[[str, R], bool]


class Kind(IntEnum):
    """The rule kinds, by rank: a higher value wins."""

    DEFAULT = 0  # 既定のメニュー
    SEGMENT = 1  # セグメント別メニュー
    PERIOD = 2  # 期間限定メニュー
    DISASTER = 3  # 災害モード

    @property
    def label(self) -> str:
        return ("既定", "セグメント別", "期間限定", "災害モード")[self.value]


@dataclass(frozen=True)
class MenuRef:
    """A menu set by id: the resident is linked to its first tab."""

    menu_set_id: str


class InvalidRule(ValueError):
    """A rule that cannot be used. ``problems``: Japanese sentences for staff."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Rule:
    rule_id: str
    kind: Kind
    menu: MenuRef
    created_at: datetime  # aware
    segment: str | None = None  # opaque segment id or expression
    starts_at: datetime | None = None  # PERIOD: aware, inclusive
    ends_at: datetime | None = None  # PERIOD: aware, exclusive
    priority: int = 0
    enabled: bool = True  # DISASTER: the switch (災害モード オン/オフ)

    def __post_init__(self) -> None:
        problems = []
        if self.kind is Kind.DEFAULT and self.segment is not None:
            problems.append("既定のメニューにはセグメントを指定できません。")
        if self.kind is Kind.SEGMENT and not self.segment:
            problems.append("セグメント別メニューにはセグメントを指定してください。")
        if self.kind is Kind.PERIOD:
            if self.starts_at is None or self.ends_at is None:
                problems.append("期間限定メニューには開始と終了の日時を指定してください。")
            elif not (_aware(self.starts_at) and _aware(self.ends_at)):
                problems.append("開始と終了の日時にはタイムゾーンが必要です。")
            elif self.ends_at <= self.starts_at:
                problems.append("終了日時は開始日時より後にしてください。")
        elif self.starts_at is not None or self.ends_at is not None:
            problems.append(f"{self.kind.label}のルールには期間を指定できません。")
        if not _aware(self.created_at):
            problems.append("作成日時にはタイムゾーンが必要です。")
        if problems:
            raise InvalidRule(problems)


def _aware(moment: datetime) -> bool:
    return moment.tzinfo is not None and moment.utcoffset() is not None


def japan_days(first: date, last: date) -> tuple[datetime, datetime]:
    """A period staff enter as days (12/1〜12/31, both included) as instants: first 0:00 JST to the day after
    ``last`` 0:00 JST (exclusive)."""
    return datetime.combine(first, time(), TOKYO), datetime.combine(last + timedelta(days=1), time(), TOKYO)


# -- who sees what ---------------------------------------------------------------------------------------------

def in_force(rule: Rule, at: datetime) -> bool:
    """Switched on and inside its period (whoever the resident)."""
    if not _aware(at):
        raise ValueError("at must be timezone-aware")
    if not rule.enabled:
        return False
    if rule.kind is Kind.PERIOD:
        assert rule.starts_at is not None and rule.ends_at is not None
        return rule.starts_at <= at < rule.ends_at
    return True


def _rank(rule: Rule) -> tuple[int, int, datetime, str]:
    return (rule.kind, rule.priority, rule.created_at, rule.rule_id)


def winning_rule(resident: R, rules: Iterable[Rule], at: datetime, member_of: MemberOf[R]) -> Rule | None:
    """The rule that decides ``resident``'s menu at ``at``; ``None`` when none applies."""
    applying = [rule for rule in rules if in_force(rule, at)
                and (rule.segment is None or member_of(rule.segment, resident))]
    return max(applying, key=_rank, default=None)


def effective_menu(resident: R, rules: Iterable[Rule], at: datetime, member_of: MemberOf[R]) -> MenuRef | None:
    """The menu ``resident`` should see at ``at``; ``None``: no menu at all (no default rule)."""
    rule = winning_rule(resident, rules, at, member_of)
    return rule.menu if rule else None


def _in_no_segment(segment: str, resident: object) -> bool:
    return False


def line_default_menu(rules: Iterable[Rule], at: datetime) -> MenuRef | None:
    """What LINE's default rich menu should be at ``at``: the menu of a resident in no segment."""
    return effective_menu(None, rules, at, _in_no_segment)


def link_target(resident: R, rules: Sequence[Rule], at: datetime, member_of: MemberOf[R]) -> MenuRef | None:
    """The menu to link ``resident`` to, or ``None`` when LINE's default already shows the right one (unlink)."""
    menu = effective_menu(resident, rules, at, member_of)
    return None if menu == line_default_menu(rules, at) else menu


def covers_everyone(rules: Iterable[Rule], at: datetime) -> bool:
    """True when one rule without a segment outranks every segment rule in force: nobody needs a link."""
    active = [rule for rule in rules if in_force(rule, at)]
    best_global = max((r for r in active if r.segment is None), key=_rank, default=None)
    if best_global is None:
        return False
    return all(_rank(r) < _rank(best_global) for r in active if r.segment is not None)


def next_boundary(rules: Iterable[Rule], after: datetime) -> datetime | None:
    """The next moment strictly after ``after`` when a period starts or ends (when to re-evaluate)."""
    moments = [m for rule in rules if rule.enabled and rule.kind is Kind.PERIOD
               for m in (rule.starts_at, rule.ends_at) if m is not None and m > after]
    return min(moments, default=None)


# -- changes ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ChangeScope:
    """What a change (rules edited, a period starting or ending, disaster mode on or off) concerns."""

    default_before: MenuRef | None
    default_after: MenuRef | None
    everyone: bool  # every linked resident and every member of an active rule's segment may change
    segments: frozenset[str] = field(default_factory=frozenset)  # otherwise: members of these
    unlink_all: bool = False  # after the change nobody needs a per-user link

    @property
    def default_changed(self) -> bool:
        return self.default_before != self.default_after

    @property
    def mass(self) -> bool:
        """A change for everyone (a default-menu call and bulk or batch work), not a few relinks."""
        return self.everyone or self.default_changed

    @property
    def nothing(self) -> bool:
        return not self.mass and not self.segments


def change_scope(before_rules: Sequence[Rule], after_rules: Sequence[Rule],
                 before_at: datetime, after_at: datetime) -> ChangeScope:
    """The scope of going from ``before_rules`` at ``before_at`` to ``after_rules`` at ``after_at`` (the same
    rules at two moments for a period boundary; two rule sets at one moment for an edit)."""
    before = {rule for rule in before_rules if in_force(rule, before_at)}
    after = {rule for rule in after_rules if in_force(rule, after_at)}
    changed = before ^ after
    default_before, default_after = line_default_menu(before_rules, before_at), line_default_menu(after_rules, after_at)
    everyone = any(rule.segment is None for rule in changed) or default_before != default_after
    segments = frozenset(rule.segment for rule in (before | after if everyone else changed) if rule.segment)
    return ChangeScope(default_before, default_after, everyone, segments,
                       unlink_all=everyone and covers_everyone(after_rules, after_at))


class MassMethod(StrEnum):
    NONE = "none"
    BATCH_UNLINK_ALL = "batch_unlink_all"  # one batch control request: {"operations": [{"type": "unlinkAll"}]}
    BULK = "bulk"  # bulk link / unlink, ≤ 500 ids a request


def mass_method(scope: ChangeScope, batch_requests_last_hour: int) -> MassMethod:
    """How to carry out the per-user part of a change, given how many batch requests the channel made in the
    last hour (LINE allows 3)."""
    if scope.unlink_all and batch_requests_last_hour < BATCH_PER_HOUR:
        return MassMethod.BATCH_UNLINK_ALL
    return MassMethod.BULK if scope.mass or scope.segments else MassMethod.NONE


@dataclass
class RelinkPlan:
    """What to tell LINE, in order: set (or clear) the default, then link and unlink in chunks of ≤ 500."""

    set_default: bool
    default_menu: MenuRef | None
    links: dict[MenuRef, list[list[str]]]
    unlinks: list[list[str]]

    @property
    def residents(self) -> int:
        return sum(len(chunk) for chunks in self.links.values() for chunk in chunks) + sum(map(len, self.unlinks))


T = TypeVar("T")


def chunks(items: Sequence[T], size: int = BULK_MAX) -> list[list[T]]:
    return [list(items[start:start + size]) for start in range(0, len(items), size)]


def relink_plan(residents: Iterable[tuple[str, R]], before_rules: Sequence[Rule], after_rules: Sequence[Rule], *,
                before_at: datetime, after_at: datetime, member_of: MemberOf[R]) -> RelinkPlan:
    """For the candidate ``residents`` (``(resident id, facts)``; the caller picks them with
    :func:`change_scope`), who to link to what and who to unlink, so each sees their menu after the change."""
    links: dict[MenuRef, list[str]] = {}
    unlinks: list[str] = []
    for resident_id, resident in residents:
        old = link_target(resident, before_rules, before_at, member_of)
        new = link_target(resident, after_rules, after_at, member_of)
        if old == new:
            continue
        if new is None:
            unlinks.append(resident_id)
        else:
            links.setdefault(new, []).append(resident_id)
    default_before, default_after = line_default_menu(before_rules, before_at), line_default_menu(after_rules, after_at)
    return RelinkPlan(default_before != default_after, default_after,
                      {menu: chunks(ids) for menu, ids in links.items()}, chunks(unlinks))
