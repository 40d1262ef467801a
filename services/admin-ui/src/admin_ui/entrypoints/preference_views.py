"""受信設定の項目, 友だち分析 and あいさつメッセージ screens (thin: commands on the bus).

* ``GET /preferences/items``: every staff member reads the current items, how many friends chose
  each, and every version with what it changed;
* ``GET|POST /preferences/items/edit``: システム管理者 edits; ``action=preview`` asks segment-service
  what publishing would move (nothing changes), ``action=publish`` publishes the same draft;
* ``GET /analytics/friends[?district=key]``: 友だち分析 for every staff member;
* ``GET|POST /settings/greetings``: the greetings on follow and re-follow (システム管理者).
"""

from __future__ import annotations

from collections.abc import Callable

from cityline_common.internal_auth import StaffClaims
from flask import Flask, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from admin_ui.bootstrap import AdminUi
from admin_ui.domain.commands import (
    PreviewPreferenceItems,
    PublishPreferenceItems,
    SetAccountText,
    ShowAccountTexts,
    ShowFriendAnalysis,
    ShowPreferenceItems,
)
from admin_ui.domain.friend_analysis import NO_DISTRICT
from admin_ui.domain.permissions import DepartmentForbidden, Permission
from admin_ui.domain.preference_items import DIMENSION_LABELS, DIMENSIONS, ItemsDraft, ItemsFormError, ItemsPreview
from admin_ui.domain.segments import SegmentRefused
from admin_ui.entrypoints.access import requires
from admin_ui.service_layer.preference_items import TEXT_LABELS

TEXT_MAX = 1000  # segment-service's limit (a greeting is read on a phone)


def register_preference_views(app: Flask, service: AdminUi, claims: Callable[[], StaffClaims],
                              address: Callable[[], str]) -> None:
    bus = service.bus

    def unavailable(status: int = 502) -> ResponseReturnValue:
        message = _("受信設定・セグメント機能に接続できませんでした。しばらくしてからもう一度お試しください。")
        return render_template("error.html", title=_("受信設定の項目"), message=message), status

    @app.get("/preferences/items")
    @requires(Permission.VIEW_DASHBOARD)
    def preference_items() -> ResponseReturnValue:
        page = bus.handle(ShowPreferenceItems(claims()))
        return render_template("preference_items.html", page=page, dimensions=DIMENSIONS, labels=DIMENSION_LABELS,
                               published=request.args.get("published"))

    def editor(draft: ItemsDraft, status: int = 200, *, preview: ItemsPreview | None = None,
               problems: list[str] | None = None) -> ResponseReturnValue:
        return render_template("preference_items_edit.html", draft=draft, dimensions=DIMENSIONS,
                               labels=DIMENSION_LABELS, preview=preview, problems=problems or []), status

    @app.route("/preferences/items/edit", methods=["GET", "POST"])
    @requires(Permission.MANAGE_SETTINGS)
    def preference_items_edit() -> ResponseReturnValue:  # noqa: PLR0911 - one return per outcome
        page = bus.handle(ShowPreferenceItems(claims()))
        if page.draft is None:
            return unavailable()
        if request.method == "GET":
            return editor(page.draft)
        if request.form.get("version") != str(page.draft.version):
            stale = _("編集中に別の版が公開されました。最新の項目から変更し直してください。")
            return editor(page.draft, 409, problems=[stale])
        try:
            draft = page.draft.with_form(request.form)
        except ItemsFormError as exc:
            return editor(page.draft, 400, problems=[_(message, **arguments) for message, arguments in exc.problems])
        try:
            preview = bus.handle(PreviewPreferenceItems(claims(), draft))
            if request.form.get("action") != "publish" or preview.problems or not draft.changed():
                return editor(draft, 400 if preview.problems else 200, preview=preview)
            if request.form.get("previewed") != draft.fingerprint():  # changed after the preview was shown
                changed = _("確認した後に内容が変わりました。もう一度確かめてから公開してください。")
                return editor(draft, preview=preview, problems=[changed])
            version = bus.handle(PublishPreferenceItems(g.staff.id, claims(), draft, address()))
        except DepartmentForbidden:
            return render_template("error.html", title=_("アクセスできません"),
                                   message=_("このページを見る権限がありません。")), 403
        except SegmentRefused as exc:
            if exc.status is None or exc.status >= 500:
                return unavailable()
            return editor(draft, 409 if exc.status == 409 else 400,
                          problems=[_("公開できませんでした: %(reason)s", reason=exc.reason)])
        return redirect(url_for("preference_items", published=version))

    @app.get("/analytics/friends")
    @requires(Permission.VIEW_DASHBOARD)
    def friend_analysis() -> ResponseReturnValue:
        analysis = bus.handle(ShowFriendAnalysis(claims()))
        chosen = request.args.get("district")
        selected = None
        if analysis is not None and chosen is not None:
            key = None if chosen == NO_DISTRICT else chosen[:40]
            selected = analysis.district(key)
            if selected is None and key not in dict(analysis.labels.get("districts", ())):
                return render_template("error.html", title=_("友だち分析"), message=_("その地区はありません。")), 404
        return render_template("friend_analysis.html", analysis=analysis, chosen=chosen, selected=selected,
                               friends=analysis.growth if analysis else None,
                               chart=analysis.growth.chart() if analysis and analysis.growth else None,
                               no_district=NO_DISTRICT)

    @app.route("/settings/greetings", methods=["GET", "POST"])
    @requires(Permission.MANAGE_SETTINGS)
    def account_texts() -> ResponseReturnValue:
        problems: list[str] = []
        if request.method == "POST":
            key, text = request.form.get("key", ""), request.form.get("text", "").replace("\r\n", "\n").strip()
            if not text or len(text) > TEXT_MAX:
                problems.append(_("あいさつは1〜%(max)s文字で入力してください。", max=TEXT_MAX))
            else:
                try:
                    bus.handle(SetAccountText(g.staff.id, claims(), key[:64], text, address()))
                    return redirect(url_for("account_texts", saved=key[:64]))
                except SegmentRefused as exc:
                    if exc.status is None or exc.status >= 500:
                        return unavailable()
                    problems.append(_("保存できませんでした: %(reason)s", reason=exc.reason))
        texts = bus.handle(ShowAccountTexts(claims()))
        if texts is None:
            return unavailable()
        return render_template("account_texts.html", texts=texts, labels=TEXT_LABELS, problems=problems,
                               saved=request.args.get("saved"), max=TEXT_MAX), 400 if problems else 200
