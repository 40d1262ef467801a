"""Menus (メニュー): drafting a set of tabs, its images (uploaded or drawn from a template), publishing it to LINE.

A draft may lack images and buttons; anything else LINE would refuse is refused when saved, with every
problem named for staff. Publishing needs a complete, valid set: each tab becomes a new rich menu on LINE
(LINE cannot replace an image), its alias is pointed at it, and the version it replaces is retired (deleted
on LINE by the worker once no resident and not the default shows it)."""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import timedelta
from typing import Any

from richmenu_service.adapters import images as drawing
from richmenu_service.adapters.line import LineRateLimited, LineRefused
from richmenu_service.adapters.repository import LineMenu, Publication, StoredImage, StoredMenu
from richmenu_service.contracts import MenuPublished
from richmenu_service.domain import commands as c
from richmenu_service.domain.images import TEMPLATES, CellRole, InvalidDesign, design_from_dict, design_to_dict, layout
from richmenu_service.domain.menus import (
    Area,
    InvalidMenu,
    MenuSet,
    Problem,
    SwitchAction,
    Tab,
    action_from_json,
    rich_menu_request,
    tab_json,
    tabs_from_json,
    validate_menu_set,
)
from richmenu_service.service_layer.ports import Conflict, Forbidden, Invalid, NotFound, Ports
from richmenu_service.service_layer.unit_of_work import AbstractRichmenuUnitOfWork

log = logging.getLogger(__name__)
TITLE_MAX, DEPARTMENT_MAX = 100, 64
PUBLISH_RETRY = timedelta(minutes=10)  # LINE's create limit is 100 per hour


def _ms(ports: Ports) -> int:
    return int(ports.clock().timestamp() * 1000)


def menu_or_404(uow: AbstractRichmenuUnitOfWork, menu_id: uuid.UUID, *, for_update: bool = False) -> StoredMenu:
    menu = uow.menus.get(menu_id, for_update=for_update)
    if menu is None:
        raise NotFound("メニューが見つかりません。", "not_found")
    return menu


def parsed_tabs(menu: StoredMenu) -> tuple[Tab, ...]:
    return tabs_from_json(menu.tabs)


def draft_problems(uow: AbstractRichmenuUnitOfWork, menu_id: uuid.UUID, title: str, tabs: tuple[Tab, ...],
                   *, complete: bool) -> list[Problem]:
    """What LINE would refuse, plus aliases another menu uses. A draft (``complete`` False) may still lack
    buttons; a published set may not."""
    problems = validate_menu_set(MenuSet(str(menu_id), title, tabs))
    if not complete:
        problems = [p for p in problems
                    if not (p.field == "areas" and p.area == 0 and p.tab and not tabs[p.tab - 1].areas)]
    taken = {str(tab.get("aliasId")): other.title for other in uow.menus.all() if other.id != menu_id
             for tab in other.tabs}
    for number, tab in enumerate(tabs, start=1):
        if tab.alias_id in taken:
            problems.append(Problem(number, 0, "aliasId", f"{number}つ目のタブ: タブのID「{tab.alias_id}」は"
                                    f"メニュー「{taken[tab.alias_id]}」で使われています。別のIDにしてください。"))
    return problems


def publish_problems(uow: AbstractRichmenuUnitOfWork, menu: StoredMenu) -> list[Problem]:
    try:
        tabs = parsed_tabs(menu)
    except InvalidMenu as exc:
        return exc.problems
    problems = draft_problems(uow, menu.id, menu.title, tabs, complete=True)
    have = uow.menus.images(menu.id)
    for number, tab in enumerate(tabs, start=1):
        if tab.alias_id not in have:
            problems.append(Problem(number, 0, "image", f"{number}つ目のタブ: 画像がありません。"
                                    "画像をアップロードするか、テンプレートから作成してください。"))
    return problems


def _check_title(title: str, department: str) -> None:
    if not 1 <= len(title.strip()) <= TITLE_MAX:
        raise Invalid(f"メニューの名前は1〜{TITLE_MAX}文字にしてください。", "invalid_title")
    if not 1 <= len(department) <= DEPARTMENT_MAX:
        raise Invalid("担当課を選んでください。", "invalid_department")


def _parse(raw: Any) -> tuple[Tab, ...]:
    try:
        return tabs_from_json(raw)
    except InvalidMenu as exc:
        raise Invalid("メニューの内容に直すところがあります。", "invalid_menu", exc.problems) from None


def _stored_tabs(tabs: tuple[Tab, ...], previous: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tabs as stored: the design data of a tab with the same alias is kept (it drew that tab's image)."""
    designs = {str(t.get("aliasId")): t["design"] for t in previous if t.get("design") is not None}
    return [{**tab_json(tab), **({"design": designs[tab.alias_id]} if tab.alias_id in designs else {})}
            for tab in tabs]


def _may_edit(actor: c.Actor, department: str) -> None:
    if not actor.may_edit(department):
        raise Forbidden("この課のメニューを編集する権限がありません（作成者またはシステム管理者）。", "not_an_author")


def create_menu(command: c.CreateMenu, uow: AbstractRichmenuUnitOfWork) -> uuid.UUID:
    _check_title(command.title, command.department)
    _may_edit(command.actor, command.department)
    tabs = _parse(command.tabs)
    menu_id = uuid.uuid4()
    problems = draft_problems(uow, menu_id, command.title, tabs, complete=False)
    if problems:
        raise Invalid("メニューの内容に直すところがあります。", "invalid_menu", problems)
    uow.menus.add(StoredMenu(menu_id, command.title.strip(), command.department, 1, _stored_tabs(tabs, []),
                             command.actor.staff_id, command.actor.staff_id))
    return menu_id


def _checked_version(menu: StoredMenu, version: int | None) -> None:
    if version is not None and version != menu.version:
        raise Conflict("ほかの人がこのメニューを変更しました。開き直してから編集してください。", "stale_version")


def edit_menu(command: c.EditMenu, uow: AbstractRichmenuUnitOfWork) -> None:
    menu = menu_or_404(uow, command.menu_id, for_update=True)
    _may_edit(command.actor, menu.department)
    _checked_version(menu, command.version)
    _check_title(command.title, menu.department)
    tabs = _parse(command.tabs)
    problems = draft_problems(uow, menu.id, command.title, tabs, complete=False)
    if problems:
        raise Invalid("メニューの内容に直すところがあります。", "invalid_menu", problems)
    menu.title, menu.tabs = command.title.strip(), _stored_tabs(tabs, menu.tabs)
    menu.version += 1
    menu.updated_by = command.actor.staff_id
    uow.menus.update(menu)
    uow.menus.keep_images(menu.id, [tab.alias_id for tab in tabs])


def _tab_number(menu: StoredMenu, number: int) -> int:
    if not 1 <= number <= len(menu.tabs):
        raise NotFound(f"{number}つ目のタブはありません。", "no_such_tab")
    return number - 1


def upload_tab_image(command: c.UploadTabImage, uow: AbstractRichmenuUnitOfWork) -> None:
    menu = menu_or_404(uow, command.menu_id, for_update=True)
    _may_edit(command.actor, menu.department)
    index = _tab_number(menu, command.tab)
    tab = parsed_tabs(menu)[index]
    try:
        data = drawing.reencode(command.data, tab.size)
    except drawing.ImageRejected as exc:
        raise Invalid("この画像は使えません。", "invalid_image", exc.problems) from None
    found = drawing.facts(data)
    uow.menus.set_image(menu.id, tab.alias_id, StoredImage(data, "png" if found.format == "png" else "jpeg",
                                                           hashlib.sha256(data).hexdigest(), "upload"))
    menu.tabs[index] = {key: value for key, value in menu.tabs[index].items() if key != "design"}
    menu.version += 1
    menu.updated_by = command.actor.staff_id
    uow.menus.update(menu)


def design_tab(command: c.DesignTab, uow: AbstractRichmenuUnitOfWork) -> None:
    menu = menu_or_404(uow, command.menu_id, for_update=True)
    _may_edit(command.actor, menu.department)
    index = _tab_number(menu, command.tab)
    tabs = list(parsed_tabs(menu))
    try:
        design = design_from_dict(command.design)
    except InvalidDesign as exc:
        raise Invalid("デザインに直すところがあります。", "invalid_design", exc.problems) from None
    template = TEMPLATES[design.template_id]
    if template.tab_header and len(design.tab_labels) != len(tabs):
        raise Invalid(f"タブ見出しの数（{len(design.tab_labels)}）をメニューのタブの数（{len(tabs)}）に"
                      "合わせてください。", "invalid_design")
    raw_actions = command.actions if isinstance(command.actions, list) else []
    if len(raw_actions) != template.buttons:
        raise Invalid(f"ボタンの動作を{template.buttons}個指定してください。", "invalid_design")
    try:
        actions = [action_from_json(raw) for raw in raw_actions]
    except (TypeError, ValueError):
        raise Invalid("ボタンの動作の形が正しくありません。", "invalid_design") from None
    areas: list[Area] = []
    for cell in layout(template, design.size, max(len(design.tab_labels), 1)):
        if cell.role is CellRole.TAB:
            target = tabs[cell.index]
            areas.append(Area(cell.bounds, SwitchAction(target.alias_id, f"tab={target.alias_id}",
                                                        design.tab_labels[cell.index][:20])))
        else:
            areas.append(Area(cell.bounds, actions[cell.index]))
    old = tabs[index]
    tabs[index] = Tab(old.alias_id, old.name, old.chat_bar_text, design.size, tuple(areas), old.selected)
    problems = draft_problems(uow, menu.id, menu.title, tuple(tabs), complete=False)
    if problems:
        raise Invalid("ボタンの動作に直すところがあります。", "invalid_menu", problems)
    try:
        data = drawing.render(design)
    except InvalidDesign as exc:
        raise Invalid("デザインに直すところがあります。", "invalid_design", exc.problems) from None
    found = drawing.facts(data)
    uow.menus.set_image(menu.id, old.alias_id, StoredImage(data, "png" if found.format == "png" else "jpeg",
                                                           hashlib.sha256(data).hexdigest(), "template"))
    menu.tabs = _stored_tabs(tuple(tabs), menu.tabs)
    menu.tabs[index]["design"] = design_to_dict(design)
    menu.version += 1
    menu.updated_by = command.actor.staff_id
    uow.menus.update(menu)


def delete_menu(command: c.DeleteMenu, uow: AbstractRichmenuUnitOfWork, ports: Ports) -> None:
    menu = menu_or_404(uow, command.menu_id, for_update=True)
    _may_edit(command.actor, menu.department)
    if any(rule.menu_id == menu.id for rule in uow.rules.all()):
        raise Conflict("このメニューは表示ルールで使われています。先にルールを削除してください。", "in_use")
    for tab in menu.tabs:
        ports.line.delete_alias(str(tab.get("aliasId")))
    for line_menu in uow.menus.line_menus():
        if line_menu.menu_id == menu.id:
            ports.line.delete_menu(line_menu.rich_menu_id)
            uow.menus.forget_line_menu(line_menu.rich_menu_id)
    uow.menus.delete(menu.id)


# -- publishing ------------------------------------------------------------------------------------------------

def publish_menu(command: c.PublishMenu, uow: AbstractRichmenuUnitOfWork, ports: Ports) -> str:
    menu = menu_or_404(uow, command.menu_id, for_update=True)
    if command.actor.system is None and not command.actor.may_publish(menu.department):
        raise Forbidden("この課のメニューを公開する権限がありません（承認者またはシステム管理者）。", "not_an_approver")
    _checked_version(menu, command.version)
    problems = publish_problems(uow, menu)
    if problems:
        raise Conflict("公開できません。直すところがあります。", "not_ready", problems)
    live = uow.menus.publication(menu.id)
    if live is not None and live.version == menu.version and live.status == "published":
        return "published"
    publication = live or Publication(menu.id, 0, "pending", [], command.actor.staff_id)
    try:
        put_on_line(uow, ports, menu, publication)
    except LineRateLimited as exc:
        publication.status, publication.error = "pending", exc.reason or "LINE の作成回数の上限（1時間に100回）"
        publication.attempts += 1
        publication.next_attempt_at = ports.clock() + PUBLISH_RETRY
        publication.published_by = command.actor.staff_id
        uow.menus.save_publication(publication)
        return "queued"
    publication.published_by = command.actor.staff_id
    uow.menus.save_publication(publication)
    uow.emit(MenuPublished(menu_id=menu.id, version=menu.version, department=menu.department,
                           actor=command.actor.name, occurred_at_ms=_ms(ports)))
    return "published"


def put_on_line(uow: AbstractRichmenuUnitOfWork, ports: Ports, menu: StoredMenu, publication: Publication) -> None:
    """Each tab as a new LINE rich menu with its image, then the aliases; ``publication`` updated to the new
    version. On a refusal the menus made so far are deleted again (or retired, for the worker to delete)."""
    tabs, images = parsed_tabs(menu), uow.menus.images(menu.id)
    now = ports.clock()
    made: list[LineMenu] = []
    try:
        for tab in tabs:
            request = rich_menu_request(tab)
            image = images[tab.alias_id]
            rich_menu_id = ports.line.create_menu(request)
            made.append(LineMenu(rich_menu_id, menu.id, menu.version, tab.alias_id, request, image))
            ports.line.upload_image(rich_menu_id, image.data, image.content_type)
        for line_menu in made:
            ports.line.set_alias(line_menu.alias_id, line_menu.rich_menu_id)
    except LineRefused:
        for line_menu in made:
            try:
                ports.line.delete_menu(line_menu.rich_menu_id)
            except LineRefused:  # kept, retired: the worker deletes it later
                uow.menus.record_line_menu(LineMenu(line_menu.rich_menu_id, menu.id, menu.version,
                                                    line_menu.alias_id, line_menu.request, line_menu.image, now))
        raise
    for line_menu in made:
        uow.menus.record_line_menu(line_menu)
    old_ids = [tab["richMenuId"] for tab in publication.tabs]
    uow.menus.retire_line_menus(old_ids, now)
    for gone in {tab["aliasId"] for tab in publication.tabs} - {tab.alias_id for tab in tabs}:
        ports.line.delete_alias(gone)
    publication.version, publication.status, publication.published_at = menu.version, "published", now
    publication.tabs = [{"aliasId": m.alias_id, "richMenuId": m.rich_menu_id, "sha256": m.image.sha256} for m in made]
    publication.error, publication.next_attempt_at = "", None


def retry_publications(command: c.RetryPublications, uow: AbstractRichmenuUnitOfWork, ports: Ports) -> int:
    now, done = ports.clock(), 0
    for publication in uow.menus.publications():
        if publication.status != "pending" or (publication.next_attempt_at or now) > now:
            continue
        actor = c.Actor(publication.published_by, system="publication-retry")
        try:
            if publish_menu(c.PublishMenu(actor, publication.menu_id, None), uow, ports) == "published":
                done += 1
        except (Conflict, NotFound) as exc:
            log.warning("a queued publication cannot go out", extra={"menu": str(publication.menu_id),
                                                                     "reason": exc.reason})
            publication.status, publication.error = "published" if publication.tabs else "failed", exc.reason
            uow.menus.save_publication(publication)
    return done
