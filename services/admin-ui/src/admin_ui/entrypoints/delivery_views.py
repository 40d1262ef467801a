"""配信 screens (thin: commands on the bus; the dispatcher keeps the deliveries, ``services/dispatcher/API.md``).

* ``GET /deliveries[?status=]``: 配信一覧 for every staff member (their departments'), with the number
  awaiting the member's approval;
* ``GET|POST /deliveries/new`` and ``/deliveries/<id>/edit``: compose (作成者): messages with a phone-style
  preview (``static/delivery-preview.js``; without JavaScript 「プレビューを更新」 re-renders), templates,
  target with its count, schedule; ``action`` = preview / save / submit / apply_template / save_template;
* ``GET /deliveries/<id>``: detail — content as a phone shows it, what changed since the last review,
  recipients and the target in words, actions per ``allowedActions``, history, progress, statistics;
* ``POST /deliveries/<id>/action``: submit / approve / reject / schedule / confirm / start / pause /
  resume / cancel (the handler checks the role in the department; the dispatcher again);
* ``POST /deliveries/<id>/test``: テスト配信; ``GET /approvals``: the member's approval queue;
* ``GET /deliveries/assets/<id>``: an uploaded image's preview, proxied so the CSP's img-src 'self' holds;
* ``POST /api/deliveries/<id>/count``, ``POST /api/deliveries/count``, ``GET /api/deliveries/<id>/progress``:
  the live count and progress (JSON, for the page's scripts).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from cityline_common.internal_auth import StaffClaims
from flask import Flask, Response, abort, g, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from admin_ui.bootstrap import AdminUi
from admin_ui.domain.commands import (
    ActOnDelivery,
    CountDelivery,
    CountTarget,
    OpenDelivery,
    OpenSegment,
    SaveDelivery,
    SaveDeliveryTemplate,
    SendTestDelivery,
    ShowApprovals,
    ShowComposeChoices,
    ShowDeliveries,
    ShowDeliveryImage,
    ShowDeliveryStatistics,
    ShowSegmentBuilder,
    UploadDeliveryImage,
)
from admin_ui.domain.deliveries import (
    ACTION_LABELS,
    HOLIDAY_LABELS,
    KIND_LABELS,
    MAX_MESSAGES,
    STATUS_LABELS,
    TEXT_MAX,
    UNANSWERED_LABELS,
    WEEKDAY_KEYS,
    WEEKDAY_NAMES,
    Delivery,
    DeliveryForm,
    DeliveryFormError,
    DeliveryRefused,
    RecipientCount,
    Statistics,
    TargetForm,
    changes,
    describe_rule,
    describe_target,
)
from admin_ui.domain.permissions import DepartmentForbidden, Permission, allowed, departments_where
from admin_ui.domain.segments import SegmentForm, SegmentFormError, describe
from admin_ui.entrypoints.access import requires
from admin_ui.service_layer import accounts

UPLOAD_ENDPOINTS = {"delivery_new", "delivery_edit"}
UPLOAD_MAX_BYTES = MAX_MESSAGES * 10 * 1024 * 1024 + 512 * 1024  # five 10 MB images and the form
FINISHED = ("sent", "partly_failed", "cancelled")


def register_delivery_views(  # noqa: PLR0915 - one place lists every 配信 route
    app: Flask, service: AdminUi, claims: Callable[[], StaffClaims], address: Callable[[], str],
) -> None:
    bus = service.bus
    threshold = service.settings.second_confirmation_threshold

    def raise_upload_limit() -> None:
        """The compose page posts images (multipart); every other route keeps the small limit. Runs before
        the CSRF check reads the form."""
        if request.endpoint in UPLOAD_ENDPOINTS and request.method == "POST":
            request.max_content_length = UPLOAD_MAX_BYTES

    app.before_request_funcs.setdefault(None, []).insert(0, raise_upload_limit)

    def unavailable(title: str) -> ResponseReturnValue:
        message = _("配信の機能に接続できませんでした。しばらくしてからもう一度お試しください。")
        return render_template("error.html", title=title, message=message), 502

    def not_found() -> ResponseReturnValue:
        return render_template("error.html", title=_("見つかりません"), message=""), 404

    def refused_lines(exc: DeliveryRefused) -> list[str]:
        if exc.unavailable:
            return [str(_("配信の機能に接続できませんでした。しばらくしてからもう一度お試しください。"))]
        if exc.code == "stale_version":
            return [str(_("編集中に別の職員がこの配信を変更しました。"
                          "画面を開き直して、最新の内容から変更してください。"))]
        return [exc.reason or str(_("受け付けられませんでした。")), *exc.problems]

    def refused_status(exc: DeliveryRefused) -> int:
        if exc.unavailable:
            return 502
        return exc.status if exc.status in (400, 403, 404, 409) else 400

    def count_text(counted: RecipientCount) -> str:
        if counted.matching is None or counted.unanswered is None:
            return str(_("配信対象は %(recipients)s 人です。", recipients=f"{counted.recipients:,}"))
        figures = {"recipients": f"{counted.recipients:,}", "matching": f"{counted.matching:,}",
                   "unanswered": f"{counted.unanswered:,}"}
        if counted.unanswered_included:
            return str(_("配信対象は %(recipients)s 人です"
                         "（条件に合う人 %(matching)s 人と、未回答の友だち %(unanswered)s 人）。", **figures))
        return str(_("配信対象は %(recipients)s 人です"
                     "（条件に合う人 %(matching)s 人。未回答の友だち %(unanswered)s 人は含みません）。", **figures))

    def department_names() -> dict[str, str]:
        return {d.code: d.name for d in bus.query(accounts.department_list)}

    def editable_departments() -> list[Any]:
        editable = departments_where(g.staff, Permission.EDIT_ITEMS)
        return [d for d in bus.query(accounts.department_list) if editable is None or d.code in editable]

    def who(ids: set[str]) -> dict[str, str]:
        return bus.query(lambda uow: accounts.login_names(uow, ids))

    common = {"status_labels": STATUS_LABELS, "action_labels": ACTION_LABELS, "kind_labels": KIND_LABELS,
              "holiday_labels": HOLIDAY_LABELS, "weekdays": list(zip(WEEKDAY_KEYS, WEEKDAY_NAMES, strict=True)),
              "unanswered_labels": UNANSWERED_LABELS, "text_max": TEXT_MAX, "threshold": threshold}

    # --- lists ----------------------------------------------------------------------------------------

    @app.get("/deliveries")
    @requires(Permission.VIEW_ITEMS)
    def delivery_list() -> ResponseReturnValue:
        status = request.args.get("status") or None
        if status is not None and status not in STATUS_LABELS:
            status = None
        listed = bus.handle(ShowDeliveries(claims(), status))
        return render_template("deliveries.html", listed=listed, status=status, **common)

    @app.get("/approvals")
    @requires(Permission.APPROVE_ITEMS)
    def approvals() -> ResponseReturnValue:
        listed = bus.handle(ShowApprovals(claims()))
        return render_template("approvals.html", listed=listed, **common)

    # --- compose --------------------------------------------------------------------------------------

    def composer(form: DeliveryForm, delivery: Delivery | None, status: int = 200, *,
                 problems: list[str] | None = None, notice: str | None = None) -> ResponseReturnValue:
        choices = bus.handle(ShowComposeChoices(claims(), form.department or None))
        return render_template("delivery_form.html", form=form, delivery=delivery, choices=choices,
                               departments=editable_departments(), problems=problems or [], notice=notice,
                               preview=form.preview(), **common), status

    def posted_form() -> tuple[DeliveryForm, list[str]]:
        """The form as posted, with any chosen image files uploaded first (each becomes its assetId)."""
        values = MultiDict(request.form)
        problems: list[str] = []
        department = str(values.get("department", ""))[:64]
        for slot in range(1, MAX_MESSAGES + 1):
            upload = request.files.get(f"m{slot}_file")
            if upload is None or not upload.filename or values.get(f"m{slot}_type") != "image":
                continue
            try:
                asset = bus.handle(UploadDeliveryImage(g.staff.id, claims(), department, upload.read(),
                                                       upload.mimetype or "", address()))
            except DeliveryFormError as exc:
                problems.extend(f"{slot}: {p}" for p in exc.problems)
                continue
            except DeliveryRefused as exc:
                problems.extend(refused_lines(exc))
                continue
            values[f"m{slot}_asset"] = asset.id
        return DeliveryForm.from_form(values), problems

    def composed(delivery_id: uuid.UUID | None, delivery: Delivery | None) -> ResponseReturnValue:  # noqa: PLR0911
        form, problems = posted_form()
        action = request.form.get("action", "preview")
        if problems:
            return composer(form, delivery, 400, problems=problems)
        try:
            if action == "apply_template":
                chosen = request.form.get("template_id", "")
                choices = bus.handle(ShowComposeChoices(claims(), form.department or None))
                template = next((t for t in choices.templates or () if t.id == chosen), None)
                if template is None:
                    return composer(form, delivery, 400, problems=[str(_("テンプレートを選んでください。"))])
                return composer(form.with_messages(template.messages), delivery,
                                notice=str(_("テンプレートを適用しました。保存するまで配信には反映されません。")))
            if action == "save_template":
                bus.handle(SaveDeliveryTemplate(g.staff.id, claims(), form.department,
                                                request.form.get("template_name", "")[:100],
                                                tuple(form.preview()), address()))
                return composer(form, delivery, notice=str(_("テンプレートとして保存しました。")))
            if action not in ("save", "submit"):
                return composer(form, delivery)
            saved = bus.handle(SaveDelivery(g.staff.id, claims(), form, delivery_id, address()))
            if action == "submit":
                opened = bus.handle(OpenDelivery(claims(), uuid.UUID(saved)))
                bus.handle(ActOnDelivery(g.staff.id, claims(), uuid.UUID(saved), "submit", opened.version,
                                         address=address()))
                return redirect(url_for("delivery_detail", delivery_id=saved, done="submit"))
            return redirect(url_for("delivery_edit", delivery_id=saved, saved=1))
        except DeliveryFormError as exc:
            return composer(form, delivery, 400, problems=exc.problems)
        except DeliveryRefused as exc:
            return composer(form, delivery, refused_status(exc), problems=refused_lines(exc))

    @app.route("/deliveries/new", methods=["GET", "POST"])
    @requires(Permission.EDIT_ITEMS)
    def delivery_new() -> ResponseReturnValue:
        if request.method == "POST":
            return composed(None, None)
        departments = editable_departments()
        chosen = request.args.get("department", "")
        first = departments[0].code if departments else ""
        department = chosen if any(d.code == chosen for d in departments) else first
        return composer(DeliveryForm(department=department), None)

    def opened_or_error(delivery_id: uuid.UUID, title: str) -> Delivery | ResponseReturnValue:
        try:
            return bus.handle(OpenDelivery(claims(), delivery_id))
        except DeliveryRefused as exc:
            if exc.status == 404:
                return not_found()
            if exc.status == 403:
                raise DepartmentForbidden(exc.reason) from None
            return unavailable(title)

    @app.route("/deliveries/<uuid:delivery_id>/edit", methods=["GET", "POST"])
    @requires(Permission.EDIT_ITEMS)
    def delivery_edit(delivery_id: uuid.UUID) -> ResponseReturnValue:
        found = opened_or_error(delivery_id, _("配信の編集"))
        if not isinstance(found, Delivery):
            return found
        if not allowed(g.staff, Permission.EDIT_ITEMS, found.department):
            raise DepartmentForbidden(found.department)
        if request.method == "POST":
            return composed(delivery_id, found)
        notice = str(_("保存しました。")) if request.args.get("saved") == "1" else None
        problems = [] if found.may("edit") else [str(_("この配信は今の状態では編集できません。"))]
        return composer(DeliveryForm.from_delivery(found), found, notice=notice, problems=problems)

    # --- detail, actions -------------------------------------------------------------------------------

    @app.get("/deliveries/<uuid:delivery_id>")
    @requires(Permission.VIEW_ITEMS)
    def delivery_detail(delivery_id: uuid.UUID) -> ResponseReturnValue:
        found = opened_or_error(delivery_id, _("配信"))
        if not isinstance(found, Delivery):
            return found
        choices = bus.handle(ShowComposeChoices(claims(), found.department))
        counted: RecipientCount | None = None
        if found.status not in FINISHED and found.status not in ("sending", "paused"):
            try:
                counted = bus.handle(CountDelivery(claims(), delivery_id))
            except DeliveryRefused:
                counted = None
        statistics: Statistics | None = None
        statistics_problem = None
        if found.status in ("sending", "paused", "sent", "partly_failed") or found.runs:
            try:
                statistics = bus.handle(ShowDeliveryStatistics(claims(), delivery_id))
            except DeliveryRefused as exc:
                statistics_problem = refused_lines(exc)[0]
        people = who({found.author_id, found.last_editor_id, *(h.actor_id for h in found.history)})
        form = DeliveryForm.from_delivery(found)
        return render_template(
            "delivery.html", delivery=found, choices=choices, count=count_text(counted) if counted else None,
            recipients=counted.recipients if counted else None, statistics=statistics,
            statistics_problem=statistics_problem, people=people, preview=form.preview(),
            changed=changes(found, choices.category_labels, choices.segment_names),
            rule_text=found.schedule_text or describe_rule(found.schedule),
            target_words=list(found.target_text) if found.target_text else target_in_words(found.target,
                                                                                            choices.segment_names),
            department=department_names().get(found.department, found.department),
            done=request.args.get("done"), problems=[],
            may_edit=allowed(g.staff, Permission.EDIT_ITEMS, found.department),
            may_approve=allowed(g.staff, Permission.APPROVE_ITEMS, found.department),
            confirmed=found.confirmed_by(str(g.staff.id)), **common)

    def target_in_words(target: Any, segment_names: Any) -> list[str]:
        """The target as the final confirmation reads it: the segment's conditions in words (the same
        words as its read-only page), headed by what it is."""
        heading = describe_target(target, segment_names)
        expression = None
        if isinstance(target, dict) and target.get("kind") == "segment":
            try:
                saved = bus.handle(OpenSegment(claims(), uuid.UUID(str(target.get("segmentId")))))
            except ValueError:
                saved = None
            expression = saved.expression if saved is not None else None
        elif isinstance(target, dict) and target.get("kind") == "expression":
            expression = target.get("expression")
        if expression is None:
            return [heading]
        try:
            form = SegmentForm.from_expression("", "", expression)
        except SegmentFormError:
            return [heading]
        return [heading, *describe(form, bus.handle(ShowSegmentBuilder(claims())))]

    @app.post("/deliveries/<uuid:delivery_id>/action")
    @requires(Permission.VIEW_ITEMS)
    def delivery_action(delivery_id: uuid.UUID) -> ResponseReturnValue:
        action = request.form.get("action", "")
        version = request.form.get("version", "")
        if not version.isascii() or not version.isdigit():
            abort(400)
        send_at = None
        if action == "schedule" and request.form.get("send_on") and request.form.get("send_time"):
            send_at = f"{request.form['send_on'][:10]}T{request.form['send_time'][:5]}:00+09:00"
        try:
            bus.handle(ActOnDelivery(g.staff.id, claims(), delivery_id, action[:20], int(version),
                                     request.form.get("comment", "")[:1000], send_at, address()))
        except (DeliveryFormError, DeliveryRefused) as exc:
            if isinstance(exc, DeliveryRefused) and exc.status == 404:
                return not_found()
            lines = exc.problems if isinstance(exc, DeliveryFormError) else refused_lines(exc)
            status = 400 if isinstance(exc, DeliveryFormError) else refused_status(exc)
            return render_template("error.html", title=_("操作できませんでした"), message=" ".join(lines),
                                   back=url_for("delivery_detail", delivery_id=delivery_id)), status
        return redirect(url_for("delivery_detail", delivery_id=delivery_id, done=action[:20]))

    @app.post("/deliveries/<uuid:delivery_id>/test")
    @requires(Permission.EDIT_ITEMS)
    def delivery_test(delivery_id: uuid.UUID) -> ResponseReturnValue:
        chosen = tuple(str(v)[:64] for v in request.form.getlist("test_recipient"))[:20]
        try:
            sent = bus.handle(SendTestDelivery(g.staff.id, claims(), delivery_id, chosen, address()))
        except (DeliveryFormError, DeliveryRefused) as exc:
            lines = exc.problems if isinstance(exc, DeliveryFormError) else refused_lines(exc)
            status = 400 if isinstance(exc, DeliveryFormError) else refused_status(exc)
            return render_template("error.html", title=_("テスト配信できませんでした"), message=" ".join(lines),
                                   back=url_for("delivery_edit", delivery_id=delivery_id)), status
        return redirect(url_for("delivery_edit", delivery_id=delivery_id, tested=sent))

    @app.get("/deliveries/assets/<uuid:asset_id>")
    @requires(Permission.VIEW_ITEMS)
    def delivery_asset(asset_id: uuid.UUID) -> ResponseReturnValue:
        try:
            content, content_type = bus.handle(ShowDeliveryImage(claims(), asset_id))
        except DeliveryRefused as exc:
            abort(404 if exc.status in (403, 404) else 502)
        response = Response(content, mimetype=content_type)
        response.headers["Content-Disposition"] = "inline"
        return response

    # --- JSON for the page's scripts -------------------------------------------------------------------

    @app.post("/api/deliveries/<uuid:delivery_id>/count")
    @requires(Permission.VIEW_ITEMS)
    def api_delivery_count(delivery_id: uuid.UUID) -> ResponseReturnValue:
        try:
            counted = bus.handle(CountDelivery(claims(), delivery_id))
        except DeliveryRefused as exc:
            return jsonify(error="Bad Request", text=" ".join(refused_lines(exc))), refused_status(exc)
        return jsonify(text=count_text(counted), recipients=counted.recipients)

    @app.post("/api/deliveries/count")
    @requires(Permission.EDIT_ITEMS)
    def api_target_count() -> ResponseReturnValue:
        """A new delivery's live count: the target as posted (everyone, or a saved segment)."""
        from admin_ui.domain.segments import SegmentRefused

        form = DeliveryForm.from_form(request.form)
        try:
            counted = bus.handle(CountTarget(claims(), form.target if form.target.kind else TargetForm()))
        except SegmentRefused as exc:
            text = (_("人数を数えられませんでした。しばらくしてからもう一度お試しください。")
                    if exc.status is None or exc.status >= 500 else _("人数を数えられませんでした: %(reason)s",
                                                                       reason=exc.reason))
            return jsonify(error="Bad Request", text=str(text)), 400
        return jsonify(text=count_text(counted), recipients=counted.recipients)

    @app.get("/api/deliveries/<uuid:delivery_id>/progress")
    @requires(Permission.VIEW_ITEMS)
    def api_delivery_progress(delivery_id: uuid.UUID) -> ResponseReturnValue:
        try:
            found = bus.handle(OpenDelivery(claims(), delivery_id))
        except DeliveryRefused as exc:
            return jsonify(error="Unavailable", text=" ".join(refused_lines(exc))), refused_status(exc)
        progress = found.progress.as_json() if found.progress else None
        if found.progress is not None and progress is not None:
            p = found.progress
            progress["text"] = str(_("送信済み %(sent)s 人・失敗 %(failed)s 人・"
                                     "残り %(pending)s 人（対象 %(recipients)s 人）",
                                     sent=f"{p.sent:,}", failed=f"{p.failed:,}", pending=f"{p.pending:,}",
                                     recipients=f"{p.recipients:,}"))
        return jsonify(status=found.status, statusLabel=found.status_label, pauseReason=found.pause_reason,
                       progress=progress, sending=found.status in ("sending", "paused"))

