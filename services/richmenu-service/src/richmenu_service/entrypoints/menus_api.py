"""richmenu-service's internal API for the staff console (services/richmenu-service/API.md), thin over the bus.

Every view needs a staff token for the audience ``richmenu``; the use cases check the department rules on the
token's roles (service_layer). Errors are ``{"error", "reason", "code"}`` (+ ``problems``)."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from datetime import datetime
from typing import Any

from cityline_common.internal_auth import ANY_STAFF, current_caller, requires, staff_role
from cityline_common.web import json_object
from flask import Flask, Response, jsonify, request

from richmenu_service.adapters import images as drawing
from richmenu_service.bootstrap import RichmenuService
from richmenu_service.domain import commands as c
from richmenu_service.domain.images import InvalidDesign, design_from_dict
from richmenu_service.domain.menus import Problem
from richmenu_service.service_layer import views
from richmenu_service.service_layer.ports import RichmenuError

EDITORS = staff_role("author", "admin")
PUBLISHERS = staff_role("approver", "admin")
MAX_UPLOAD = 10 * 1024 * 1024  # read at most this; the image itself must end up ≤ 1 MB
CONFIRMATION = "災害時モード"
ERROR_NAMES = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict"}


def actor_of_caller() -> c.Actor:
    caller = current_caller()
    return c.Actor(str(caller.staff_id), frozenset((grant.role, grant.department) for grant in caller.roles))


def refusal(exc: RichmenuError) -> tuple[Response, int]:
    body: dict[str, Any] = {"error": ERROR_NAMES.get(exc.status, "Conflict"), "reason": exc.reason, "code": exc.code}
    if exc.problems:
        body["problems"] = [vars(p) if isinstance(p, Problem) else {"tab": 0, "area": 0, "field": "", "text": p}
                            for p in exc.problems]
    return jsonify(body), exc.status


def bad(reason: str, code: str = "bad_request") -> tuple[Response, int]:
    return jsonify(error="Bad Request", reason=reason, code=code), 400



def _version(body: dict[str, Any]) -> int | None:
    value = body.get("version")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _not_found() -> tuple[Response, int]:
    return jsonify(error="Not Found", reason="見つかりません。", code="not_found"), 404


def register_menus_api(app: Flask, service: RichmenuService) -> None:  # noqa: PLR0915 - one place lists the API
    bus, ports = service.bus, service.ports

    def shown(menu_id: uuid.UUID) -> tuple[Response, int]:
        found = bus.query(views.menu(menu_id))
        return (jsonify(found), 200) if found is not None else _not_found()

    def run(command: Any) -> Any:
        return bus.handle(command)

    @app.errorhandler(RichmenuError)
    def refused(exc: RichmenuError) -> tuple[Response, int]:
        return refusal(exc)

    @app.get("/internal/menus")
    @requires(ANY_STAFF)
    def list_menus() -> Response:
        return jsonify(bus.query(views.menus()))

    @app.post("/internal/menus")
    @requires(EDITORS)
    def create_menu() -> tuple[Response, int]:
        body = json_object()
        if body is None or not isinstance(body.get("title"), str) or not isinstance(body.get("department"), str):
            return bad('body must be {"title": "…", "department": "…", "tabs": [...]}')
        menu_id = run(c.CreateMenu(actor_of_caller(), body["title"], body["department"], body.get("tabs", [])))
        found = bus.query(views.menu(menu_id))
        return jsonify(id=str(menu_id), version=found["version"] if found else 1), 201

    @app.get("/internal/menus/<uuid:menu_id>")
    @requires(ANY_STAFF)
    def get_menu(menu_id: uuid.UUID) -> tuple[Response, int]:
        return shown(menu_id)

    @app.put("/internal/menus/<uuid:menu_id>")
    @requires(EDITORS)
    def edit_menu(menu_id: uuid.UUID) -> tuple[Response, int]:
        body = json_object()
        if body is None or not isinstance(body.get("title"), str):
            return bad('body must be {"title": "…", "tabs": [...], "version": n}')
        run(c.EditMenu(actor_of_caller(), menu_id, _version(body), body["title"], body.get("tabs", [])))
        return shown(menu_id)

    @app.delete("/internal/menus/<uuid:menu_id>")
    @requires(EDITORS)
    def delete_menu(menu_id: uuid.UUID) -> Response:
        run(c.DeleteMenu(actor_of_caller(), menu_id))
        return jsonify(deleted=True)

    @app.put("/internal/menus/<uuid:menu_id>/tabs/<int:number>/image")
    @requires(EDITORS)
    def upload_image(menu_id: uuid.UUID, number: int) -> tuple[Response, int]:
        if request.mimetype not in ("image/png", "image/jpeg"):
            return bad("画像の形式は JPEG か PNG にしてください（Content-Type: image/png または image/jpeg）。",
                       "invalid_image")
        if (request.content_length or 0) > MAX_UPLOAD:
            return bad("ファイルが大きすぎます。", "invalid_image")
        run(c.UploadTabImage(actor_of_caller(), menu_id, number, request.get_data(cache=False)))
        return shown(menu_id)

    @app.get("/internal/menus/<uuid:menu_id>/tabs/<int:number>/image")
    @requires(ANY_STAFF)
    def tab_image(menu_id: uuid.UUID, number: int) -> Response | tuple[Response, int]:
        found = bus.query(views.image(menu_id, number))
        if found is None:
            return _not_found()
        data, content_type = found
        return Response(data, mimetype=content_type, headers={"Cache-Control": "private, no-cache"})

    @app.put("/internal/menus/<uuid:menu_id>/tabs/<int:number>/design")
    @requires(EDITORS)
    def design_tab(menu_id: uuid.UUID, number: int) -> tuple[Response, int]:
        body = json_object()
        if body is None or "design" not in body:
            return bad('body must be {"design": {…}, "actions": [...]}')
        run(c.DesignTab(actor_of_caller(), menu_id, number, body["design"], body.get("actions")))
        return shown(menu_id)

    @app.get("/internal/menus/<uuid:menu_id>/export")
    @requires(ANY_STAFF)
    def export(menu_id: uuid.UUID) -> Response | tuple[Response, int]:
        found = bus.query(views.menu(menu_id))
        if found is None:
            return _not_found()
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            document = {"format": 1, "title": found["title"], "department": found["department"],
                        "version": found["version"], "tabs": found["tabs"],
                        "licence": "市が自由に再利用できます（アイコン・テンプレートは本プロジェクトの Apache-2.0）。"}
            archive.writestr("design.json", json.dumps(document, ensure_ascii=False, indent=2))
            for number in range(1, len(found["tabs"]) + 1):
                stored = bus.query(views.image(menu_id, number))
                if stored is not None:
                    archive.writestr(f"tab-{number}.{'png' if stored[1] == 'image/png' else 'jpg'}", stored[0])
        return Response(out.getvalue(), mimetype="application/zip",
                        headers={"Content-Disposition": f'attachment; filename="richmenu-{menu_id}.zip"'})

    @app.post("/internal/menus/<uuid:menu_id>/publish")
    @requires(PUBLISHERS)
    def publish(menu_id: uuid.UUID) -> tuple[Response, int]:
        body = json_object() or {}
        outcome = run(c.PublishMenu(actor_of_caller(), menu_id, _version(body)))
        if outcome == "queued":
            return jsonify(status="queued", reason="LINE の作成回数の上限に達したため、あとで自動的に公開します。"), 202
        return shown(menu_id)

    @app.get("/internal/templates")
    @requires(ANY_STAFF)
    def templates() -> Response:
        return jsonify(views.templates())

    @app.post("/internal/templates/preview")
    @requires(ANY_STAFF)
    def preview_template() -> Response | tuple[Response, int]:
        try:
            data = drawing.render(design_from_dict(request.get_json(silent=True)))
        except InvalidDesign as exc:
            return jsonify(error="Bad Request", reason="デザインに直すところがあります。", code="invalid_design",
                           problems=[{"tab": 0, "area": 0, "field": "", "text": p} for p in exc.problems]), 400
        return Response(data, mimetype="image/png" if data[:4] == b"\x89PNG" else "image/jpeg")

    # -- rules ------------------------------------------------------------------------------------------------
    @app.get("/internal/rules")
    @requires(ANY_STAFF)
    def list_rules() -> Response:
        return jsonify(bus.query(views.rules(ports)))

    @app.post("/internal/rules")
    @requires(PUBLISHERS)
    def create_rule() -> tuple[Response, int]:
        body = json_object()
        if body is None:
            return bad('body must be {"kind": "default|segment|period", "menuId": "…", …}')
        rule_id = run(c.SaveRule(actor_of_caller(), None, body))
        return jsonify(bus.query(views.rule(rule_id, ports))), 201

    @app.put("/internal/rules/<uuid:rule_id>")
    @requires(PUBLISHERS)
    def edit_rule(rule_id: uuid.UUID) -> tuple[Response, int]:
        body = json_object()
        if body is None:
            return bad('body must be {"kind": "default|segment|period", "menuId": "…", …}')
        run(c.SaveRule(actor_of_caller(), rule_id, body))
        return jsonify(bus.query(views.rule(rule_id, ports))), 200

    @app.delete("/internal/rules/<uuid:rule_id>")
    @requires(PUBLISHERS)
    def delete_rule(rule_id: uuid.UUID) -> Response:
        run(c.DeleteRule(actor_of_caller(), rule_id))
        return jsonify(deleted=True)

    @app.post("/internal/preview")
    @requires(ANY_STAFF)
    def preview() -> tuple[Response, int]:
        body = json_object()
        if body is None:
            return bad('body must be {"at"?: "…", "segmentIds": [...]} or {"residentId": "…"}')
        try:
            at = datetime.fromisoformat(body["at"]) if body.get("at") else ports.clock()
            resident = uuid.UUID(str(body["residentId"])) if body.get("residentId") else None
            segments = [str(uuid.UUID(str(s))) for s in body.get("segmentIds") or []]
        except (ValueError, TypeError):
            return bad("at: 日時（+09:00 付き）、residentId と segmentIds: ID で指定してください。")
        if at.tzinfo is None:
            return bad("at: 日時にはタイムゾーン（+09:00）を付けてください。")
        return jsonify(bus.query(views.preview(c.PreviewFor(at, segments, resident), ports))), 200

    # -- 災害時モード と 一括切り替え ---------------------------------------------------------------------------
    @app.get("/internal/disaster")
    @requires(ANY_STAFF)
    def disaster_state() -> Response:
        return jsonify(bus.query(views.disaster()))

    @app.post("/internal/disaster")
    @requires(ANY_STAFF)
    def switch_disaster() -> tuple[Response, int]:
        body = json_object()
        if body is None or not isinstance(body.get("on"), bool):
            return bad('body must be {"on": true|false, "menuId"?: "…", "confirm": "災害時モード"}')
        if body.get("confirm") != CONFIRMATION:
            return bad(f"確認のため「{CONFIRMATION}」と入力してください。", "confirmation_required")
        try:
            menu_id = uuid.UUID(str(body["menuId"])) if body.get("menuId") else None
        except ValueError:
            return bad("menuId: メニューを一覧から選んでください。")
        changed = run(c.SwitchDisasterMode(actor_of_caller(), body["on"], "console", menu_id,
                                           str(body["reason"])[:200] if body.get("reason") else None))
        return jsonify({**bus.query(views.disaster()), "changed": changed}), 200

    @app.get("/internal/changes")
    @requires(ANY_STAFF)
    def list_changes() -> tuple[Response, int]:
        limit = request.args.get("limit", "20")
        if not (limit.isascii() and limit.isdigit() and 1 <= int(limit) <= 100):
            return bad("limit: 1〜100")
        return jsonify(bus.query(views.changes(int(limit)))), 200
