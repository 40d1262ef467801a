"""受信設定の項目, 友だち分析 and the greetings: segment-service keeps them; the console asks on behalf
of the member, and writes every publish and every change of a greeting to the 操作ログ in its unit of
work (the entry records what segment-service accepted: it is written only after its answer)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from admin_ui.adapters.internal_api import AbstractInternalApi
from admin_ui.domain import commands as c
from admin_ui.domain.friend_analysis import FriendAnalysis, parse_analysis
from admin_ui.domain.permissions import DepartmentForbidden, Permission, allowed
from admin_ui.domain.preference_items import ItemsDraft, ItemsPreview, ItemsVersion
from admin_ui.domain.segments import SegmentRefused
from admin_ui.service_layer.accounts import active_member
from admin_ui.service_layer.unit_of_work import AbstractAdminUnitOfWork

log = logging.getLogger(__name__)

TEXT_LABELS = {"greeting": "友だち追加のあいさつ", "greeting_refollow": "再び友だち追加した人へのあいさつ"}


def _admin(uow: AbstractAdminUnitOfWork, staff_id: uuid.UUID) -> Any:
    member = active_member(uow, staff_id)
    if not allowed(member, Permission.MANAGE_SETTINGS):
        raise DepartmentForbidden("受信設定の項目とあいさつはシステム管理者が変更します")
    return member


def _analysis(internal: AbstractInternalApi, command_staff: Any, growth_days: int | None) -> FriendAnalysis | None:
    choices = internal.resident_choices(command_staff)
    if choices is None:
        return None
    growth = internal.friend_figures(command_staff, growth_days) if growth_days else None
    try:
        return parse_analysis(choices, internal.taxonomy(command_staff), growth)
    except (KeyError, TypeError, ValueError, AttributeError):
        log.warning("segment-service answered a malformed tally of choices")
        return None


def show_items(internal: AbstractInternalApi) -> Callable[[c.ShowPreferenceItems, AbstractAdminUnitOfWork],
                                                          c.PreferenceItemsPage]:
    def handler(command: c.ShowPreferenceItems, uow: AbstractAdminUnitOfWork) -> c.PreferenceItemsPage:
        body = internal.taxonomy(command.staff)
        listed = internal.taxonomy_versions(command.staff)
        try:
            draft = ItemsDraft.of(body) if body is not None else None
        except (KeyError, TypeError, ValueError, AttributeError):
            draft = None
        try:
            versions = tuple(ItemsVersion.of(each) for each in listed["versions"]) if listed is not None else None
        except (KeyError, TypeError, ValueError, AttributeError):
            versions = None
        return c.PreferenceItemsPage(draft, versions, _analysis(internal, command.staff, None))

    return handler


def preview_items(internal: AbstractInternalApi) -> Callable[[c.PreviewPreferenceItems, AbstractAdminUnitOfWork],
                                                             ItemsPreview]:
    def handler(command: c.PreviewPreferenceItems, uow: AbstractAdminUnitOfWork) -> ItemsPreview:
        body = internal.preview_taxonomy(command.staff, command.draft.document(), command.draft.mappings())
        try:
            return ItemsPreview.of(body)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise SegmentRefused("segment-service answered a malformed preview") from None

    return handler


def publish_items(internal: AbstractInternalApi) -> Callable[[c.PublishPreferenceItems, AbstractAdminUnitOfWork],
                                                             int]:
    def handler(command: c.PublishPreferenceItems, uow: AbstractAdminUnitOfWork) -> int:
        member = _admin(uow, command.actor_id)
        current = internal.taxonomy(command.staff)
        if not isinstance(current, dict) or current.get("version") != command.draft.version:
            raise SegmentRefused("another version was published since this draft was made", 409)
        answer = internal.publish_taxonomy(command.staff, command.draft.document(), command.draft.mappings())
        if not isinstance(answer, dict) or not isinstance(answer.get("version"), int):
            raise SegmentRefused("segment-service answered a malformed publish")
        version = int(answer["version"])
        uow.audit.record(
            actor=str(member.id), actor_login=member.login_id, action="taxonomy.publish", target=f"v{version}",
            source=command.address, before={"version": command.draft.version, "document": dict(command.draft.base)},
            after={"version": version, "document": command.draft.document(), "mappings": command.draft.mappings()},
        )
        return version

    return handler


def show_analysis(internal: AbstractInternalApi) -> Callable[[c.ShowFriendAnalysis, AbstractAdminUnitOfWork],
                                                             FriendAnalysis | None]:
    def handler(command: c.ShowFriendAnalysis, uow: AbstractAdminUnitOfWork) -> FriendAnalysis | None:
        return _analysis(internal, command.staff, command.days)

    return handler


def show_texts(internal: AbstractInternalApi) -> Callable[[c.ShowAccountTexts, AbstractAdminUnitOfWork],
                                                          tuple[c.AccountText, ...] | None]:
    def handler(command: c.ShowAccountTexts, uow: AbstractAdminUnitOfWork) -> tuple[c.AccountText, ...] | None:
        body = internal.account_texts(command.staff)
        try:
            return tuple(c.AccountText(str(t["key"]), str(t["text"]), bool(t["default"]),
                                       None if t.get("updatedBy") is None else str(t["updatedBy"]))
                         for t in body["texts"]) if body is not None else None
        except (KeyError, TypeError, ValueError):
            return None

    return handler


def set_text(internal: AbstractInternalApi) -> Callable[[c.SetAccountText, AbstractAdminUnitOfWork], None]:
    def handler(command: c.SetAccountText, uow: AbstractAdminUnitOfWork) -> None:
        member = _admin(uow, command.actor_id)
        before = next((t for t in show_texts(internal)(c.ShowAccountTexts(command.staff), uow) or ()
                       if t.key == command.key), None)
        if before is None:
            raise SegmentRefused("no such text", 404)
        internal.set_account_text(command.staff, command.key, command.text)
        uow.audit.record(actor=str(member.id), actor_login=member.login_id, action="account_text.update",
                         target=command.key, source=command.address, before={"text": before.text},
                         after={"text": command.text})

    return handler
