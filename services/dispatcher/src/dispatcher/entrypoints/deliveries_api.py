"""dispatcher's internal API for the staff console (services/dispatcher/API.md), thin over the bus.

Every view needs a staff token for the audience ``dispatcher``; the use cases check the department
rules on the token's roles. ``GET /media/<asset>/<variant>/<signature>`` is the one anonymous route:
LINE fetches a delivered image from it, and the HMAC in the path is handed out only in messages we send.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import uuid
from datetime import datetime, timedelta
from typing import Any

from cityline_common.internal_auth import ANY_STAFF, current_caller, requires, staff_role
from cityline_common.web import json_object
from flask import Flask, Response, jsonify, request

from dispatcher.adapters.repository import Asset, MessageTemplate, TestRecipient
from dispatcher.bootstrap import DispatcherService
from dispatcher.domain import commands as c
from dispatcher.domain.lifecycle import TOKYO, Actor, DeliveryError, InvalidContent, NotPermitted
from dispatcher.domain.schedule import InvalidRule
from dispatcher.service_layer import views
from dispatcher.service_layer.deliveries import (
    TEST_RECIPIENT_COLUMN,
    Forbidden,
    NotFound,
    Refused,
    may_edit,
    may_read,
    media_signature,
)

ACTIONS = ("submit", "approve", "reject", "schedule", "confirm", "pause", "resume", "cancel")
MAX_IMAGE_BYTES = 10 * 1024 * 1024  # LINE: originalContentUrl ≤ 10 MB
MAX_SIDE = 2048
PREVIEW_SIDE = 240


def actor_of_caller() -> Actor:
    caller = current_caller()
    return Actor(str(caller.staff_id), frozenset((grant.role, grant.department) for grant in caller.roles))


def refusal(exc: DeliveryError) -> tuple[Response, int]:
    status = 409
    if isinstance(exc, Forbidden | NotPermitted):
        status = 403
    elif isinstance(exc, NotFound):
        status = 404
    elif isinstance(exc, Refused | InvalidContent):
        status = 400
    body: dict[str, Any] = {"error": {400: "Bad Request", 403: "Forbidden", 404: "Not Found"}.get(status, "Conflict"),
                            "reason": str(exc), "code": exc.code}
    if isinstance(exc, InvalidContent):
        body["problems"] = [str(p) for p in exc.problems]
    return jsonify(body), status


def bad(reason: str, code: str = "bad_request") -> tuple[Response, int]:
    return jsonify(error="Bad Request", reason=reason, code=code), 400



def _version(body: dict[str, Any]) -> int | None:
    value = body.get("version")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def register_deliveries_api(app: Flask, service: DispatcherService) -> None:  # noqa: PLR0915
    bus = service.bus

    def shown(delivery_id: uuid.UUID, actor: Actor) -> tuple[Response, int]:
        found = bus.query(views.delivery(delivery_id, actor, service.ports.clock()))
        if found is None:
            return jsonify(error="Not Found", reason="その配信はありません。", code="not_found"), 404
        return jsonify(found), 200

    @app.get("/internal/deliveries")
    @requires(ANY_STAFF)
    def list_deliveries() -> Response:
        actor = actor_of_caller()
        found = bus.query(views.listed(actor, request.args.get("status") or None,
                                       request.args.get("department") or None, request.args.get("awaiting") == "me"))
        return jsonify(deliveries=found)

    @app.post("/internal/deliveries")
    @requires(ANY_STAFF)
    def create_delivery() -> tuple[Response, int]:
        body = json_object()
        if body is None or not isinstance(body.get("department"), str) or not isinstance(body.get("title"), str):
            return bad('body must be {"department", "title", "category", "messages", "target", "schedule"?}')
        try:
            delivery_id = bus.handle(c.CreateDelivery(
                actor_of_caller(), body["department"], body["title"], str(body.get("category", "")),
                tuple(body.get("messages") or ()), body.get("target") or {}, body.get("schedule")))
        except DeliveryError as exc:
            return refusal(exc)
        except (TypeError, ValueError):
            return bad("messages: a list of LINE message objects")
        return jsonify(id=str(delivery_id)), 201

    @app.get("/internal/deliveries/<uuid:delivery_id>")
    @requires(ANY_STAFF)
    def get_delivery(delivery_id: uuid.UUID) -> tuple[Response, int]:
        return shown(delivery_id, actor_of_caller())

    @app.put("/internal/deliveries/<uuid:delivery_id>")
    @requires(ANY_STAFF)
    def edit_delivery(delivery_id: uuid.UUID) -> tuple[Response, int]:
        body = json_object()
        if body is None:
            return bad('body must be {"version", "title"?, "category"?, "messages"?, "target"?, "schedule"?}')
        changes = {k: v for k, v in body.items() if k != "version"}
        try:
            bus.handle(c.EditDelivery(delivery_id, actor_of_caller(), _version(body), changes))
        except DeliveryError as exc:
            return refusal(exc)
        return shown(delivery_id, actor_of_caller())

    @app.post("/internal/deliveries/<uuid:delivery_id>/<action>")
    @requires(ANY_STAFF)
    def act_on_delivery(delivery_id: uuid.UUID, action: str) -> tuple[Response, int]:  # noqa: PLR0911
        body = json_object() or {}
        actor = actor_of_caller()
        try:
            if action == "start":
                bus.handle(c.StartDelivery(delivery_id, actor, _version(body)))
            elif action == "count":
                return _count(delivery_id, actor)
            elif action == "test":
                ids = body.get("testRecipientIds")
                if not isinstance(ids, list):
                    return bad('body must be {"testRecipientIds": ["…"]}')
                sent = bus.handle(c.SendTest(delivery_id, actor, tuple(uuid.UUID(str(i)) for i in ids)))
                return jsonify(sent=sent), 200
            elif action == "statistics":
                return _statistics(delivery_id, actor)
            elif action in ACTIONS:
                send_at = datetime.fromisoformat(body["sendAt"]) if isinstance(body.get("sendAt"), str) else None
                bus.handle(c.ActOnDelivery(delivery_id, actor, action, _version(body),
                                           str(body.get("comment", ""))[:1000], send_at))
            else:
                return jsonify(error="Not Found", reason=f"その操作はありません: {action}", code="not_found"), 404
        except DeliveryError as exc:
            return refusal(exc)
        except InvalidRule as exc:
            return bad(" ".join(exc.problems), "invalid_schedule")
        except ValueError:
            return bad("sendAt: an ISO 8601 time with its offset; testRecipientIds: ids")
        return shown(delivery_id, actor)

    def _count(delivery_id: uuid.UUID, actor: Actor) -> tuple[Response, int]:
        found = bus.query(views.delivery(delivery_id, actor, service.ports.clock()))
        if found is None:
            return jsonify(error="Not Found", reason="その配信はありません。", code="not_found"), 404
        from dispatcher.adapters.segments import RecipientsUnavailable

        try:
            counted = service.ports.recipients.count(found["target"])
        except RecipientsUnavailable as exc:
            return jsonify(error="Bad Gateway", reason=exc.reason, code="recipients_unavailable"), 502
        return jsonify(recipients=counted.recipients, matching=counted.matching, unanswered=counted.unanswered,
                       unansweredIncluded=counted.unanswered_included), 200

    @app.get("/internal/deliveries/<uuid:delivery_id>/statistics")
    @requires(ANY_STAFF)
    def delivery_statistics(delivery_id: uuid.UUID) -> tuple[Response, int]:
        return _statistics(delivery_id, actor_of_caller())

    def _statistics(delivery_id: uuid.UUID, actor: Actor) -> tuple[Response, int]:
        found = bus.query(views.delivery(delivery_id, actor, service.ports.clock()))
        if found is None:
            return jsonify(error="Not Found", reason="その配信はありません。", code="not_found"), 404
        unit, runs = found.get("aggregationUnit"), found["runs"]
        if not unit or not runs:
            return jsonify(unit=unit, available=False, reason="まだ配信していないか、集計単位がありません。"), 200
        last = service.ports.clock().astimezone(TOKYO).date()
        first = max(datetime.fromisoformat(runs[0]["startedAt"]).astimezone(TOKYO).date(),
                    last - timedelta(days=29))  # LINE answers at most 30 days at a time
        answer = service.ports.line.statistics(unit, f"{first:%Y%m%d}", f"{last:%Y%m%d}")
        if answer is None:
            return jsonify(unit=unit, available=False, reason="LINEから統計を取得できませんでした。"), 200
        return jsonify(unit=unit, available=True, overview=answer.get("overview"),
                       messages=answer.get("messages", []), clicks=answer.get("clicks", [])), 200

    # --- the test group, templates, images ---------------------------------------------------------------

    @app.get("/internal/test-recipients")
    @requires(ANY_STAFF)
    def list_test_recipients() -> Response:
        actor = actor_of_caller()
        found = bus.query(lambda uow: uow.library.test_recipients())
        return jsonify(testRecipients=[{"id": str(r.id), "label": r.label, "department": r.department}
                                       for r in found if may_read(actor, r.department)])

    @app.post("/internal/test-recipients")
    @requires(staff_role("admin"))
    def add_test_recipient() -> tuple[Response, int]:
        body = json_object()
        if body is None or not all(isinstance(body.get(k), str) and body[k] for k in ("label", "department",
                                                                                       "lineUserId")):
            return bad('body must be {"label", "department", "lineUserId"}')
        from cityline_common.line_ids import is_line_user_id

        line_user_id = body["lineUserId"]
        if not is_line_user_id(line_user_id):
            return bad("lineUserId: a LINE user id (U + 32 hex digits)")
        recipient_id = uuid.uuid4()
        sealed = service.ports.cipher.encrypt_for_row(line_user_id, TEST_RECIPIENT_COLUMN, recipient_id)

        bus.handle(c.StoreInLibrary(TestRecipient(recipient_id, body["department"][:64], body["label"][:100], sealed)))
        return jsonify(id=str(recipient_id)), 201

    @app.delete("/internal/test-recipients/<uuid:recipient_id>")
    @requires(staff_role("admin"))
    def remove_test_recipient(recipient_id: uuid.UUID) -> tuple[Response, int]:
        removed = bus.handle(c.RemoveFromLibrary("test_recipient", recipient_id))
        return (jsonify(deleted=True), 200) if removed else (jsonify(error="Not Found"), 404)

    @app.get("/internal/templates")
    @requires(ANY_STAFF)
    def list_templates() -> Response:
        actor = actor_of_caller()
        wanted = request.args.get("department")
        found = bus.query(lambda uow: uow.library.templates())
        return jsonify(templates=[{"id": str(t.id), "department": t.department, "name": t.name,
                                   "messages": t.messages, "updatedAt": t.updated_at.isoformat() if t.updated_at
                                   else None} for t in found
                                  if may_read(actor, t.department) and (not wanted or t.department == wanted)])

    @app.post("/internal/templates")
    @requires(ANY_STAFF)
    def add_template() -> tuple[Response, int]:
        body = json_object()
        actor = actor_of_caller()
        if body is None or not isinstance(body.get("department"), str) or not isinstance(body.get("name"), str) \
                or not isinstance(body.get("messages"), list) or not body["name"].strip():
            return bad('body must be {"department", "name", "messages": [...]}')
        if not may_edit(actor, body["department"]):
            return refusal(Forbidden("この所属のテンプレートを作る権限がありません。"))
        template = MessageTemplate(uuid.uuid4(), body["department"][:64], body["name"].strip()[:100],
                                   body["messages"][:5], actor.staff_id, None)

        bus.handle(c.StoreInLibrary(template))
        return jsonify(id=str(template.id)), 201

    @app.delete("/internal/templates/<uuid:template_id>")
    @requires(ANY_STAFF)
    def remove_template(template_id: uuid.UUID) -> tuple[Response, int]:
        actor = actor_of_caller()

        found = bus.query(lambda uow: uow.library.template(template_id))
        if found is None or not may_read(actor, found.department):
            return jsonify(deleted=False), 404
        if not may_edit(actor, found.department):
            return jsonify(deleted=False), 403
        bus.handle(c.RemoveFromLibrary("template", template_id))
        return jsonify(deleted=True), 200

    @app.post("/internal/assets")
    @requires(ANY_STAFF)
    def upload_asset() -> tuple[Response, int]:
        actor = actor_of_caller()
        department = request.args.get("department", "")
        if not may_edit(actor, department):
            return refusal(Forbidden("この所属の画像を登録する権限がありません。"))
        if request.content_length is not None and request.content_length > MAX_IMAGE_BYTES:
            return bad("画像は10MB以下にしてください。", "image_too_large")
        data = request.get_data(cache=False)
        if len(data) > MAX_IMAGE_BYTES:
            return bad("画像は10MB以下にしてください。", "image_too_large")
        try:
            asset = reencode(data, department)
        except ValueError as exc:
            return bad(str(exc), "invalid_image")

        bus.handle(c.StoreInLibrary(asset, actor.staff_id))
        return jsonify(id=str(asset.id), contentType=asset.content_type, width=asset.width, height=asset.height,
                       bytes=len(asset.original)), 201

    @app.get("/internal/assets/<uuid:asset_id>")
    @requires(ANY_STAFF)
    def get_asset(asset_id: uuid.UUID) -> Response | tuple[Response, int]:
        found = bus.query(lambda uow: uow.library.asset(asset_id))
        if found is None or not may_read(actor_of_caller(), found.department):
            return jsonify(error="Not Found"), 404
        data = found.preview if request.args.get("size") == "preview" else found.original
        return Response(data, mimetype=found.content_type)

    @app.get("/media/<uuid:asset_id>/<variant>/<signature>")
    def media(asset_id: uuid.UUID, variant: str, signature: str) -> Response | tuple[Response, int]:
        expected = media_signature(service.ports.media_key, str(asset_id), variant)
        if variant not in ("original", "preview") or not hmac.compare_digest(signature, expected):
            return jsonify(error="Not Found"), 404
        found = bus.query(lambda uow: uow.library.asset(asset_id))
        if found is None:
            return jsonify(error="Not Found"), 404
        response = Response(found.original if variant == "original" else found.preview, mimetype=found.content_type)
        response.headers["Cache-Control"] = "public, max-age=86400, immutable"
        return response


def reencode(data: bytes, department: str) -> Asset:
    """Decode and re-encode an uploaded image (metadata and anything hidden in it dropped), at most
    2048 px on the long side, with a ≤ 240 px preview. Raises ValueError in plain Japanese."""
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = 40_000_000  # a decompression bomb is refused, not decoded
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = image.format
            if kind not in ("JPEG", "PNG"):
                raise ValueError("画像はJPEGかPNGにしてください。")
            image.load()
            picture = image.convert("RGBA" if kind == "PNG" else "RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise ValueError("画像として読み取れませんでした。JPEGかPNGの画像を選んでください。") from None
    picture.thumbnail((MAX_SIDE, MAX_SIDE))
    preview = picture.copy()
    preview.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))

    def encoded(image: Any) -> bytes:
        out = io.BytesIO()
        if kind == "PNG":
            image.save(out, "PNG", optimize=True)
        else:
            image.save(out, "JPEG", quality=85, optimize=True)
        return out.getvalue()

    original = encoded(picture)
    return Asset(uuid.uuid4(), department[:64], "image/png" if kind == "PNG" else "image/jpeg", picture.width,
                 picture.height, original, encoded(preview), hashlib.sha256(original).hexdigest())
