"""リッチメニュー screens (thin: commands on the bus; richmenu-service keeps the menus, its ``API.md``).

* ``GET /richmenus``: リッチメニュー一覧 with each menu's status and the rules naming it, 災害時モード at the top;
* ``GET|POST /richmenus/new``: a new menu (作成者); ``GET|POST /richmenus/<id>``: the editor — tabs, their image
  with the buttons drawn over it (``static/richmenu-editor.js``: drag on the image to draw a new button; the
  same fields by keyboard), each button's action; ``op`` = save / add_tab / remove_tab:n / up:n / down:n /
  upload:n (the tab's image, PNG or JPEG);
* ``POST /richmenus/<id>/publish`` (承認者), ``/delete``; ``GET /richmenus/<id>/export``: デザインデータ一式 (zip);
* ``GET|POST /richmenus/<id>/template?tab=n``: テンプレートから作成, with a live preview
  (``GET /richmenus/template-preview?…``: the PNG the service draws, proxied so the CSP's img-src 'self' holds;
  ``static/richmenu-template.js`` changes its address as staff type);
* ``GET|POST /richmenus/rules``: 表示ルール (承認者 change them); ``GET /richmenus/preview``: what a resident sees;
* ``GET /richmenus/disaster``, ``POST /richmenus/disaster/confirm`` (the confirmation step), ``POST
  /richmenus/disaster``: 災害時モード, with the progress of the mass change (``GET /api/richmenus/changes``,
  ``static/richmenu-changes.js``);
* ``GET /richmenus/<id>/tabs/<n>/image``: a tab's image, proxied like the preview.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime, time
from typing import Any

from cityline_common.internal_auth import StaffClaims
from flask import Flask, Response, abort, g, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from admin_ui.bootstrap import AdminUi
from admin_ui.domain.commands import (
    DeleteRichMenu,
    DeleteRichMenuRule,
    ExportRichMenu,
    OpenRichMenu,
    PreviewResidentMenu,
    PreviewRichMenuTemplate,
    PublishRichMenu,
    SaveRichMenu,
    SaveRichMenuDesign,
    SaveRichMenuRule,
    ShowDisaster,
    ShowRichMenuImage,
    ShowRichMenuRules,
    ShowRichMenus,
    ShowRichMenuTemplates,
    SwitchDisaster,
    UploadRichMenuImage,
)
from admin_ui.domain.deliveries import TOKYO, _clock
from admin_ui.domain.permissions import Permission, allowed, departments_where
from admin_ui.domain.richmenus import (
    ACTION_LABELS,
    DISASTER_CONFIRMATION,
    IMAGE_MAX_BYTES,
    PICKER_MODES,
    RULE_KINDS,
    STANDARD_SIZES,
    DesignForm,
    Menu,
    MenuForm,
    Problem,
    RichMenuFormError,
    RichMenuRefused,
    RuleForm,
    TabForm,
    TemplateCatalogue,
    describe_period,
    new_alias,
)
from admin_ui.entrypoints.access import requires
from admin_ui.service_layer import accounts

UPLOAD_ENDPOINTS = {"richmenu_edit"}
UPLOAD_MAX_BYTES = IMAGE_MAX_BYTES + 512 * 1024  # one image and the editor's form


def register_richmenu_views(  # noqa: PLR0915 - one place lists every リッチメニュー route
    app: Flask, service: AdminUi, claims: Callable[[], StaffClaims], address: Callable[[], str],
) -> None:
    bus = service.bus

    def raise_upload_limit() -> None:
        """The editor posts a tab's image (multipart); every other route keeps the small limit. Runs before the
        CSRF check reads the form."""
        if request.endpoint in UPLOAD_ENDPOINTS and request.method == "POST":
            request.max_content_length = UPLOAD_MAX_BYTES

    app.before_request_funcs.setdefault(None, []).insert(0, raise_upload_limit)

    def unavailable_text() -> str:
        return str(_("リッチメニューの機能に接続できませんでした。しばらくしてからもう一度お試しください。"))

    def refused_problems(exc: RichMenuRefused) -> list[Problem]:
        """The refusal as problems for the page: the service's own (they name the tab and button), else its
        reason."""
        if exc.unavailable:
            return [Problem(0, 0, "", unavailable_text())]
        if exc.code == "stale_version":
            return [Problem(0, 0, "", str(_("編集中に別の職員がこのメニューを変更しました。"
                                            "画面を開き直して、最新の内容から変更してください。")))]
        head = [Problem(0, 0, "", exc.reason)] if exc.reason else []
        if not head and not exc.problems:
            return [Problem(0, 0, "", str(_("受け付けられませんでした。")))]
        return head + exc.problems

    def refused_status(exc: RichMenuRefused) -> int:
        if exc.unavailable:
            return 502
        return exc.status if exc.status in (400, 403, 404, 409) else 400

    def not_found() -> ResponseReturnValue:
        return render_template("error.html", title=_("見つかりません"), message=""), 404

    def department_names() -> dict[str, str]:
        return {d.code: d.name for d in bus.query(accounts.department_list)}

    def who(actors: Sequence[str | None]) -> dict[str, str]:
        """Login names by what the service reports: a staff id, ``staff:<id>`` or ``system:<name>`` (a city
        system switched 災害時モード through the broker)."""
        ids = {actor: actor.removeprefix("staff:") for actor in actors if actor}
        logins = bus.query(lambda uow: accounts.login_names(uow, set(ids.values())))
        return {actor: logins.get(staff_id) or actor.removeprefix("system:") for actor, staff_id in ids.items()}

    def may(permission: Permission, department: str | None = None) -> bool:
        return allowed(g.staff, permission, department)

    common = {"action_labels": ACTION_LABELS, "picker_modes": PICKER_MODES,
              "rule_kinds": RULE_KINDS, "sizes": STANDARD_SIZES, "confirmation": DISASTER_CONFIRMATION}

    # --- 一覧 -----------------------------------------------------------------------------------------

    @app.get("/richmenus")
    @requires(Permission.VIEW_ITEMS)
    def richmenu_list() -> ResponseReturnValue:
        listed = bus.handle(ShowRichMenus(claims()))
        people = who([row.menu.updated_by for row in listed.rows or ()]
                     + ([listed.disaster.switched_by] if listed.disaster else []))
        return render_template("richmenus.html", listed=listed, people=people, **common)

    # --- 新規作成 -------------------------------------------------------------------------------------

    def editable_departments() -> list[Any]:
        editable = departments_where(g.staff, Permission.EDIT_ITEMS)
        return [d for d in bus.query(accounts.department_list) if editable is None or d.code in editable]

    @app.route("/richmenus/new", methods=["GET", "POST"])
    @requires(Permission.EDIT_ITEMS)
    def richmenu_new() -> ResponseReturnValue:
        departments = editable_departments()
        if request.method == "GET":
            seed = uuid.uuid4().hex
            form = MenuForm(department=departments[0].code if departments else "",
                            tabs=(TabForm(new_alias(seed, 1), _("タブ1")),))
            return render_template("richmenu_new.html", form=form, departments=departments, problems=[], **common)
        form = MenuForm.from_form(request.form)
        try:
            saved = bus.handle(SaveRichMenu(g.staff.id, claims(), form, None, address()))
        except RichMenuFormError as exc:
            return render_template("richmenu_new.html", form=form, departments=departments, problems=exc.problems,
                                   **common), 400
        except RichMenuRefused as exc:
            return render_template("richmenu_new.html", form=form, departments=departments,
                                   problems=refused_problems(exc), **common), refused_status(exc)
        return redirect(url_for("richmenu_edit", menu_id=saved.id, saved=1))

    # --- 編集 -----------------------------------------------------------------------------------------

    def opened(menu_id: uuid.UUID) -> Menu | ResponseReturnValue:
        try:
            return bus.handle(OpenRichMenu(claims(), menu_id))
        except RichMenuRefused as exc:
            if exc.status == 404:
                return not_found()
            return render_template("error.html", title=_("リッチメニュー"), message=unavailable_text()), 502

    def editor(menu: Menu, form: MenuForm, status: int = 200, *, problems: Sequence[Problem] | None = None,
               notice: str | None = None) -> ResponseReturnValue:
        shown = list(menu.problems if problems is None else problems)
        return render_template(
            "richmenu_edit.html", menu=menu, form=form, problems=shown, notice=notice, refused=problems is not None,
            tab_choices=[(tab.alias_id, tab.name) for tab in form.tabs],
            department=department_names().get(menu.department, menu.department),
            people=who([menu.updated_by] + ([menu.publication.published_by] if menu.publication else [])),
            may_edit=may(Permission.EDIT_ITEMS, menu.department),
            may_publish=may(Permission.APPROVE_ITEMS, menu.department), **common), status

    @app.get("/richmenus/<uuid:menu_id>")
    @requires(Permission.VIEW_ITEMS)
    def richmenu_detail(menu_id: uuid.UUID) -> ResponseReturnValue:
        found = opened(menu_id)
        if not isinstance(found, Menu):
            return found
        notice = None
        if request.args.get("saved") == "1":
            notice = str(_("保存しました。"))
        elif request.args.get("published") == "1":
            notice = str(_("LINEに公開しました。表示ルールで使われていれば、友だちのメニューが切り替わります。"))
        elif request.args.get("queued") == "1":
            notice = str(_("LINEの作成数の上限（1時間に100件）に達したため、公開を順番待ちにしました。"
                           "しばらくすると自動で公開されます。"))
        elif request.args.get("designed") == "1":
            notice = str(_("テンプレートから画像とボタンを作りました。"))
        return editor(found, MenuForm.from_menu(found), notice=notice)

    @app.post("/richmenus/<uuid:menu_id>")
    @requires(Permission.EDIT_ITEMS)
    def richmenu_edit(menu_id: uuid.UUID) -> ResponseReturnValue:
        found = opened(menu_id)
        if not isinstance(found, Menu):
            return found
        form = MenuForm.from_form(request.form)
        op, _sep, argument = request.form.get("op", "save").partition(":")
        number = int(argument) if argument.isascii() and argument.isdigit() and len(argument) < 3 else 0
        try:
            if op == "add_tab":
                form = form.with_new_tab(new_alias(found.id, len(form.tabs) + 1))
            elif op == "remove_tab":
                form = form.without_tab(number)
            elif op in ("up", "down"):
                form = form.with_tab_moved(number, -1 if op == "up" else 1)
            saved = bus.handle(SaveRichMenu(g.staff.id, claims(), form, menu_id, address()))
            if op == "upload":
                upload = request.files.get(f"t{number}_image")
                if upload is None or not upload.filename:
                    raise RichMenuFormError([Problem(number, 0, "image", str(_("画像のファイルを選んでください。")))])
                saved = bus.handle(UploadRichMenuImage(g.staff.id, claims(), menu_id, number, upload.read(),
                                                       upload.mimetype or "", address()))
        except RichMenuFormError as exc:
            return editor(found, form, 400, problems=exc.problems)
        except RichMenuRefused as exc:
            if exc.status == 404:
                return not_found()
            return editor(found, form, refused_status(exc), problems=refused_problems(exc))
        anchor = f"tab-{number}" if number and op != "remove_tab" else None
        if op == "add_tab":
            anchor = f"tab-{len(saved.tabs)}"
        return redirect(url_for("richmenu_detail", menu_id=saved.id, saved=1, _anchor=anchor))

    @app.post("/richmenus/<uuid:menu_id>/publish")
    @requires(Permission.APPROVE_ITEMS)
    def richmenu_publish(menu_id: uuid.UUID) -> ResponseReturnValue:
        found = opened(menu_id)
        if not isinstance(found, Menu):
            return found
        version = request.form.get("version", "")
        if not version.isascii() or not version.isdigit() or len(version) > 9:
            abort(400)
        try:
            published = bus.handle(PublishRichMenu(g.staff.id, claims(), menu_id, int(version), address()))
        except RichMenuRefused as exc:
            if exc.status == 404:
                return not_found()
            return editor(found, MenuForm.from_menu(found), refused_status(exc), problems=refused_problems(exc))
        if published is None:
            return redirect(url_for("richmenu_detail", menu_id=menu_id, queued=1))
        return redirect(url_for("richmenu_detail", menu_id=menu_id, published=1))

    @app.post("/richmenus/<uuid:menu_id>/delete")
    @requires(Permission.EDIT_ITEMS)
    def richmenu_delete(menu_id: uuid.UUID) -> ResponseReturnValue:
        try:
            bus.handle(DeleteRichMenu(g.staff.id, claims(), menu_id, address()))
        except RichMenuRefused as exc:
            if exc.status == 404:
                return not_found()
            message = " ".join(p.text for p in refused_problems(exc))
            return render_template("error.html", title=_("削除できませんでした"), message=message,
                                   back=url_for("richmenu_detail", menu_id=menu_id)), refused_status(exc)
        return redirect(url_for("richmenu_list", deleted=1))

    @app.get("/richmenus/<uuid:menu_id>/export")
    @requires(Permission.VIEW_ITEMS)
    def richmenu_export(menu_id: uuid.UUID) -> ResponseReturnValue:
        try:
            content = bus.handle(ExportRichMenu(g.staff.id, claims(), menu_id, address()))
        except RichMenuRefused as exc:
            abort(404 if exc.status in (403, 404) else 502)
        response = Response(content, mimetype="application/zip")
        response.headers["Content-Disposition"] = f'attachment; filename="richmenu-{menu_id}.zip"'
        return response

    @app.get("/richmenus/<uuid:image_menu_id>/tabs/<image_tab>/image")
    @requires(Permission.VIEW_ITEMS)
    def richmenu_image(image_menu_id: uuid.UUID, image_tab: str) -> ResponseReturnValue:
        if not image_tab.isascii() or not image_tab.isdigit() or len(image_tab) > 2:
            abort(404)  # a plain segment, not <int:>: a wrong one still meets the sign-in check first
        try:
            content, content_type = bus.handle(ShowRichMenuImage(claims(), image_menu_id, int(image_tab)))
        except RichMenuRefused as exc:
            abort(404 if exc.status in (400, 403, 404) else 502)
        response = Response(content, mimetype=content_type)
        response.headers["Content-Disposition"] = "inline"
        return response

    # --- テンプレートから作成 ---------------------------------------------------------------------------

    def catalogue() -> TemplateCatalogue | None:
        try:
            return bus.handle(ShowRichMenuTemplates(claims()))
        except RichMenuRefused:
            return None

    def tab_number(menu: Menu) -> int:
        chosen = request.values.get("tab", "1")
        number = int(chosen) if chosen.isascii() and chosen.isdigit() and len(chosen) < 3 else 1
        return number if 1 <= number <= len(menu.tabs) else 1

    @app.route("/richmenus/<uuid:menu_id>/template", methods=["GET", "POST"])
    @requires(Permission.EDIT_ITEMS)
    def richmenu_template(menu_id: uuid.UUID) -> ResponseReturnValue:
        found = opened(menu_id)
        if not isinstance(found, Menu):
            return found
        if not found.tabs:
            return not_found()
        number = tab_number(found)
        tab = found.tabs[number - 1]
        names = tuple(t.name for t in found.tabs)
        problems: list[Problem] = []
        status = 200
        if request.method == "GET":
            form = DesignForm.from_design(tab.design, [a.action for a in tab.areas] if tab.design else (), names,
                                          number - 1)
        else:
            form = DesignForm.from_form(request.form)
            if request.form.get("action") == "save":
                try:
                    bus.handle(SaveRichMenuDesign(g.staff.id, claims(), menu_id, number, form, address()))
                    return redirect(url_for("richmenu_detail", menu_id=menu_id, designed=1, _anchor=f"tab-{number}"))
                except RichMenuFormError as exc:
                    problems, status = exc.problems, 400
                except RichMenuRefused as exc:
                    problems, status = refused_problems(exc), refused_status(exc)
        templates = catalogue()
        chosen = templates.get(form.template_id) if templates else None
        if templates and chosen is None and templates.templates:
            chosen = templates.templates[0]
        return render_template("richmenu_template.html", menu=found, tab=tab, number=number, form=form,
                               templates=templates, chosen=chosen, problems=problems,
                               preview_query=form.preview_query(chosen) if chosen else {},
                               tab_choices=[(t.alias_id, t.name) for t in found.tabs],
                               may_edit=may(Permission.EDIT_ITEMS, found.department), **common), status

    @app.get("/richmenus/template-preview")
    @requires(Permission.VIEW_ITEMS)
    def richmenu_template_preview() -> ResponseReturnValue:
        """The PNG a design draws, from the generator's fields as query arguments; blank labels read ボタン1, …"""
        try:
            content = bus.handle(PreviewRichMenuTemplate(claims(), DesignForm.from_form(request.args)))
        except RichMenuFormError:
            abort(400)
        except RichMenuRefused as exc:
            abort(400 if exc.status == 400 else 502)
        return Response(content, mimetype="image/png")

    # --- 表示ルール -----------------------------------------------------------------------------------

    def rules_page(form: RuleForm, rule_id: str | None, status: int = 200, *,
                   problems: Sequence[Problem] = (), notice: str | None = None) -> ResponseReturnValue:
        listed = bus.handle(ShowRichMenuRules(claims()))
        people = who([row.rule.created_by for row in listed.rows])
        return render_template("richmenu_rules.html", listed=listed, form=form, rule_id=rule_id, problems=problems,
                               notice=notice, people=people, describe_period=describe_period, **common), status

    @app.get("/richmenus/rules")
    @requires(Permission.VIEW_ITEMS)
    def richmenu_rules() -> ResponseReturnValue:
        editing = request.args.get("edit", "")
        form, rule_id = RuleForm(), None
        if editing:
            listed = bus.handle(ShowRichMenuRules(claims()))
            rule = next((row.rule for row in listed.rows if row.rule.id == editing), None)
            if rule is None:
                return not_found()
            form, rule_id = RuleForm.from_rule(rule), rule.id
        done = request.args.get("done")
        notice = {"saved": _("表示ルールを保存しました。友だちのメニューを順に切り替えます。"),
                  "deleted": _("表示ルールを削除しました。")}.get(done or "")
        return rules_page(form, rule_id, notice=str(notice) if notice else None)

    @app.post("/richmenus/rules")
    @requires(Permission.APPROVE_ITEMS)
    def richmenu_rule_save() -> ResponseReturnValue:
        form = RuleForm.from_form(request.form)
        chosen = request.form.get("rule_id", "")
        try:
            rule_id = uuid.UUID(chosen) if chosen else None
        except ValueError:
            abort(400)
        try:
            bus.handle(SaveRichMenuRule(g.staff.id, claims(), form, rule_id, address()))
        except RichMenuFormError as exc:
            return rules_page(form, chosen or None, 400, problems=exc.problems)
        except RichMenuRefused as exc:
            return rules_page(form, chosen or None, refused_status(exc), problems=refused_problems(exc))
        return redirect(url_for("richmenu_rules", done="saved"))

    @app.post("/richmenus/rules/<uuid:rule_id>/delete")
    @requires(Permission.APPROVE_ITEMS)
    def richmenu_rule_delete(rule_id: uuid.UUID) -> ResponseReturnValue:
        try:
            bus.handle(DeleteRichMenuRule(g.staff.id, claims(), rule_id, address()))
        except RichMenuRefused as exc:
            if exc.status == 404:
                return not_found()
            return rules_page(RuleForm(), None, refused_status(exc), problems=refused_problems(exc))
        return redirect(url_for("richmenu_rules", done="deleted"))

    # --- プレビュー ------------------------------------------------------------------------------------

    @app.get("/richmenus/preview")
    @requires(Permission.VIEW_ITEMS)
    def richmenu_preview() -> ResponseReturnValue:
        listed = bus.handle(ShowRichMenuRules(claims()))
        args = request.args
        chosen = tuple(s[:64] for s in args.getlist("segment"))[:50]
        resident = args.get("resident", "").strip()[:64]
        on, at = args.get("on", "")[:10], args.get("at", "")[:5]
        seen, problems = None, []
        if args.get("show"):
            moment = None
            if on:
                try:
                    moment = datetime.combine(date.fromisoformat(on), _clock(at) or time(0, 0), TOKYO).isoformat()
                except ValueError:
                    problems.append(Problem(0, 0, "at", str(_("日付を正しく入力してください。"))))
            if resident:
                try:
                    resident = str(uuid.UUID(resident))
                except ValueError:
                    problems.append(Problem(0, 0, "resident", str(_("友だちのIDを正しく入力してください。"))))
            if not problems:
                try:
                    seen = bus.handle(PreviewResidentMenu(claims(), moment, chosen, resident or None))
                except RichMenuRefused as exc:
                    problems = refused_problems(exc)
        return render_template("richmenu_preview.html", listed=listed, chosen=chosen, resident=resident, on=on,
                               at=at, seen=seen, problems=problems, **common), 400 if problems else 200

    # --- 災害時モード ----------------------------------------------------------------------------------

    @app.get("/richmenus/disaster")
    @requires(Permission.VIEW_ITEMS)
    def richmenu_disaster() -> ResponseReturnValue:
        page = bus.handle(ShowDisaster(claims()))
        people = who([page.disaster.switched_by] if page.disaster else [])
        done = request.args.get("done")
        notice = {"on": _("災害時モードを開始しました。友だちのメニューを切り替えています。"),
                  "off": _("災害時モードを終了しました。通常のメニューに戻しています。"),
                  "same": _("すでにその状態でした。何も変えていません。")}.get(done or "")
        return render_template("richmenu_disaster.html", page=page, people=people,
                               notice=str(notice) if notice else None,
                               may_switch=may(Permission.APPROVE_ITEMS), **common)

    @app.post("/richmenus/disaster/confirm")
    @requires(Permission.APPROVE_ITEMS)
    def richmenu_disaster_confirm() -> ResponseReturnValue:
        """The confirmation step: what will change, and one button that says so."""
        page = bus.handle(ShowDisaster(claims()))
        on = request.form.get("on") == "1"
        menu_id = request.form.get("menu_id", "")[:64]
        menu = next((m for m in page.menus if m.id == menu_id), None)
        if on and menu is None and page.disaster and page.disaster.menu_id:
            menu = next((m for m in page.menus if m.id == page.disaster.menu_id), None)
        return render_template("richmenu_disaster_confirm.html", page=page, on=on, menu=menu, **common)

    @app.post("/richmenus/disaster")
    @requires(Permission.APPROVE_ITEMS)
    def richmenu_disaster_switch() -> ResponseReturnValue:
        on = request.form.get("on") == "1"
        menu_id = request.form.get("menu_id", "")[:64] or None
        confirmed = request.form.get("confirm") == DISASTER_CONFIRMATION
        try:
            changed = bus.handle(SwitchDisaster(g.staff.id, claims(), on, menu_id, confirmed, address()))
        except (RichMenuFormError, RichMenuRefused) as exc:
            lines = exc.problems if isinstance(exc, RichMenuFormError) else refused_problems(exc)
            status = 400 if isinstance(exc, RichMenuFormError) else refused_status(exc)
            return render_template("error.html", title=_("切り替えられませんでした"),
                                   message=" ".join(p.text for p in lines),
                                   back=url_for("richmenu_disaster")), status
        return redirect(url_for("richmenu_disaster", done=("on" if on else "off") if changed else "same"))

    @app.get("/api/richmenus/changes")
    @requires(Permission.VIEW_ITEMS)
    def api_richmenu_changes() -> ResponseReturnValue:
        page = bus.handle(ShowDisaster(claims()))
        if page.disaster is None:
            return jsonify(error="Unavailable", text=unavailable_text()), 502
        latest = page.disaster.change or (page.changes[0] if page.changes else None)
        if latest is None:
            return jsonify(change=None, on=page.disaster.on)
        text = str(_("対象 %(residents)s 人・切り替え済み %(done)s 人",
                     residents=f"{latest.residents or 0:,}",
                     done=f"{(latest.linked or 0) + (latest.unlinked or 0):,}"))
        return jsonify(change={**latest.as_json(), "text": text}, on=page.disaster.on)
