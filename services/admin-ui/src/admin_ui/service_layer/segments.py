"""セグメント use cases: segment-service keeps the segments and counts; the console checks the
member's department rules again, asks on behalf of the member, and writes every save and delete to the
操作ログ in its unit of work."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from admin_ui.adapters.internal_api import AbstractInternalApi
from admin_ui.domain import commands as c
from admin_ui.domain.permissions import Permission, check_department, departments_where
from admin_ui.domain.segments import (
    BuilderChoices,
    SavedSegment,
    SegmentCount,
    SegmentFormError,
    SegmentList,
    SegmentRefused,
    SegmentRow,
    builder_choices,
)
from admin_ui.service_layer.accounts import active_member, login_names
from admin_ui.service_layer.unit_of_work import AbstractAdminUnitOfWork


def show_segments(internal: AbstractInternalApi) -> Callable[[c.ShowSegments, AbstractAdminUnitOfWork], SegmentList]:
    def handler(command: c.ShowSegments, uow: AbstractAdminUnitOfWork) -> SegmentList:
        member = active_member(uow, uuid.UUID(command.staff.staff_id))
        editable = departments_where(member, Permission.EDIT_ITEMS)
        found = internal.segments(command.staff)
        if found is None:
            return SegmentList(None, editable)
        names = {department.code: department.name for department in uow.departments.list_all()}
        logins = login_names(uow, (each.updated_by for each in found))
        rows = tuple(SegmentRow(each, names.get(each.department, each.department),
                                logins.get(each.updated_by, each.updated_by) if each.updated_by else None)
                     for each in found)
        return SegmentList(tuple(sorted(rows, key=lambda row: (row.department_name, row.segment.name))), editable)

    return handler


def show_builder(
    internal: AbstractInternalApi,
) -> Callable[[c.ShowSegmentBuilder, AbstractAdminUnitOfWork], BuilderChoices | None]:
    def handler(command: c.ShowSegmentBuilder, uow: AbstractAdminUnitOfWork) -> BuilderChoices | None:
        body = internal.taxonomy(command.staff)
        if body is None:
            return None
        try:
            return builder_choices(body)
        except (KeyError, TypeError, ValueError, AttributeError):
            return None

    return handler


def open_segment(
    internal: AbstractInternalApi,
) -> Callable[[c.OpenSegment, AbstractAdminUnitOfWork], SavedSegment | None]:
    def handler(command: c.OpenSegment, uow: AbstractAdminUnitOfWork) -> SavedSegment | None:
        return internal.segment(command.staff, str(command.segment_id))

    return handler


def count_segment(internal: AbstractInternalApi) -> Callable[[c.CountSegment, AbstractAdminUnitOfWork], SegmentCount]:
    def handler(command: c.CountSegment, uow: AbstractAdminUnitOfWork) -> SegmentCount:
        return internal.count_segment(command.staff, command.form.expression(), command.form.unanswered)

    return handler


def save_segment(internal: AbstractInternalApi) -> Callable[[c.SaveSegment, AbstractAdminUnitOfWork], str]:
    def handler(command: c.SaveSegment, uow: AbstractAdminUnitOfWork) -> str:
        member = active_member(uow, command.actor_id)
        form = command.form
        problems = []
        if not form.name:
            problems.append("名前を入力してください。")
        if not form.department:
            problems.append("課を選んでください。")
        if problems:
            raise SegmentFormError(problems)
        check_department(member, Permission.EDIT_ITEMS, form.department)
        before = None
        if command.segment_id is not None:
            existing = internal.segment(command.staff, str(command.segment_id))
            if existing is None:
                raise SegmentRefused("no such segment", 404)
            check_department(member, Permission.EDIT_ITEMS, existing.department)
            before = {"name": existing.name, "department": existing.department, "expression": existing.expression}
        saved = internal.save_segment(command.staff, None if command.segment_id is None
                                      else str(command.segment_id), form.name, form.department, form.expression())
        uow.audit.record(
            actor=str(member.id), actor_login=member.login_id,
            action="segment.create" if command.segment_id is None else "segment.update",
            target=saved, department=form.department, source=command.address, before=before,
            after={"name": form.name, "department": form.department, "expression": form.expression()},
        )
        return saved

    return handler


def delete_segment(internal: AbstractInternalApi) -> Callable[[c.DeleteSegment, AbstractAdminUnitOfWork], None]:
    def handler(command: c.DeleteSegment, uow: AbstractAdminUnitOfWork) -> None:
        member = active_member(uow, command.actor_id)
        existing = internal.segment(command.staff, str(command.segment_id))
        if existing is None:
            raise SegmentRefused("no such segment", 404)
        check_department(member, Permission.EDIT_ITEMS, existing.department)
        internal.delete_segment(command.staff, str(command.segment_id))
        uow.audit.record(
            actor=str(member.id), actor_login=member.login_id, action="segment.delete", target=existing.id,
            department=existing.department, source=command.address,
            before={"name": existing.name, "department": existing.department, "expression": existing.expression},
        )

    return handler

