"""リッチメニュー use cases: richmenu-service keeps the menus, rules and 災害時モード (its API.md); the console
checks the member's role in the menu's department again, asks on behalf of the member, and writes every change
the service accepted to the 操作ログ in its unit of work (nothing when it refused).

Who may do what (the service checks the same on the token's roles): read: every staff member (menus of every
department are visible: a resident sees them all); edit a menu: 作成者 in its department; publish and rules:
承認者 in the menu's department; 災害時モード: 承認者 in any department (a disaster does not wait for the right
department). システム管理者 may do everything.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from cityline_common.internal_auth import StaffClaims

from admin_ui.adapters.internal_api import AbstractInternalApi
from admin_ui.domain import commands as c
from admin_ui.domain.accounts import StaffMember
from admin_ui.domain.permissions import NotAllowed, Permission, allowed, check_department
from admin_ui.domain.richmenus import (
    DISASTER_CONFIRMATION,
    IMAGE_MAX_BYTES,
    IMAGE_TYPES,
    DisasterPage,
    LayoutTemplate,
    Menu,
    MenuForm,
    Problem,
    RichMenuFormError,
    RichMenuList,
    RichMenuRefused,
    RichMenuRow,
    Rule,
    RuleList,
    RuleRow,
    Seen,
    TemplateCatalogue,
)
from admin_ui.service_layer.accounts import active_member
from admin_ui.service_layer.unit_of_work import AbstractAdminUnitOfWork


def _member_of(uow: AbstractAdminUnitOfWork, staff: StaffClaims) -> StaffMember:
    return active_member(uow, uuid.UUID(staff.staff_id))


def _department_names(uow: AbstractAdminUnitOfWork) -> dict[str, str]:
    return {department.code: department.name for department in uow.departments.list_all()}


def _record(uow: AbstractAdminUnitOfWork, member: StaffMember, action: str, target: str, *, department: str | None,
            address: str | None, before: Any = None, after: Any = None) -> None:
    uow.audit.record(actor=str(member.id), actor_login=member.login_id, action=action, target=target,
                     department=department, source=address, before=before, after=after)


def _content(menu: Menu) -> dict[str, Any]:
    """What the 操作ログ keeps of a menu: enough to see what an edit changed (images by their hash)."""
    return {"title": menu.title, "version": menu.version, "status": menu.status, "tabs": [
        {"aliasId": tab.alias_id, "name": tab.name, "chatBarText": tab.chat_bar_text,
         "size": [tab.width, tab.height], "image": tab.image.sha256 if tab.image else None,
         "areas": [{"bounds": [a.x, a.y, a.width, a.height], "action": dict(a.action)} for a in tab.areas]}
        for tab in menu.tabs]}


def _rule_content(rule: Rule) -> dict[str, Any]:
    return {"kind": rule.kind, "menuId": rule.menu_id, "segmentId": rule.segment_id, "priority": rule.priority,
            "startsAt": rule.starts_at.isoformat() if rule.starts_at else None,
            "endsAt": rule.ends_at.isoformat() if rule.ends_at else None}


def _open(internal: AbstractInternalApi, uow: AbstractAdminUnitOfWork, staff: StaffClaims, menu_id: uuid.UUID,
          permission: Permission) -> tuple[StaffMember, Menu]:
    member = _member_of(uow, staff)
    menu = internal.richmenu(staff, str(menu_id))
    check_department(member, permission, menu.department)
    return member, menu


def show_menus(internal: AbstractInternalApi) -> Callable[[c.ShowRichMenus, AbstractAdminUnitOfWork], RichMenuList]:
    def handler(command: c.ShowRichMenus, uow: AbstractAdminUnitOfWork) -> RichMenuList:
        _member_of(uow, command.staff)
        try:
            menus = internal.richmenus(command.staff)
        except RichMenuRefused:
            return RichMenuList(None, None, None)
        try:
            rules = internal.richmenu_rules(command.staff)
        except RichMenuRefused:
            rules = None
        try:
            disaster = internal.disaster(command.staff)
        except RichMenuRefused:
            disaster = None
        names = _department_names(uow)
        naming = {menu.id: tuple(r for r in rules.rules if r.menu_id == menu.id) if rules else () for menu in menus}
        rows = tuple(RichMenuRow(menu, names.get(menu.department, menu.department), naming[menu.id]) for menu in menus)
        return RichMenuList(rows, disaster, rules.line_default if rules else None)

    return handler


def open_menu(internal: AbstractInternalApi) -> Callable[[c.OpenRichMenu, AbstractAdminUnitOfWork], Menu]:
    def handler(command: c.OpenRichMenu, uow: AbstractAdminUnitOfWork) -> Menu:
        _member_of(uow, command.staff)
        return internal.richmenu(command.staff, str(command.menu_id))

    return handler


def save_menu(internal: AbstractInternalApi) -> Callable[[c.SaveRichMenu, AbstractAdminUnitOfWork], Menu]:
    def handler(command: c.SaveRichMenu, uow: AbstractAdminUnitOfWork) -> Menu:
        member = active_member(uow, command.actor_id)
        if command.menu_id is None:
            check_department(member, Permission.EDIT_ITEMS, command.form.department)
            body = command.form.create_body()
            created = internal.create_richmenu(command.staff, body)
            _record(uow, member, "richmenu.create", created, department=command.form.department,
                    address=command.address, after=body)
            return internal.richmenu(command.staff, created)
        member, existing = _open(internal, uow, command.staff, command.menu_id, Permission.EDIT_ITEMS)
        body = command.form.update_body()
        if body == {**MenuForm.from_menu(existing).update_body(), "version": body["version"]}:
            return existing  # nothing changed (e.g. only an image is uploaded): no new version, nothing to record
        saved = internal.update_richmenu(command.staff, existing.id, body)
        _record(uow, member, "richmenu.update", saved.id, department=saved.department, address=command.address,
                before=_content(existing), after=_content(saved))
        return saved

    return handler


def delete_menu(internal: AbstractInternalApi) -> Callable[[c.DeleteRichMenu, AbstractAdminUnitOfWork], None]:
    def handler(command: c.DeleteRichMenu, uow: AbstractAdminUnitOfWork) -> None:
        member, existing = _open(internal, uow, command.staff, command.menu_id, Permission.EDIT_ITEMS)
        internal.delete_richmenu(command.staff, existing.id)
        _record(uow, member, "richmenu.delete", existing.id, department=existing.department, address=command.address,
                before=_content(existing))

    return handler


def upload_image(internal: AbstractInternalApi) -> Callable[[c.UploadRichMenuImage, AbstractAdminUnitOfWork], Menu]:
    def handler(command: c.UploadRichMenuImage, uow: AbstractAdminUnitOfWork) -> Menu:
        def refuse(text: str) -> RichMenuFormError:
            return RichMenuFormError([Problem(command.tab, 0, "image", text)])

        if command.content_type not in IMAGE_TYPES:
            raise refuse("画像は PNG か JPEG のファイルを選んでください。")
        if not command.content or len(command.content) > IMAGE_MAX_BYTES:
            raise refuse("画像は 1MB（1,000KB）以内のファイルを選んでください。")
        member, existing = _open(internal, uow, command.staff, command.menu_id, Permission.EDIT_ITEMS)
        saved = internal.upload_richmenu_image(command.staff, existing.id, command.tab, command.content,
                                               command.content_type)
        image = saved.tabs[command.tab - 1].image if 0 < command.tab <= len(saved.tabs) else None
        _record(uow, member, "richmenu.image_upload", saved.id, department=saved.department, address=command.address,
                after={"tab": command.tab, "contentType": command.content_type, "bytes": len(command.content),
                       "sha256": image.sha256 if image else None, "version": saved.version})
        return saved

    return handler


def _template(catalogue: TemplateCatalogue, template_id: str, tab: int = 0) -> LayoutTemplate:
    template = catalogue.get(template_id)
    if template is None:
        raise RichMenuFormError([Problem(tab, 0, "template", "テンプレートを選んでください。")])
    return template


def save_design(internal: AbstractInternalApi) -> Callable[[c.SaveRichMenuDesign, AbstractAdminUnitOfWork], Menu]:
    def handler(command: c.SaveRichMenuDesign, uow: AbstractAdminUnitOfWork) -> Menu:
        member, existing = _open(internal, uow, command.staff, command.menu_id, Permission.EDIT_ITEMS)
        template = _template(internal.richmenu_templates(command.staff), command.form.template_id, command.tab)
        design, actions = command.form.design(template), command.form.actions_json(template)
        saved = internal.save_richmenu_design(command.staff, existing.id, command.tab, design, actions)
        _record(uow, member, "richmenu.design", saved.id, department=saved.department, address=command.address,
                before=_content(existing), after={"tab": command.tab, "design": design, "actions": actions,
                                                  "version": saved.version})
        return saved

    return handler


def publish_menu(internal: AbstractInternalApi) -> Callable[[c.PublishRichMenu, AbstractAdminUnitOfWork], Menu | None]:
    def handler(command: c.PublishRichMenu, uow: AbstractAdminUnitOfWork) -> Menu | None:
        member, existing = _open(internal, uow, command.staff, command.menu_id, Permission.APPROVE_ITEMS)
        published = internal.publish_richmenu(command.staff, existing.id, command.version)
        after = ({"queued": True, "version": command.version} if published is None
                 else {"status": published.status, "version": published.version})
        _record(uow, member, "richmenu.publish", existing.id, department=existing.department, address=command.address,
                before={"status": existing.status, "version": existing.version}, after=after)
        return published

    return handler


def show_image(
    internal: AbstractInternalApi,
) -> Callable[[c.ShowRichMenuImage, AbstractAdminUnitOfWork], tuple[bytes, str]]:
    def handler(command: c.ShowRichMenuImage, uow: AbstractAdminUnitOfWork) -> tuple[bytes, str]:
        _member_of(uow, command.staff)
        return internal.richmenu_image(command.staff, str(command.menu_id), command.tab)

    return handler


def export_menu(internal: AbstractInternalApi) -> Callable[[c.ExportRichMenu, AbstractAdminUnitOfWork], bytes]:
    def handler(command: c.ExportRichMenu, uow: AbstractAdminUnitOfWork) -> bytes:
        member = active_member(uow, command.actor_id)
        menu = internal.richmenu(command.staff, str(command.menu_id))
        exported = internal.export_richmenu(command.staff, menu.id)
        _record(uow, member, "richmenu.export", menu.id, department=menu.department, address=command.address,
                after={"version": menu.version, "bytes": len(exported)})
        return exported

    return handler


def show_templates(
    internal: AbstractInternalApi,
) -> Callable[[c.ShowRichMenuTemplates, AbstractAdminUnitOfWork], TemplateCatalogue]:
    def handler(command: c.ShowRichMenuTemplates, uow: AbstractAdminUnitOfWork) -> TemplateCatalogue:
        _member_of(uow, command.staff)
        return internal.richmenu_templates(command.staff)

    return handler


def preview_template(
    internal: AbstractInternalApi,
) -> Callable[[c.PreviewRichMenuTemplate, AbstractAdminUnitOfWork], bytes]:
    def handler(command: c.PreviewRichMenuTemplate, uow: AbstractAdminUnitOfWork) -> bytes:
        _member_of(uow, command.staff)
        template = _template(internal.richmenu_templates(command.staff), command.form.template_id)
        return internal.preview_richmenu_template(command.staff, command.form.design(template, command.placeholder))

    return handler


def show_rules(internal: AbstractInternalApi) -> Callable[[c.ShowRichMenuRules, AbstractAdminUnitOfWork], RuleList]:
    def handler(command: c.ShowRichMenuRules, uow: AbstractAdminUnitOfWork) -> RuleList:
        _member_of(uow, command.staff)
        found = internal.segments(command.staff)
        segments = None if found is None else tuple(sorted(((s.id, s.name) for s in found), key=lambda s: s[1]))
        try:
            rules = internal.richmenu_rules(command.staff)
            menus = tuple(internal.richmenus(command.staff))
        except RichMenuRefused:
            return RuleList(None, (), (), segments)
        names, segment_names = _department_names(uow), dict(segments or ())
        rows = tuple(RuleRow(rule, segment_names.get(rule.segment_id) if rule.segment_id else None,
                             names.get(rule.department, rule.department)) for rule in rules.rules)
        return RuleList(rules, rows, menus, segments)

    return handler


def _rule(internal: AbstractInternalApi, staff: StaffClaims, rule_id: uuid.UUID) -> Rule:
    found = next((r for r in internal.richmenu_rules(staff).rules if r.id == str(rule_id)), None)
    if found is None:
        raise RichMenuRefused("その表示ルールはありません。", 404, "not_found")
    return found


def save_rule(internal: AbstractInternalApi) -> Callable[[c.SaveRichMenuRule, AbstractAdminUnitOfWork], Rule]:
    def handler(command: c.SaveRichMenuRule, uow: AbstractAdminUnitOfWork) -> Rule:
        member = active_member(uow, command.actor_id)
        body = command.form.body()
        menu = internal.richmenu(command.staff, command.form.menu_id)
        check_department(member, Permission.APPROVE_ITEMS, menu.department)
        existing = None
        if command.rule_id is not None:
            existing = _rule(internal, command.staff, command.rule_id)
            check_department(member, Permission.APPROVE_ITEMS, existing.department)
        saved = internal.save_richmenu_rule(command.staff, None if existing is None else existing.id, body)
        _record(uow, member, "richmenu_rule.update" if existing else "richmenu_rule.create", saved.id,
                department=saved.department or menu.department, address=command.address,
                before=_rule_content(existing) if existing else None, after=_rule_content(saved))
        return saved

    return handler


def delete_rule(internal: AbstractInternalApi) -> Callable[[c.DeleteRichMenuRule, AbstractAdminUnitOfWork], None]:
    def handler(command: c.DeleteRichMenuRule, uow: AbstractAdminUnitOfWork) -> None:
        member = active_member(uow, command.actor_id)
        existing = _rule(internal, command.staff, command.rule_id)
        check_department(member, Permission.APPROVE_ITEMS, existing.department)
        internal.delete_richmenu_rule(command.staff, existing.id)
        _record(uow, member, "richmenu_rule.delete", existing.id, department=existing.department,
                address=command.address, before=_rule_content(existing))

    return handler


def preview_resident(internal: AbstractInternalApi) -> Callable[[c.PreviewResidentMenu, AbstractAdminUnitOfWork], Seen]:
    def handler(command: c.PreviewResidentMenu, uow: AbstractAdminUnitOfWork) -> Seen:
        _member_of(uow, command.staff)
        body: dict[str, Any] = {"at": command.at} if command.at else {}
        if command.resident_id:
            body["residentId"] = command.resident_id
        else:
            body["segmentIds"] = list(command.segment_ids)
        return internal.preview_richmenu(command.staff, body)

    return handler


def show_disaster(internal: AbstractInternalApi) -> Callable[[c.ShowDisaster, AbstractAdminUnitOfWork], DisasterPage]:
    def handler(command: c.ShowDisaster, uow: AbstractAdminUnitOfWork) -> DisasterPage:
        _member_of(uow, command.staff)
        try:
            disaster = internal.disaster(command.staff)
            menus = tuple(internal.richmenus(command.staff))
        except RichMenuRefused:
            return DisasterPage(None, (), None)
        try:
            changes: tuple[Any, ...] | None = tuple(internal.richmenu_changes(command.staff))
        except RichMenuRefused:
            changes = None
        return DisasterPage(disaster, menus, changes)

    return handler


def switch_disaster(internal: AbstractInternalApi) -> Callable[[c.SwitchDisaster, AbstractAdminUnitOfWork], bool]:
    def handler(command: c.SwitchDisaster, uow: AbstractAdminUnitOfWork) -> bool:
        member = active_member(uow, command.actor_id)
        if not allowed(member, Permission.APPROVE_ITEMS):
            raise NotAllowed("災害時モード needs 承認者 in a department, or システム管理者")
        if not command.confirmed:
            raise RichMenuFormError([Problem(0, 0, "confirm",
                                             "確認の画面で「災害時モード」の切り替えを確かめてください。")])
        before = internal.disaster(command.staff)
        body: dict[str, Any] = {"on": command.on, "confirm": DISASTER_CONFIRMATION}
        if command.on and command.menu_id:
            body["menuId"] = command.menu_id
        changed = internal.switch_disaster(command.staff, body)
        if changed:
            _record(uow, member, "richmenu.disaster_on" if command.on else "richmenu.disaster_off", "disaster",
                    department=None, address=command.address,
                    before={"on": before.on, "menuId": before.menu_id},
                    after={"on": command.on, "menuId": command.menu_id if command.on else before.menu_id})
        return changed

    return handler
