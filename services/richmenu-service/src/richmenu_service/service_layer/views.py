"""Read side for the console (API.md): menus, rules, the preview, 災害時モード and mass changes, as JSON."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from richmenu_service.adapters.repository import Change, StoredMenu, StoredRule
from richmenu_service.domain import commands as c
from richmenu_service.domain.images import TEMPLATES, layout
from richmenu_service.domain.menus import STANDARD_SIZES, InvalidMenu, overlapping_buttons, tabs_from_json
from richmenu_service.domain.rules import TOKYO, Kind, in_force, line_default_menu, next_boundary, winning_rule
from richmenu_service.service_layer.display import KIND_NAMES, as_domain, disaster_rule
from richmenu_service.service_layer.linking import live_menus, member_of, usable_rules
from richmenu_service.service_layer.menus import publish_problems
from richmenu_service.service_layer.ports import NotFound, Ports
from richmenu_service.service_layer.unit_of_work import AbstractRichmenuUnitOfWork

View = Callable[[AbstractRichmenuUnitOfWork], Any]
REASON_LABELS = {"disaster_on": "災害時モード オン", "disaster_off": "災害時モード オフ",
                 "period_start": "期間限定メニューの開始", "period_end": "期間限定メニューの終了",
                 "rules_changed": "表示ルールの変更", "reconcile": "LINE との同期"}


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _status(uow: AbstractRichmenuUnitOfWork, menu: StoredMenu) -> str:
    publication = uow.menus.publication(menu.id)
    if publication is None or not publication.tabs:
        return "pending" if publication is not None and publication.status == "pending" else "draft"
    if publication.status == "pending":
        return "pending"
    return "published" if publication.version == menu.version else "changed"


def _summary(uow: AbstractRichmenuUnitOfWork, menu: StoredMenu, rules: list[StoredRule]) -> dict[str, Any]:
    publication = uow.menus.publication(menu.id)
    return {"id": str(menu.id), "title": menu.title, "department": menu.department, "version": menu.version,
            "tabs": len(menu.tabs), "status": _status(uow, menu),
            "publishedAt": _iso(publication.published_at) if publication else None,
            "updatedAt": _iso(menu.updated_at), "updatedBy": menu.updated_by,
            "usedBy": [str(rule.id) for rule in rules if rule.menu_id == menu.id], "thumbnailTab": 1}


def menus() -> View:
    def view(uow: AbstractRichmenuUnitOfWork) -> dict[str, Any]:
        rules = uow.rules.all()
        return {"menus": [_summary(uow, menu, rules) for menu in uow.menus.all()]}
    return view


def menu(menu_id: uuid.UUID) -> View:
    def view(uow: AbstractRichmenuUnitOfWork) -> dict[str, Any] | None:
        found = uow.menus.get(menu_id)
        if found is None:
            return None
        images = uow.menus.images(found.id)
        tabs = []
        for tab in found.tabs:
            image = images.get(str(tab.get("aliasId")))
            tabs.append({**tab, "design": tab.get("design"),
                         "image": None if image is None else {"sha256": image.sha256, "format": image.format,
                                                             "bytes": len(image.data), "source": image.source}})
        warnings = []
        try:
            for number, tab_object in enumerate(tabs_from_json(found.tabs), start=1):
                warnings += [f"{number}つ目のタブ: {a}番目と{b}番目のボタンが重なっています。"
                             for a, b in overlapping_buttons(tab_object)]
        except InvalidMenu:
            pass
        publication = uow.menus.publication(found.id)
        return {**_summary(uow, found, uow.rules.all()), "tabs": tabs,
                "problems": [vars(p) for p in publish_problems(uow, found)], "warnings": warnings,
                "publication": None if publication is None or not publication.tabs else {
                    "version": publication.version, "publishedAt": _iso(publication.published_at),
                    "publishedBy": publication.published_by, "status": publication.status,
                    "error": publication.error,
                    "tabs": [{"aliasId": t["aliasId"], "richMenuId": t["richMenuId"]} for t in publication.tabs]}}
    return view


def image(menu_id: uuid.UUID, number: int) -> View:
    def view(uow: AbstractRichmenuUnitOfWork) -> tuple[bytes, str] | None:
        found = uow.menus.get(menu_id)
        if found is None or not 1 <= number <= len(found.tabs):
            return None
        stored = uow.menus.images(menu_id).get(str(found.tabs[number - 1].get("aliasId")))
        return None if stored is None else (stored.data, stored.content_type)
    return view


def templates() -> dict[str, Any]:
    from richmenu_service.adapters.images import ICONS  # the icon set ships with the drawing adapter

    return {"templates": [{"id": t.template_id, "title": t.title, "columns": t.columns, "rows": t.rows,
                           "tabHeader": t.tab_header,
                           "size": {"width": t.suggested_size.width, "height": t.suggested_size.height},
                           "cells": [{"role": cell.role.value, "index": cell.index, "bounds": vars(cell.bounds)}
                                     for cell in layout(t, t.suggested_size, 2 if t.tab_header else 1)]}
                          for t in TEMPLATES.values()],
            "icons": sorted(ICONS), "sizes": [{"width": s.width, "height": s.height} for s in STANDARD_SIZES]}


def _rule_json(rule: StoredRule, titles: dict[uuid.UUID, StoredMenu], now: datetime) -> dict[str, Any]:
    found = titles.get(rule.menu_id)
    return {"id": str(rule.id), "kind": rule.kind, "kindLabel": Kind[rule.kind.upper()].label,
            "menuId": str(rule.menu_id), "menuTitle": found.title if found else "",
            "department": found.department if found else "",
            "segmentId": str(rule.segment_id) if rule.segment_id else None,
            "startsAt": _iso(rule.starts_at), "endsAt": _iso(rule.ends_at), "priority": rule.priority,
            "enabled": rule.enabled, "inForce": in_force(as_domain(rule), now), "createdAt": _iso(rule.created_at),
            "createdBy": rule.created_by}


def rules(ports: Ports) -> View:
    def view(uow: AbstractRichmenuUnitOfWork) -> dict[str, Any]:
        now, live = ports.clock(), live_menus(uow)
        stored, titles = uow.rules.all(), {m.id: m for m in uow.menus.all()}
        usable = usable_rules(stored, live)
        default = line_default_menu(usable, now)
        default_menu = titles.get(uuid.UUID(default.menu_set_id)) if default else None
        upcoming = next_boundary(usable, now)
        return {"rules": [_rule_json(rule, titles, now) for rule in stored],
                "lineDefault": None if default_menu is None else {"menuId": str(default_menu.id),
                                                                  "title": default_menu.title},
                "nextChange": _iso(upcoming.astimezone(TOKYO)) if upcoming else None}
    return view


def rule(rule_id: uuid.UUID, ports: Ports) -> View:
    def view(uow: AbstractRichmenuUnitOfWork) -> dict[str, Any] | None:
        found = uow.rules.get(rule_id)
        return None if found is None else _rule_json(found, {m.id: m for m in uow.menus.all()}, ports.clock())
    return view


def _reason(rule: StoredRule | None, title: str) -> str:
    if rule is None:
        return "表示するルールがありません（既定のメニューを設定してください）。"
    kind = KIND_NAMES.get(Kind[rule.kind.upper()], rule.kind)
    if kind == "disaster":
        return f"災害時モードがオンのため「{title}」が表示されます。"
    if kind == "period":
        span = f"{rule.starts_at.astimezone(TOKYO):%m/%d %H:%M}〜{rule.ends_at.astimezone(TOKYO):%m/%d %H:%M}" \
            if rule.starts_at and rule.ends_at else ""
        return f"期間限定メニュー「{title}」（{span}）が優先されます。"
    if kind == "segment":
        return f"セグメントに当てはまるため、セグメント別メニュー「{title}」が表示されます。"
    return f"当てはまるルールがほかにないため、既定のメニュー「{title}」が表示されます。"


def preview(asked: c.PreviewFor, ports: Ports) -> View:
    def view(uow: AbstractRichmenuUnitOfWork) -> dict[str, Any]:
        live = live_menus(uow)
        stored = {str(r.id): r for r in uow.rules.all()}
        rules_now = usable_rules(stored.values(), live)
        if asked.resident_id is not None:
            segments = sorted({r.segment for r in rules_now if r.segment and in_force(r, asked.at)})
            membership = ports.segments.membership(asked.resident_id, segments)
            if membership is None:
                raise NotFound("その住民は見つかりません。", "not_found")
            belongs = set(membership.member_of)
        else:
            belongs = set(asked.segment_ids or ())
        won = winning_rule(None, rules_now, asked.at, member_of(belongs))
        chosen = stored.get(won.rule_id) if won else None
        found = uow.menus.get(chosen.menu_id) if chosen else None
        titles = {m.id: m for m in uow.menus.all()}
        return {"menuId": str(found.id) if found else None, "menuTitle": found.title if found else None,
                "rule": _rule_json(chosen, titles, asked.at) if chosen else None,
                "reason": _reason(chosen, found.title if found else "")}
    return view


def change_json(change: Change) -> dict[str, Any]:
    return {"id": str(change.id), "reason": change.reason,
            "reasonLabel": REASON_LABELS.get(change.reason, change.reason),
            "status": change.status, "residents": change.residents, "linked": change.linked,
            "unlinked": change.unlinked, "method": change.method, "startedAt": _iso(change.started_at),
            "finishedAt": _iso(change.finished_at), "error": change.error, "requestedBy": change.requested_by}


def changes(limit: int) -> View:
    def view(uow: AbstractRichmenuUnitOfWork) -> dict[str, Any]:
        return {"changes": [change_json(change) for change in uow.changes.recent(limit)]}
    return view


def disaster() -> View:
    def view(uow: AbstractRichmenuUnitOfWork) -> dict[str, Any]:
        found = disaster_rule(uow)
        menu_found = uow.menus.get(found.menu_id) if found else None
        recent = uow.changes.recent(20)
        last = next((ch for ch in recent if ch.reason in ("disaster_on", "disaster_off")), None)
        return {"on": bool(found and found.enabled), "menuId": str(found.menu_id) if found else None,
                "menuTitle": menu_found.title if menu_found else None,
                "switchedAt": _iso(found.updated_at) if found else None,
                "switchedBy": found.updated_by if found else None,
                "change": change_json(last) if last else None}
    return view
