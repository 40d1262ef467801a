"""操作ログ screens: search (``GET /audit``) and CSV export (``GET /audit/export.csv``).

The console's app registers them with the permission they need::

    register_audit_views(app, service, requires=permission_required(Permission.VIEW_AUDIT_LOG),
                         actor=lambda: Actor(str(g.staff.id), g.staff.login_id))

``requires`` is applied to every view of the blueprint (deny by default: there is no view without it);
``actor`` names the signed-in staff member for the export's own audit entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from datetime import date, datetime
from typing import Any

from flask import Blueprint, Flask, Response, abort, g, render_template, request, url_for
from flask.typing import ResponseReturnValue

from admin_ui.bootstrap import AdminUi
from admin_ui.domain.audit import ACTION_LABELS, JAPAN, Actor, AuditFilter
from admin_ui.service_layer import audit

PAGE_SIZE = 50
MAX_PAGE = 100_000

View = Callable[..., ResponseReturnValue]
Decorator = Callable[[View], View]


def actor_from_g() -> Actor:
    """The signed-in staff member as ``g.staff`` holds them (``id``, ``login_id``), if anyone."""
    staff = g.get("staff")
    if staff is None:
        return Actor(None, None)
    staff_id = getattr(staff, "id", None)
    return Actor(None if staff_id is None else str(staff_id), getattr(staff, "login_id", None))


def _date(args: Mapping[str, str], name: str, problem: str, errors: list[str]) -> date | None:
    raw = args.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.append(problem)
        return None


def read_conditions(args: Mapping[str, str]) -> tuple[AuditFilter, list[str]]:
    """The search conditions from the query string, and what is wrong with them (Japanese message
    ids, translated by the template)."""
    errors: list[str] = []
    date_from = _date(args, "from", "開始日は 2026-04-01 のように入力してください。", errors)
    date_to = _date(args, "to", "終了日は 2026-04-01 のように入力してください。", errors)
    if date_from and date_to and date_from > date_to:
        errors.append("期間の開始日が終了日より後になっています。")
    where = AuditFilter.from_dates(
        person=args.get("person"), department=args.get("department"), action=args.get("action"),
        date_from=date_from, date_to=date_to,
    )
    return where, errors


def _page_number(args: Mapping[str, str]) -> int:
    raw = args.get("page", "1")
    return min(int(raw), MAX_PAGE) if raw.isdigit() and int(raw) >= 1 else 1


def audit_blueprint(service: AdminUi, requires: Decorator, actor: Callable[[], Actor] = actor_from_g) -> Blueprint:
    blueprint = Blueprint("audit", __name__)
    fields = ("person", "department", "action", "from", "to")

    @blueprint.get("/audit")
    @requires
    def search_page() -> ResponseReturnValue:
        where, errors = read_conditions(request.args)
        number = _page_number(request.args)
        form = {name: request.args.get(name, "") for name in fields}
        given: dict[str, Any] = {name: value for name, value in form.items() if value}
        page = None if errors else service.bus.query(audit.search(where, PAGE_SIZE, (number - 1) * PAGE_SIZE))
        return render_template(
            "audit.html",
            form=form,
            errors=errors,
            page=page,
            number=number,
            actions=sorted(ACTION_LABELS.items(), key=lambda item: item[0]),
            previous_url=url_for("audit.search_page", **given, page=number - 1) if page and page.has_previous else None,
            next_url=url_for("audit.search_page", **given, page=number + 1) if page and page.has_next else None,
            export_url=url_for("audit.export", **given),
        )

    @blueprint.get("/audit/export.csv")
    @requires
    def export() -> ResponseReturnValue:
        where, errors = read_conditions(request.args)
        if errors:
            abort(400, description=" ".join(errors))
        who = actor()
        stack = ExitStack()
        try:
            uow = stack.enter_context(service.bus.uow_factory())
            chunks = audit.export_csv(uow, where, actor=who.id, actor_login=who.login, source=request.remote_addr)
        except BaseException:
            stack.close()
            raise

        def body() -> Iterator[bytes]:
            try:
                for chunk in chunks:
                    yield chunk.encode("utf-8")
            finally:
                stack.close()

        filename = f"audit-log-{datetime.now(JAPAN):%Y%m%d-%H%M%S}.csv"
        response = Response(body(), mimetype="text/csv")
        response.headers["Content-Type"] = "text/csv; charset=utf-8"
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        response.headers["Cache-Control"] = "no-store"
        response.call_on_close(stack.close)  # also when the body is never read (a client gone early)
        return response

    return blueprint


def register_audit_views(
    app: Flask, service: AdminUi, requires: Decorator, actor: Callable[[], Actor] = actor_from_g, **options: Any,
) -> None:
    app.register_blueprint(audit_blueprint(service, requires, actor), **options)
