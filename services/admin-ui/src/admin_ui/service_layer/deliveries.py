"""配信 use cases: the dispatcher keeps deliveries, approvals and sends and checks every rule again; the
console checks the member's department rules first, asks on behalf of the member, and writes every
change the dispatcher accepted to the 操作ログ in its unit of work (nothing when it refused)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from cityline_common.internal_auth import StaffClaims

from admin_ui.adapters.internal_api import AbstractInternalApi
from admin_ui.domain import commands as c
from admin_ui.domain.accounts import StaffMember
from admin_ui.domain.deliveries import (
    ACTIONS,
    Asset,
    ComposeChoices,
    Delivery,
    DeliveryFormError,
    DeliveryList,
    DeliveryRefused,
    DeliveryRow,
    RecipientCount,
    Statistics,
    Summary,
)
from admin_ui.domain.permissions import (
    DepartmentForbidden,
    Permission,
    allowed,
    check_department,
    departments_where,
)
from admin_ui.domain.segments import SegmentRefused, builder_choices
from admin_ui.service_layer.accounts import active_member
from admin_ui.service_layer.unit_of_work import AbstractAdminUnitOfWork

# Which console permission each action needs in the delivery's department (the dispatcher checks again).
ACTION_PERMISSIONS: dict[str, tuple[Permission, ...]] = {
    "submit": (Permission.EDIT_ITEMS,),
    "approve": (Permission.APPROVE_ITEMS,),
    "reject": (Permission.APPROVE_ITEMS,),
    **{action: (Permission.EDIT_ITEMS, Permission.APPROVE_ITEMS)
       for action in ("schedule", "confirm", "start", "pause", "resume", "cancel")},
}
IMAGE_TYPES = ("image/jpeg", "image/png")
IMAGE_MAX_BYTES = 10 * 1024 * 1024


def _member_of(uow: AbstractAdminUnitOfWork, staff: StaffClaims) -> StaffMember:
    return active_member(uow, uuid.UUID(staff.staff_id))


def _listed(uow: AbstractAdminUnitOfWork, found: list[Summary], labels: dict[str, str]) -> tuple[DeliveryRow, ...]:
    names = {department.code: department.name for department in uow.departments.list_all()}
    return tuple(DeliveryRow(each, names.get(each.department, each.department),
                             labels.get(each.category, each.category)) for each in found)


def _category_labels(internal: AbstractInternalApi, staff: StaffClaims) -> dict[str, str]:
    body = internal.taxonomy(staff)
    try:
        return {item.key: item.label for item in builder_choices(body).groups.get("category", ())}
    except (KeyError, TypeError, ValueError, AttributeError):
        return {}


def show_deliveries(
    internal: AbstractInternalApi,
) -> Callable[[c.ShowDeliveries, AbstractAdminUnitOfWork], DeliveryList]:
    def handler(command: c.ShowDeliveries, uow: AbstractAdminUnitOfWork) -> DeliveryList:
        member = _member_of(uow, command.staff)
        visible = departments_where(member, Permission.VIEW_ITEMS)
        try:
            found = internal.deliveries(command.staff, status=command.status)
        except DeliveryRefused:
            return DeliveryList(None, None)
        found = [each for each in found if visible is None or each.department in visible]
        awaiting: int | None = None
        if allowed(member, Permission.APPROVE_ITEMS):
            try:
                awaiting = len(internal.deliveries(command.staff, awaiting_me=True))
            except DeliveryRefused:
                awaiting = None
        return DeliveryList(_listed(uow, found, _category_labels(internal, command.staff)), awaiting)

    return handler


def show_approvals(internal: AbstractInternalApi) -> Callable[[c.ShowApprovals, AbstractAdminUnitOfWork], DeliveryList]:
    def handler(command: c.ShowApprovals, uow: AbstractAdminUnitOfWork) -> DeliveryList:
        member = _member_of(uow, command.staff)
        approvable = departments_where(member, Permission.APPROVE_ITEMS)
        try:
            found = internal.deliveries(command.staff, awaiting_me=True)
        except DeliveryRefused:
            return DeliveryList(None, None)
        found = [each for each in found if (approvable is None or each.department in approvable)
                 and each.author_id != command.staff.staff_id]
        return DeliveryList(_listed(uow, found, _category_labels(internal, command.staff)), len(found))

    return handler


def _open(internal: AbstractInternalApi, uow: AbstractAdminUnitOfWork, staff: StaffClaims,
          delivery_id: uuid.UUID, permission: Permission = Permission.VIEW_ITEMS) -> tuple[StaffMember, Delivery]:
    member = _member_of(uow, staff)
    delivery = internal.delivery(staff, str(delivery_id))
    check_department(member, permission, delivery.department)
    return member, delivery


def open_delivery(internal: AbstractInternalApi) -> Callable[[c.OpenDelivery, AbstractAdminUnitOfWork], Delivery]:
    def handler(command: c.OpenDelivery, uow: AbstractAdminUnitOfWork) -> Delivery:
        return _open(internal, uow, command.staff, command.delivery_id)[1]

    return handler


def show_compose_choices(
    internal: AbstractInternalApi,
) -> Callable[[c.ShowComposeChoices, AbstractAdminUnitOfWork], ComposeChoices]:
    def handler(command: c.ShowComposeChoices, uow: AbstractAdminUnitOfWork) -> ComposeChoices:
        member = _member_of(uow, command.staff)
        visible = departments_where(member, Permission.VIEW_ITEMS)
        try:
            categories: tuple[tuple[str, str], ...] | None = tuple(
                (item.key, item.label) for item in builder_choices(internal.taxonomy(command.staff)).groups["category"])
        except (KeyError, TypeError, ValueError, AttributeError):
            categories = None
        found = internal.segments(command.staff)
        segments = None if found is None else tuple(
            (each.id, each.name, each.department) for each in found if visible is None or each.department in visible)
        templates = None
        if command.department:
            try:
                templates = tuple(internal.delivery_templates(command.staff, command.department))
            except DeliveryRefused:
                templates = None
        try:
            phones = tuple(each for each in internal.test_recipients(command.staff)
                           if not command.department or not each.department or each.department == command.department)
        except DeliveryRefused:
            phones = None
        return ComposeChoices(categories, segments, templates, phones)

    return handler


def _record(uow: AbstractAdminUnitOfWork, member: StaffMember, action: str, target: str, *, department: str,
            address: str | None, before: Any = None, after: Any = None) -> None:
    uow.audit.record(actor=str(member.id), actor_login=member.login_id, action=action, target=target,
                     department=department, source=address, before=before, after=after)


def _content(delivery: Delivery) -> dict[str, Any]:
    return {"title": delivery.title, "category": delivery.category, "messages": list(delivery.messages),
            "target": delivery.target, "schedule": delivery.schedule, "version": delivery.version}


def save_delivery(internal: AbstractInternalApi) -> Callable[[c.SaveDelivery, AbstractAdminUnitOfWork], str]:
    def handler(command: c.SaveDelivery, uow: AbstractAdminUnitOfWork) -> str:
        member = active_member(uow, command.actor_id)
        body = command.form.body()
        check_department(member, Permission.EDIT_ITEMS, command.form.department)
        if command.delivery_id is None:
            created = internal.create_delivery(command.staff, body)
            _record(uow, member, "delivery.create", created, department=command.form.department,
                    address=command.address,
                    after=body)
            return created
        if command.form.version is None:
            raise DeliveryFormError(["編集を始めた版がわかりません。画面を開き直してください。"])
        _member_again, existing = _open(internal, uow, command.staff, command.delivery_id, Permission.EDIT_ITEMS)
        if existing.department != command.form.department:
            raise DeliveryFormError(["作成後に課は変えられません。"])
        change = {key: value for key, value in body.items() if key != "department"}
        saved = internal.update_delivery(command.staff, str(command.delivery_id),
                                         {**change, "version": command.form.version})
        _record(uow, member, "delivery.update", saved.id, department=saved.department, address=command.address,
                before=_content(existing), after=_content(saved))
        return saved.id

    return handler


def act_on_delivery(internal: AbstractInternalApi) -> Callable[[c.ActOnDelivery, AbstractAdminUnitOfWork], Delivery]:
    def handler(command: c.ActOnDelivery, uow: AbstractAdminUnitOfWork) -> Delivery:
        if command.action not in ACTIONS:
            raise DeliveryFormError(["その操作はできません。"])
        comment = command.comment.replace("\r\n", "\n").strip()[:1000]
        if command.action == "reject" and not comment:
            raise DeliveryFormError(["差し戻す理由をコメントに入力してください。"])
        member, existing = _open(internal, uow, command.staff, command.delivery_id)
        if not any(allowed(member, p, existing.department) for p in ACTION_PERMISSIONS[command.action]):
            raise DepartmentForbidden(f"{command.action} in {existing.department}")
        body: dict[str, Any] = {"version": command.version}
        if comment:
            body["comment"] = comment
        if command.action == "schedule" and command.send_at:
            body["sendAt"] = command.send_at
        done = internal.delivery_action(command.staff, str(command.delivery_id), command.action, body)
        _record(uow, member, f"delivery.{command.action}", done.id, department=done.department, address=command.address,
                before={"status": existing.status, "version": existing.version},
                after={"status": done.status, "version": done.version, **({"comment": comment} if comment else {}),
                       **({"sendAt": command.send_at} if "sendAt" in body else {})})
        return done

    return handler


def count_delivery(
    internal: AbstractInternalApi,
) -> Callable[[c.CountDelivery, AbstractAdminUnitOfWork], RecipientCount]:
    def handler(command: c.CountDelivery, uow: AbstractAdminUnitOfWork) -> RecipientCount:
        _open(internal, uow, command.staff, command.delivery_id)
        return internal.count_delivery(command.staff, str(command.delivery_id))

    return handler


def count_target(internal: AbstractInternalApi) -> Callable[[c.CountTarget, AbstractAdminUnitOfWork], RecipientCount]:
    def handler(command: c.CountTarget, uow: AbstractAdminUnitOfWork) -> RecipientCount:
        target = command.target
        if target.kind == "everyone":
            counts = internal.resident_counts(command.staff)
            if counts is None or "following" not in counts:
                raise SegmentRefused("segment-service is not available")
            return RecipientCount(counts["following"])
        if target.kind == "segment":
            segment = internal.segment(command.staff, target.segment_id) if target.segment_id else None
            if segment is None:
                raise SegmentRefused("no such segment", 404)
            expression = segment.expression
        else:
            problems: list[str] = []
            expression = target.to_json(problems)["expression"]
            if problems:
                raise SegmentRefused(problems[0], 400)
        counted = internal.count_segment(command.staff, expression, target.unanswered)
        return RecipientCount(counted.recipients, counted.matching, counted.unanswered, counted.unanswered_included)

    return handler


def send_test(internal: AbstractInternalApi) -> Callable[[c.SendTestDelivery, AbstractAdminUnitOfWork], int]:
    def handler(command: c.SendTestDelivery, uow: AbstractAdminUnitOfWork) -> int:
        if not command.recipient_ids:
            raise DeliveryFormError(["テスト配信の送り先を選んでください。"])
        member = active_member(uow, command.actor_id)
        _who, delivery = _open(internal, uow, command.staff, command.delivery_id, Permission.EDIT_ITEMS)
        sent = internal.test_delivery(command.staff, delivery.id, list(command.recipient_ids))
        _record(uow, member, "delivery.test", delivery.id, department=delivery.department, address=command.address,
                after={"testRecipientIds": list(command.recipient_ids), "sent": sent, "version": delivery.version})
        return sent

    return handler


def show_statistics(
    internal: AbstractInternalApi,
) -> Callable[[c.ShowDeliveryStatistics, AbstractAdminUnitOfWork], Statistics]:
    def handler(command: c.ShowDeliveryStatistics, uow: AbstractAdminUnitOfWork) -> Statistics:
        _open(internal, uow, command.staff, command.delivery_id)
        return internal.delivery_statistics(command.staff, str(command.delivery_id))

    return handler


def upload_image(internal: AbstractInternalApi) -> Callable[[c.UploadDeliveryImage, AbstractAdminUnitOfWork], Asset]:
    def handler(command: c.UploadDeliveryImage, uow: AbstractAdminUnitOfWork) -> Asset:
        member = active_member(uow, command.actor_id)
        check_department(member, Permission.EDIT_ITEMS, command.department)
        if command.content_type not in IMAGE_TYPES:
            raise DeliveryFormError(["画像は JPEG か PNG のファイルを選んでください。"])
        if not command.content or len(command.content) > IMAGE_MAX_BYTES:
            raise DeliveryFormError(["画像は 10MB 以下のファイルを選んでください。"])
        asset = internal.upload_asset(command.staff, command.department, command.content, command.content_type)
        _record(uow, member, "delivery.image_upload", asset.id, department=command.department, address=command.address,
                after={"contentType": asset.content_type, "bytes": len(command.content)})
        return asset

    return handler


def save_template(internal: AbstractInternalApi) -> Callable[[c.SaveDeliveryTemplate, AbstractAdminUnitOfWork], str]:
    def handler(command: c.SaveDeliveryTemplate, uow: AbstractAdminUnitOfWork) -> str:
        member = active_member(uow, command.actor_id)
        name = command.name.strip()[:100]
        if not name:
            raise DeliveryFormError(["テンプレートの名前を入力してください。"])
        if not command.messages:
            raise DeliveryFormError(["メッセージを1件以上入力してください。"])
        check_department(member, Permission.EDIT_ITEMS, command.department)
        saved = internal.save_delivery_template(command.staff, command.department, name, list(command.messages))
        _record(uow, member, "delivery_template.create", saved, department=command.department, address=command.address,
                after={"name": name, "messages": list(command.messages)})
        return saved

    return handler


def show_image(
    internal: AbstractInternalApi,
) -> Callable[[c.ShowDeliveryImage, AbstractAdminUnitOfWork], tuple[bytes, str]]:
    def handler(command: c.ShowDeliveryImage, uow: AbstractAdminUnitOfWork) -> tuple[bytes, str]:
        _member_of(uow, command.staff)
        return internal.asset(command.staff, str(command.asset_id), "preview")

    return handler
