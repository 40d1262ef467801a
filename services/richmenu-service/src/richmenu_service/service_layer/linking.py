"""Linking residents to their menus on LINE: one resident when they follow or change their 受信設定, everyone
when the rules or the clock say so (一括切り替え).

LINE's default rich menu does the mass work (domain/rules.py): a resident gets a per-user link only when their
menu differs from the default. A mass change therefore looks only at residents linked now and members of the
segments of rules in force, and goes in the order that changes each resident's menu once: links, then the
default, then unlinks. When nobody needs a link afterwards (災害時モード for everyone, a period menu outranking
every segment) one batch ``unlinkAll`` replaces the unlinks while LINE's 3-per-hour budget lasts.

What we told LINE is recorded (``resident_links``, ``line_state``) after LINE accepted it; a crash in between is
repaired by the next run, which finds the same differences again (linking to the same menu twice changes
nothing a resident sees)."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from prometheus_client import Counter, Histogram

from richmenu_service.adapters.line import LineRefused
from richmenu_service.adapters.repository import Change, Link, StoredRule
from richmenu_service.contracts import MenusSwitched
from richmenu_service.domain import commands as c
from richmenu_service.domain.rules import (
    BATCH_PER_HOUR,
    Kind,
    MenuRef,
    Rule,
    chunks,
    covers_everyone,
    effective_menu,
    in_force,
    line_default_menu,
    next_boundary,
)
from richmenu_service.service_layer.display import as_domain
from richmenu_service.service_layer.ports import Outcome, Ports
from richmenu_service.service_layer.unit_of_work import AbstractRichmenuUnitOfWork

log = logging.getLogger(__name__)
RELINKS = Counter("richmenu_relinks_total", "One resident's menu re-evaluated (follow, 受信設定), by outcome",
                  ["cause", "outcome"])
MASS_CHANGES = Counter("richmenu_mass_changes_total", "Mass changes carried out, by reason and status",
                       ["reason", "status"])
MASS_CHANGE_SECONDS = Histogram("richmenu_mass_change_seconds", "Duration of a mass change (plan and LINE calls)",
                                buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300))
RESIDENTS_SWITCHED = Counter("richmenu_residents_switched_total", "Per-user links made or removed by mass changes",
                             ["operation"])
RETIRED_DELETES_PER_RUN = 10  # deleting a rich menu is 100 per hour on LINE


def live_menus(uow: AbstractRichmenuUnitOfWork) -> dict[str, str]:
    """Menu id → the rich menu id of its first tab on LINE (what a resident is linked to)."""
    return {str(p.menu_id): p.tabs[0]["richMenuId"] for p in uow.menus.publications() if p.tabs}


def usable_rules(stored: Iterable[StoredRule], live: dict[str, str]) -> list[Rule]:
    return [as_domain(rule) for rule in stored if str(rule.menu_id) in live]


def rules_digest(stored: Sequence[StoredRule], live: dict[str, str]) -> str:
    """Changes when a rule, or a live menu a rule uses, changes: the worker then applies the rules to everyone
    again (publishing a menu no rule uses changes nothing for residents)."""
    used = {str(rule.menu_id) for rule in stored}
    document = {"rules": sorted([str(r.id), r.kind, str(r.menu_id), str(r.segment_id), str(r.starts_at),
                                 str(r.ends_at), r.priority, r.enabled] for r in stored),
                "live": sorted((menu, rich) for menu, rich in live.items() if menu in used)}
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def _rich(live: dict[str, str], menu: MenuRef | None) -> str | None:
    return None if menu is None else live.get(menu.menu_set_id)


def _menu_uuid(menu: MenuRef | None) -> uuid.UUID | None:
    return None if menu is None else uuid.UUID(menu.menu_set_id)


# -- one resident ----------------------------------------------------------------------------------------------

def relink_resident(command: c.RelinkResident, uow: AbstractRichmenuUnitOfWork, ports: Ports) -> str:
    outcome = _relink(command, uow, ports)
    RELINKS.labels(command.cause, outcome).inc()
    return outcome


def _relink(command: c.RelinkResident, uow: AbstractRichmenuUnitOfWork, ports: Ports) -> str:
    uow.links.lock(exclusive=False)
    # Two consumers may hold two events of one resident: one after the other, each reading memberships as they
    # are then, so the last one links what segment-service says last.
    uow.links.lock_resident(command.resident_id)
    now, live = ports.clock(), live_menus(uow)
    rules = usable_rules(uow.rules.all(), live)
    segments = sorted({rule.segment for rule in rules if rule.segment and in_force(rule, now)})
    link = uow.links.get(command.resident_id)
    current = link.rich_menu_id if link else None
    if not segments and current is None:
        return "unchanged"  # nobody has a menu of their own: LINE's default shows theirs
    membership = ports.segments.membership(command.resident_id, segments)
    if membership is None or not membership.following or membership.line_user_id is None:
        return "unknown"
    default = line_default_menu(rules, now)
    menu = effective_menu(None, rules, now, member_of(membership.member_of))
    target = None if menu == default else menu
    wanted = _rich(live, target)
    if wanted == current:
        return "unchanged"
    if wanted is None:
        ports.line.unlink(membership.line_user_id)
    else:
        ports.line.link(membership.line_user_id, wanted)
    uow.links.set([(command.resident_id, membership.line_user_id, wanted, _menu_uuid(target))])
    return "unlinked" if wanted is None else "linked"


# -- everyone --------------------------------------------------------------------------------------------------

def _period_reason(rules: Sequence[Rule], boundary: datetime) -> str:
    starts = any(rule.kind is Kind.PERIOD and rule.starts_at == boundary for rule in rules)
    return "period_start" if starts else "period_end"


def apply_rules(command: c.ApplyRules, uow: AbstractRichmenuUnitOfWork, ports: Ports) -> uuid.UUID | None:
    uow.links.lock(exclusive=True)
    try:
        return _apply(command, uow, ports)
    finally:
        uow.commit()
        uow.links.unlock()


def _apply(command: c.ApplyRules, uow: AbstractRichmenuUnitOfWork, ports: Ports) -> uuid.UUID | None:
    state = uow.changes.state(for_update=True)
    now, live = ports.clock(), live_menus(uow)
    stored = uow.rules.all()
    rules = usable_rules(stored, live)
    digest = rules_digest(stored, live)
    change = uow.changes.next_pending()
    if change is None:
        boundary = next_boundary(rules, state.applied_at) if state.applied_at else None
        if boundary is not None and boundary <= now:
            reason = _period_reason(rules, boundary)
        elif digest != state.rules_digest:
            reason = "rules_changed"
        else:
            _delete_retired(uow, ports, state.default_rich_menu_id)
            return None
        change = Change(uuid.uuid4(), reason, "pending", command.requested_by)
        uow.changes.add(change)
    change.status, change.started_at = "running", now
    uow.changes.save(change)
    uow.commit()
    started = time.monotonic()
    try:
        planned = started
        outcome = _everyone_on_default(uow, ports, rules, live, now=now, default_before=state.default_rich_menu_id)
        if outcome is None:
            plan = _plan(uow, ports, rules, live, now=now, change=change)
            planned = time.monotonic()
            outcome = _carry_out(uow, ports, plan, now, state.default_rich_menu_id)
    except Exception as exc:
        uow.rollback()
        change.status, change.error, change.finished_at = "failed", str(exc)[:500], ports.clock()
        uow.changes.save(change)
        MASS_CHANGES.labels(change.reason, "failed").inc()
        raise
    MASS_CHANGE_SECONDS.observe(time.monotonic() - started)
    MASS_CHANGES.labels(change.reason, "done").inc()
    RESIDENTS_SWITCHED.labels("link").inc(outcome.linked)
    RESIDENTS_SWITCHED.labels("unlink").inc(outcome.unlinked)
    log.info("mass change carried out", extra={"change": str(change.id), "reason": change.reason,
                                               "residents": outcome.residents, "linked": outcome.linked,
                                               "unlinked": outcome.unlinked, "method": outcome.method,
                                               "plan_seconds": round(planned - started, 3),
                                               "seconds": round(time.monotonic() - started, 3)})
    state = uow.changes.state(for_update=True)
    default = line_default_menu(rules, now)
    state.default_rich_menu_id, state.default_menu_id = _rich(live, default), _menu_uuid(default)
    state.applied_at, state.rules_digest = now, digest
    uow.changes.save_state(state)
    change.status, change.finished_at = "done", ports.clock()
    change.residents, change.linked, change.unlinked, change.method = (outcome.residents, outcome.linked,
                                                                      outcome.unlinked, outcome.method)
    uow.changes.save(change)
    uow.emit(MenusSwitched(change_id=change.id, reason=change.reason, residents=outcome.residents,
                           linked=outcome.linked, unlinked=outcome.unlinked, method=outcome.method,
                           occurred_at_ms=int(change.finished_at.timestamp() * 1000)))
    return change.id


@dataclass
class _Link:
    """One resident to link in a mass change. ``line_user_id`` is known (segment-service opened it) or
    ``sealed`` is ours to open; ``kept``: we keep a row for them already (its LINE user id stays as sealed)."""

    resident_id: uuid.UUID
    menu_id: uuid.UUID | None
    line_user_id: str | None = None
    kept: Link | None = None


@dataclass
class _Plan:
    """What a mass change tells LINE, worked out before anything is sent."""

    default_rich: str | None
    everyone_on_default: bool
    residents: int
    linked_now: int
    links: dict[str, list[_Link]] = field(default_factory=dict)
    unlinks: list[Link] = field(default_factory=list)


def _members(ports: Ports, rules: list[Rule], now: datetime, change: Change,
             kept: dict[uuid.UUID, Link]) -> tuple[dict[uuid.UUID, set[str]], dict[uuid.UUID, str]]:
    """Members of the segments of rules in force (segment-service freezes each under a key of this change), and
    the LINE user ids of those we do not keep yet (asked by position: those we keep, we open ourselves)."""
    memberships: dict[uuid.UUID, set[str]] = {}
    line_ids: dict[uuid.UUID, str] = {}
    segments = sorted({rule.segment for rule in rules if rule.segment and in_force(rule, now)})
    for index, segment in enumerate(segments):
        key = f"{change.id.hex}-{index}"
        unknown: dict[int, uuid.UUID] = {}
        for member in ports.segments.members(key, segment):
            memberships.setdefault(member.resident_id, set()).add(segment)
            if member.resident_id not in kept and member.resident_id not in line_ids:
                unknown[member.position] = member.resident_id
        if unknown:
            for position, line_user_id in ports.segments.line_user_ids(key, list(unknown)).items():
                line_ids[unknown[position]] = line_user_id
    return memberships, line_ids


def _plan(uow: AbstractRichmenuUnitOfWork, ports: Ports, rules: list[Rule], live: dict[str, str], *,
          now: datetime, change: Change) -> _Plan:
    default = line_default_menu(rules, now)
    kept = {link.resident_id: link for link in uow.links.known()}
    current = {resident_id: link for resident_id, link in kept.items() if link.rich_menu_id is not None}
    everyone_on_default = covers_everyone(rules, now)
    memberships, line_ids = ({}, {}) if everyone_on_default else _members(ports, rules, now, change, kept)
    candidates = memberships.keys() | current.keys()
    plan = _Plan(_rich(live, default), everyone_on_default, len(candidates), len(current))
    nobody: frozenset[str] = frozenset()
    targets: dict[frozenset[str], MenuRef | None] = {}  # residents in the same segments see the same menu
    for resident_id in candidates:
        belongs = frozenset(memberships.get(resident_id, nobody))
        if belongs not in targets:
            menu = effective_menu(None, rules, now, member_of(belongs))
            targets[belongs] = None if menu == default else menu
        target = targets[belongs]
        wanted, link = _rich(live, target), current.get(resident_id)
        if wanted == (link.rich_menu_id if link else None):
            continue
        if wanted is None:
            assert link is not None
            plan.unlinks.append(link)
        elif resident_id in kept or resident_id in line_ids:
            plan.links.setdefault(wanted, []).append(
                _Link(resident_id, _menu_uuid(target), line_ids.get(resident_id), kept.get(resident_id)))
    return plan


def _line_user_id(uow: AbstractRichmenuUnitOfWork, entry: _Link) -> str:
    if entry.line_user_id is not None:
        return entry.line_user_id
    assert entry.kept is not None  # the plan links only residents whose LINE user id it has or keeps
    return uow.links.line_user_id(entry.kept)


def member_of(belongs: set[str] | frozenset[str]) -> Callable[[str, object], bool]:
    """The rules' ``member_of`` for a resident known to be in exactly ``belongs``."""
    return lambda segment, _resident: segment in belongs


def _carry_out(uow: AbstractRichmenuUnitOfWork, ports: Ports, plan: _Plan, now: datetime,
               default_before: str | None) -> Outcome:
    """LINE first, in the order that moves each resident once (links, the default, unlinks); then the record of
    what LINE accepted, in the same transaction (the lock is held until it commits)."""
    outcome = Outcome(residents=plan.residents, unlinked=len(plan.unlinks))
    outcome.method = "bulk" if plan.links or plan.unlinks else "none"
    opened: dict[str, list[tuple[_Link, str]]] = {}
    with ThreadPoolExecutor(max_workers=ports.line_concurrency, thread_name_prefix="richmenu-bulk") as pool:
        sent = []
        for wanted, entries in plan.links.items():
            for part in chunks(entries):
                # each request goes while the next part's LINE user ids are opened
                ready = [(entry, _line_user_id(uow, entry)) for entry in part]
                opened.setdefault(wanted, []).extend(ready)
                sent.append(pool.submit(ports.line.bulk_link, wanted, [line_id for _entry, line_id in ready]))
            outcome.linked += len(entries)
        for request in sent:
            request.result()
    if plan.default_rich != default_before or plan.default_rich != ports.line.get_default():
        ports.line.set_default(plan.default_rich)
        outcome.default_changed = True
    batch = bool(plan.unlinks) and plan.everyone_on_default and len(plan.unlinks) == plan.linked_now \
        and _batch_unlink_all(uow, ports, now)
    if batch:
        outcome.method = "batch"
    elif plan.unlinks:
        unlinked = [uow.links.line_user_id(link) for link in plan.unlinks]
        _in_parallel(ports, [partial(ports.line.bulk_unlink, part) for part in chunks(unlinked)])
    for wanted, done in opened.items():
        by_menu: dict[uuid.UUID | None, list[uuid.UUID]] = {}
        for entry, _line_id in done:
            if entry.kept is not None:
                by_menu.setdefault(entry.menu_id, []).append(entry.resident_id)
        for menu_id, resident_ids in by_menu.items():
            uow.links.relink(resident_ids, wanted, menu_id)
        uow.links.set([(entry.resident_id, line_id, wanted, entry.menu_id) for entry, line_id in done
                       if entry.kept is None])
    if batch:
        uow.links.unlink_everyone()
    else:
        uow.links.relink([link.resident_id for link in plan.unlinks], None, None)
    return outcome


def _everyone_on_default(uow: AbstractRichmenuUnitOfWork, ports: Ports, rules: list[Rule], live: dict[str, str], *,
                         now: datetime, default_before: str | None) -> Outcome | None:
    """The fast way when nobody keeps a link of their own (災害時モード, a period menu for everyone): the default
    first, then one batch ``unlinkAll``, without reading who is linked. None when it does not apply (someone
    keeps a link, or the hour's batch budget is spent: the general plan unlinks in bulk)."""
    if not covers_everyone(rules, now):
        return None
    linked = uow.links.count_linked()
    if linked and uow.changes.batches_since(now - timedelta(hours=1)) >= BATCH_PER_HOUR:
        return None
    outcome = Outcome(residents=linked, unlinked=linked, method="batch" if linked else "none")
    wanted = _rich(live, line_default_menu(rules, now))
    if wanted != default_before or wanted != ports.line.get_default():
        ports.line.set_default(wanted)
        outcome.default_changed = True
    if linked:
        if not _batch_unlink_all(uow, ports, now):
            return None  # LINE refused or did not finish: the general plan unlinks in bulk (the default is set)
        uow.links.unlink_everyone()
    return outcome


def _in_parallel(ports: Ports, calls: Sequence[Callable[[], None]]) -> None:
    if len(calls) <= 1:
        for call in calls:
            call()
        return
    with ThreadPoolExecutor(max_workers=ports.line_concurrency, thread_name_prefix="richmenu-bulk") as pool:
        for future in [pool.submit(call) for call in calls]:
            future.result()


def _batch_unlink_all(uow: AbstractRichmenuUnitOfWork, ports: Ports, now: datetime) -> bool:
    """One batch ``unlinkAll`` if the hour's budget allows, waited for until LINE says it succeeded."""
    if uow.changes.batches_since(now - timedelta(hours=1)) >= BATCH_PER_HOUR:
        return False
    try:
        request_id = ports.line.unlink_all()
    except LineRefused as exc:
        log.warning("batch control refused; unlinking in bulk", extra={"reason": exc.reason})
        return False
    uow.changes.add_batch(request_id, now)
    uow.commit()
    deadline, pause = time.monotonic() + ports.batch_wait_seconds, 0.5
    while True:
        phase = ports.line.batch_phase(request_id)  # 100 per hour: polled sparingly
        if phase == "succeeded":
            return True
        if phase == "failed" or time.monotonic() + pause > deadline:
            break
        time.sleep(pause)
        pause = min(pause * 2, 5.0)
    log.warning("batch unlinkAll did not succeed in time; unlinking in bulk", extra={"request": request_id})
    return False


def _delete_retired(uow: AbstractRichmenuUnitOfWork, ports: Ports, default_rich: str | None) -> None:
    """Delete on LINE the replaced versions nobody is linked to and that are not the default."""
    deleted = 0
    for line_menu in uow.menus.line_menus():
        if deleted >= RETIRED_DELETES_PER_RUN:
            break
        if line_menu.retired_at is None or line_menu.rich_menu_id == default_rich \
                or uow.links.count_linked([line_menu.rich_menu_id]):
            continue
        try:
            ports.line.delete_menu(line_menu.rich_menu_id)
        except LineRefused as exc:
            log.info("a retired rich menu was not deleted yet", extra={"reason": exc.reason})
            break
        uow.menus.forget_line_menu(line_menu.rich_menu_id)
        deleted += 1
