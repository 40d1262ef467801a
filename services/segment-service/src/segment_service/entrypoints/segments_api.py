"""segment-service's internal API for segments and taxonomy changes (thin: commands and queries on the bus).

* ``POST /internal/segments/count`` ``{"expression" or "segmentId", "unanswered"}``: staff who may draft
  (作成者, 承認者, システム管理者), and the dispatcher (a delivery's count before its confirmation);
* ``GET /internal/segments`` and ``GET /internal/segments/<id>``: any staff role, the segments of the
  departments they hold a role in (every department for システム管理者);
* ``POST /internal/segments`` ``{"name", "department", "expression"}``, ``PUT`` / ``DELETE
  /internal/segments/<id>``: 作成者 in that department, or システム管理者;
* ``POST /internal/taxonomy/preview`` ``{"document", "mappings"}``: システム管理者;
* ``POST /internal/deliveries/<delivery id>/recipients`` ``{"expression" or "segmentId",
  "unanswered"}`` and ``GET …/recipients?after=0&limit=1000[&with=lineUserId]``: the service
  ``dispatcher`` only. A page carries positions and opaque resident ids; ``with=lineUserId`` also
  opens each member's LINE user id (the dispatcher asks for it per send batch, just before sending);
* ``POST /internal/residents/<resident id>/memberships`` ``{"segmentIds": [≤ 100 ids]}`` → ``{"residentId",
  "following", "lineUserId" (followers only, else null), "memberOf", "unknownSegments"}``: which saved
  segments hold for that resident now (unanswered excluded, followers only); the service ``richmenu`` only;
* ``POST /internal/member-lists/<key>`` ``{"segmentId"}`` (201, or 200 when frozen before) and ``GET
  …?after=0&limit=5000[&with=lineUserId]``: a segment's current members (unanswered excluded) frozen under
  ``key`` ([A-Za-z0-9_-]{1,40}) and paged like a delivery's recipients; the service ``richmenu`` only.

Department rules are checked again in the service layer (``SegmentForbidden``), not only here.
"""

from __future__ import annotations

import uuid
from typing import Any

from cityline_common.internal_auth import ANY_STAFF, InternalCaller, current_caller, requires, services, staff_role
from cityline_common.web import bad_request, json_object
from flask import Flask, Response, jsonify, request

from segment_service.bootstrap import SegmentService
from segment_service.domain.commands import DeleteSegment, FreezeRecipients, SaveSegment
from segment_service.domain.segments import InvalidSegment
from segment_service.domain.taxonomy import InvalidTaxonomy
from segment_service.service_layer import segments, taxonomy_changes
from segment_service.service_layer.preferences import NoTaxonomy
from segment_service.service_layer.segments import SegmentForbidden, SegmentNotFound

DRAFTERS = staff_role("author", "approver", "admin")
EDITORS = staff_role("author", "admin")
DISPATCHER = services("dispatcher")
RICHMENU = services("richmenu")
DEFAULT_PAGE = 1000


def visible_departments(caller: InternalCaller) -> frozenset[str] | None:
    if caller.holds_everywhere("admin"):
        return None
    return frozenset(grant.department for grant in caller.roles if grant.department is not None)


def editable_departments(caller: InternalCaller) -> frozenset[str] | None:
    if caller.holds_everywhere("admin"):
        return None
    return caller.departments_with("author") | caller.departments_with("admin")



def register_segments_api(app: Flask, service: SegmentService) -> None:  # noqa: PLR0915 - one place lists the API
    bus = service.bus

    def refused(exc: Exception) -> tuple[Response, int]:
        if isinstance(exc, SegmentForbidden):
            return jsonify(error="Forbidden", reason=str(exc)), 403
        if isinstance(exc, SegmentNotFound):
            return jsonify(error="Not Found", reason=str(exc)), 404
        if isinstance(exc, NoTaxonomy):
            return bad_request(str(exc), 409)
        return bad_request(str(exc))

    @app.post("/internal/segments/count")
    @requires(DRAFTERS | DISPATCHER)
    def count_segment() -> tuple[Response, int]:
        body = json_object()
        if body is None or ("expression" not in body and "segmentId" not in body):
            return bad_request('body must be {"expression": … or "segmentId": "…", '
                               '"unanswered": "auto|include|exclude"}')
        expression = body.get("expression")
        if "segmentId" in body:
            try:
                saved = bus.query(segments.saved_segment(uuid.UUID(str(body["segmentId"]))))
            except ValueError:
                return bad_request("segmentId: a segment id")
            if saved is None:
                return jsonify(error="Not Found", reason="no such segment"), 404
            expression = saved.expression
        try:
            counted = bus.query(segments.count(expression, str(body.get("unanswered", "auto")), service.timezone))
        except (InvalidSegment, NoTaxonomy) as exc:
            return refused(exc)
        return jsonify(counted.as_json()), 200

    @app.get("/internal/segments")
    @requires(ANY_STAFF)
    def list_segments() -> Response:
        found = bus.query(segments.saved_segments(visible_departments(current_caller())))
        return jsonify(segments=[segment.as_json() for segment in found])

    @app.get("/internal/segments/<uuid:segment_id>")
    @requires(ANY_STAFF)
    def get_segment(segment_id: uuid.UUID) -> tuple[Response, int]:
        found = bus.query(segments.saved_segment(segment_id))
        departments = visible_departments(current_caller())
        if found is None or (departments is not None and found.department not in departments):
            return jsonify(error="Not Found", reason="no such segment"), 404
        return jsonify(found.as_json()), 200

    def save(segment_id: uuid.UUID | None) -> tuple[Response, int]:
        body = json_object()
        if body is None or not {"name", "department", "expression"} <= set(body) \
                or not isinstance(body["name"], str) or not isinstance(body["department"], str):
            return bad_request('body must be {"name": "…", "department": "…", "expression": …}')
        caller = current_caller()
        try:
            saved = bus.handle(SaveSegment(body["name"], body["department"], body["expression"],
                                           caller.staff_id or caller.subject, editable_departments(caller),
                                           segment_id))
        except (InvalidSegment, NoTaxonomy, SegmentForbidden, SegmentNotFound) as exc:
            return refused(exc)
        return jsonify(id=str(saved.id)), 201 if saved.created else 200

    @app.post("/internal/segments")
    @requires(EDITORS)
    def create_segment() -> tuple[Response, int]:
        return save(None)

    @app.put("/internal/segments/<uuid:segment_id>")
    @requires(EDITORS)
    def update_segment(segment_id: uuid.UUID) -> tuple[Response, int]:
        return save(segment_id)

    @app.delete("/internal/segments/<uuid:segment_id>")
    @requires(EDITORS)
    def delete_segment(segment_id: uuid.UUID) -> tuple[Response, int]:
        try:
            deleted = bus.handle(DeleteSegment(segment_id, editable_departments(current_caller())))
        except SegmentForbidden as exc:
            return refused(exc)
        return (jsonify(deleted=True), 200) if deleted else (jsonify(error="Not Found", reason="no such segment"), 404)

    @app.post("/internal/taxonomy/preview")
    @requires(staff_role("admin"))
    def preview_taxonomy() -> tuple[Response, int]:
        body = json_object()
        if body is None or not isinstance(body.get("document"), dict) \
                or not isinstance(body.get("mappings", {}), dict):
            return bad_request('body must be {"document": {…}, "mappings": {"categories": {"old": "new"}}}')
        try:
            seen = bus.query(taxonomy_changes.preview(body["document"], body.get("mappings", {})))
        except InvalidTaxonomy as exc:
            return bad_request(str(exc))
        return jsonify(seen.as_json()), 200

    def recipients_page(list_name: str, named: dict[str, str], missing: str) -> tuple[Response, int]:
        """A page of a frozen list, ``named`` by its delivery id or member-list key."""
        asked = _page_arguments()
        if isinstance(asked, str):
            return bad_request(asked)
        page = bus.query(segments.recipients_page(list_name, *asked))
        if page is None:
            return jsonify(error="Not Found", reason=missing), 404
        listed = {key: value for key, value in page.recipients.as_json().items() if key != "deliveryId"}
        return jsonify(**named, **listed, recipients=_members(page, opened=asked[2]), next=page.next_after), 200

    @app.post("/internal/deliveries/<delivery_id>/recipients")
    @requires(DISPATCHER)
    def freeze_recipients(delivery_id: str) -> tuple[Response, int]:
        if delivery_id.startswith(segments.MEMBER_LIST_PREFIX):  # richmenu-service's lists are not deliveries
            return bad_request("deliveryId: not a delivery id")
        body = json_object()
        if body is None:
            return bad_request('body must be {"expression": …} or {"segmentId": "…"}, with "unanswered"')
        try:
            segment_id = uuid.UUID(body["segmentId"]) if body.get("segmentId") is not None else None
        except (ValueError, TypeError, AttributeError):
            return bad_request("segmentId: a segment id")
        try:
            frozen = bus.handle(FreezeRecipients(delivery_id, body.get("expression"), segment_id,
                                                 str(body.get("unanswered", "auto"))))
        except (InvalidSegment, NoTaxonomy, SegmentNotFound) as exc:
            return refused(exc)
        return jsonify(deliveryId=frozen.delivery_id, members=frozen.members), 201 if frozen.created else 200

    @app.get("/internal/deliveries/<delivery_id>/recipients")
    @requires(DISPATCHER)
    def recipients(delivery_id: str) -> tuple[Response, int]:
        if delivery_id.startswith(segments.MEMBER_LIST_PREFIX):
            return jsonify(error="Not Found", reason="no recipient list for this delivery"), 404
        return recipients_page(delivery_id, {"deliveryId": delivery_id}, "no recipient list for this delivery")

    @app.post("/internal/residents/<resident_id>/memberships")
    @requires(RICHMENU)
    def resident_memberships(resident_id: str) -> tuple[Response, int]:
        body = json_object()
        asked = body.get("segmentIds") if body is not None else None
        if not isinstance(asked, list) or not all(isinstance(each, str) for each in asked):
            return bad_request('body must be {"segmentIds": ["<segment id>", …]}')
        if len(asked) > segments.MAX_MEMBERSHIP_SEGMENTS:
            return bad_request(f"segmentIds: at most {segments.MAX_MEMBERSHIP_SEGMENTS}")
        try:
            resident = uuid.UUID(resident_id)
            segment_ids = [uuid.UUID(each) for each in asked]
        except ValueError:
            return bad_request("residentId and segmentIds: ids (UUIDs)")
        try:
            found = bus.query(segments.memberships(resident, segment_ids, service.timezone))
        except (InvalidSegment, NoTaxonomy) as exc:
            return refused(exc)
        if found is None:
            return jsonify(error="Not Found", reason="no such resident"), 404
        return jsonify(found.as_json()), 200

    @app.post("/internal/member-lists/<key>")
    @requires(RICHMENU)
    def freeze_member_list(key: str) -> tuple[Response, int]:
        body = json_object()
        try:
            name = segments.member_list_name(key)
            segment_id = uuid.UUID(body["segmentId"]) if body is not None else None
        except InvalidSegment as exc:
            return refused(exc)
        except (KeyError, ValueError, TypeError, AttributeError):
            segment_id = None
        if segment_id is None:
            return bad_request('body must be {"segmentId": "<segment id>"}')
        try:
            # Exactly a delivery's freeze (once per list, by keyset), of a saved segment, unanswered excluded.
            frozen = bus.handle(FreezeRecipients(name, None, segment_id, "exclude"))
        except (InvalidSegment, NoTaxonomy, SegmentNotFound) as exc:
            return refused(exc)
        return jsonify(key=key, members=frozen.members), 201 if frozen.created else 200

    @app.get("/internal/member-lists/<key>")
    @requires(RICHMENU)
    def member_list(key: str) -> tuple[Response, int]:
        try:
            name = segments.member_list_name(key)
        except InvalidSegment as exc:
            return refused(exc)
        return recipients_page(name, {"key": key}, "no member list under this key")


def _page_arguments() -> tuple[int, int, bool] | str:
    """``after``, ``limit`` and whether LINE user ids are opened (``with=lineUserId``), or what is wrong."""
    after, limit = request.args.get("after", "0"), request.args.get("limit", str(DEFAULT_PAGE))
    if not (after.isascii() and after.isdigit() and limit.isascii() and limit.isdigit()) \
            or not 1 <= int(limit) <= segments.MAX_PAGE or len(after) > 9:
        return f"after: a position (0 to start); limit: 1 to {segments.MAX_PAGE}"
    extra = request.args.get("with", "")
    if extra not in ("", "lineUserId"):
        return "with: lineUserId, or nothing"
    return int(after), int(limit), extra == "lineUserId"


def _members(page: segments.RecipientsPage, opened: bool) -> list[dict[str, Any]]:
    if opened:
        return [{"position": m.position, "residentId": str(m.resident_id), "lineUserId": m.line_user_id}
                for m in page.members]
    return [{"position": m.position, "residentId": str(m.resident_id)} for m in page.members]
