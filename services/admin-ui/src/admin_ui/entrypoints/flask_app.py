"""HTTP entrypoint of the staff console (管理画面): thin routes over the message bus.

Deny by default (``entrypoints/access.py``): every route declares ``@requires(Permission…)`` or
``@public``, and the app refuses to start otherwise. Sign-in state lives in PostgreSQL
(``admin.staff_sessions``); the browser holds only a random token in an HttpOnly cookie. Flask's own
signed cookie carries nothing but the CSRF secret (Flask-WTF).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from functools import lru_cache
from typing import Any

import segno
from babel.dates import format_date
from cityline_common.health import standard_readiness
from cityline_common.internal_auth import RoleGrant, StaffClaims
from cityline_common.web import bootstrap_from_environment, create_base_app
from flask import (
    Flask,
    Response,
    abort,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import Babel, get_locale
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, CSRFProtect
from markupsafe import Markup
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from admin_ui.bootstrap import AdminUi, bootstrap
from admin_ui.config import Settings
from admin_ui.domain.accounts import AccountError, StaffMember
from admin_ui.domain.audit import JAPAN
from admin_ui.domain.commands import (
    Authenticate,
    ChangeGrants,
    ChangePassword,
    ConfirmTotpEnrolment,
    CountSegment,
    CreateDepartment,
    CreateStaff,
    DeleteSegment,
    EndSession,
    OpenSegment,
    ResetPassword,
    ResetTwoFactor,
    SaveSegment,
    SetStaffDisabled,
    ShowDashboard,
    ShowSegmentBuilder,
    ShowSegments,
    ShowSystemStatus,
    SignIn,
    SignOut,
    StartTotpEnrolment,
    VerifySecondFactor,
)
from admin_ui.domain.permissions import ROLE_LABELS, Grant, NotAllowed, Permission, Role, allowed, departments_where
from admin_ui.domain.results import Authenticated, SignInOutcome
from admin_ui.domain.segments import SegmentCount, SegmentForm, SegmentFormError, SegmentRefused, describe
from admin_ui.domain.sessions import SessionStage
from admin_ui.entrypoints.access import access_of, check_routes, declare_public, public, requires, safe_next, wants_json
from admin_ui.manifest import MANIFEST
from admin_ui.service_layer import accounts

LANGUAGES = {"ja": "日本語", "en": "English"}
LANG_COOKIE = "lang"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# Where a member who must change their password may still go.
_PASSWORD_CHANGE_ENDPOINTS = {"change_password", "sign_out"}


def auth_cookie_name(secure: bool) -> str:
    return "__Host-cityline-admin" if secure else "cityline-admin"


def staff_claims(member: StaffMember) -> StaffClaims:
    """The signed-in member as internal API tokens name them (``cityline_common.internal_auth``)."""
    grants = sorted(member.grants, key=lambda grant: grant.sort_key)
    return StaffClaims(str(member.id), tuple(RoleGrant(grant.department, grant.role.value) for grant in grants))


def qr_svg(uri: str) -> Markup:
    """The otpauth URI as an inline SVG QR code (no external fetch, no inline style)."""
    svg = segno.make(uri, error="m").svg_inline(scale=5, border=4, dark="#000", light="#fff", omitsize=False)
    return Markup(svg)  # noqa: S704 - segno's own markup of an otpauth URI: no user HTML in it


@lru_cache(maxsize=1024)
def day_label(day: date, locale: str) -> str:
    """``2026/11/26 (木)`` / ``2026/11/26 (Thu)``. Cached: Babel formats slowly, and a dashboard shows
    the same thirty days to every member all day."""
    return format_date(day, "yyyy/MM/dd (EEE)", locale=locale)


def parse_grants(values: list[str]) -> frozenset[Grant]:
    """Form checkboxes ``admin:`` / ``author:kosodate`` → grants; anything else is refused."""
    grants = set()
    for value in values:
        role, _sep, department = value.partition(":")
        try:
            grants.add(Grant(Role(role), department or None))
        except ValueError:
            raise AccountError("役割の指定が正しくありません") from None
    return frozenset(grants)


def create_app(service: AdminUi | None = None) -> Flask:  # noqa: PLR0915 - one place lists every route
    service = service or bootstrap_from_environment("admin-ui", Settings, bootstrap)
    settings = service.settings
    secure = settings.admin_ui_cookie_secure
    auth_cookie = auth_cookie_name(secure)
    app = create_base_app(
        "admin-ui", standard_readiness(service.engine, MANIFEST.schema, service.settings.amqp_url),
        import_name="admin_ui",
    )
    app.config.update(
        SECRET_KEY=settings.flask_secret_key(),
        SESSION_COOKIE_NAME="__Host-cityline-csrf" if secure else "cityline-csrf",
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_PATH="/",
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the CSRF cookie (a browser session)
        BABEL_DEFAULT_LOCALE="ja",
        MAX_CONTENT_LENGTH=64 * 1024,
    )

    def choose_locale() -> str:
        chosen = request.cookies.get(LANG_COOKIE, "")
        return chosen if chosen in LANGUAGES else "ja"

    Babel(app, locale_selector=choose_locale)
    declare_public(app, "healthz", "readyz", "metrics", "static")

    # --- who is asking, and may they ----------------------------------------------------------------

    def load_staff() -> Authenticated | None:
        token = request.cookies.get(auth_cookie)
        if not token or len(token) > 100:
            return None
        return service.bus.handle(Authenticate(token))

    @app.before_request
    def _enforce_access() -> ResponseReturnValue | None:  # noqa: PLR0911 - one return per outcome
        access = access_of(app, request.endpoint)
        if access is None or request.endpoint in {"healthz", "readyz", "metrics", "static"}:
            return None  # 404/405 follow; check_routes guarantees every real endpoint declares
        g.auth = load_staff()
        g.staff = g.auth.member if g.auth and g.auth.session.stage is SessionStage.ACTIVE else None
        if access.public:
            return None
        if g.staff is None:
            if wants_json():
                return jsonify(error="Unauthorized", reason="sign in first"), 401
            target = request.full_path if request.query_string else request.path
            return redirect(url_for("sign_in", next=safe_next(target)))
        if g.staff.must_change_password and request.endpoint not in _PASSWORD_CHANGE_ENDPOINTS:
            return redirect(url_for("change_password"))
        department = (request.view_args or {}).get(access.department_arg) if access.department_arg else None
        assert access.permission is not None
        if not allowed(g.staff, access.permission, department):
            return forbidden()
        return None

    csrf = CSRFProtect()
    csrf.init_app(app)  # after the access hook: anonymous requests are sent to sign-in first

    def forbidden() -> ResponseReturnValue:
        if wants_json():
            return jsonify(error="Forbidden", reason="not allowed for your roles"), 403
        return render_template("error.html", title=_("アクセスできません"),
                               message=_("このページを見る権限がありません。")), 403

    @app.template_filter("japan_time")
    def _japan_time(moment: datetime) -> str:
        """Stored in UTC, shown as staff read the clock on the wall (日本時間)."""
        return moment.astimezone(JAPAN).strftime("%Y-%m-%d %H:%M")

    @app.template_filter("day_label")
    def _day_label(day: date) -> str:
        return day_label(day, str(get_locale() or "ja"))

    @app.context_processor
    def _helpers() -> dict[str, Any]:
        staff: StaffMember | None = g.get("staff")

        def can(permission: str, department: str | None = None) -> bool:
            return staff is not None and allowed(staff, Permission[permission], department)

        return {"staff": staff, "can": can, "locale": str(get_locale() or "ja"), "languages": LANGUAGES,
                "role_labels": {role.value: _(label) for role, label in ROLE_LABELS.items()}}

    @app.after_request
    def _security_headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if request.is_secure:
            response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        if (response.mimetype or "").startswith("text/") and "charset" not in (response.content_type or ""):
            response.content_type = f"{response.mimetype}; charset=utf-8"
        return response

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError) -> ResponseReturnValue:
        if wants_json():
            return jsonify(error="Bad Request", reason="missing or invalid CSRF token"), 400
        return render_template("error.html", title=_("送信を受け付けられませんでした"),
                               message=_("画面を開き直してから、もう一度送信してください。")), 400

    @app.errorhandler(NotAllowed)
    def _not_allowed(exc: NotAllowed) -> ResponseReturnValue:
        return forbidden()

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> ResponseReturnValue:
        if wants_json():
            return jsonify(error=exc.name, reason=exc.description), exc.code or 500
        return render_template("error.html", title=f"{exc.code} {exc.name}", message=""), exc.code or 500

    # --- cookies -------------------------------------------------------------------------------------

    def with_token(response: BaseResponse, token: str) -> BaseResponse:
        session.clear()  # a new CSRF secret with every new sign-in state
        response.set_cookie(auth_cookie, token, secure=secure, httponly=True, samesite="Lax", path="/")
        return response

    def without_token(response: BaseResponse) -> BaseResponse:
        session.clear()
        response.delete_cookie(auth_cookie, secure=secure, httponly=True, samesite="Lax", path="/")
        return response

    def address() -> str:
        return (request.remote_addr or "unknown")[:64]

    def next_page() -> str:
        return safe_next(request.values.get("next")) or url_for("dashboard")

    def locked_message(seconds: int) -> str:
        return str(_("試行回数が上限を超えたため、しばらくサインインできません。"
                     "%(seconds)s秒後にもう一度お試しください。", seconds=seconds))

    # --- sign-in ------------------------------------------------------------------------------------

    @app.route("/signin", methods=["GET", "POST"])
    @public
    def sign_in() -> ResponseReturnValue:
        target = safe_next(request.values.get("next"))
        if request.method == "GET":
            return render_template("signin.html", next=target, error=None)
        result = service.bus.handle(SignIn(
            request.form.get("login_id", "")[:200], request.form.get("password", "")[:1024], address(),
            request.headers.get("User-Agent", "")[:200],
        ))
        if result.outcome is SignInOutcome.LOCKED:
            return render_template("signin.html", next=target, error=locked_message(result.retry_after)), 429
        if result.token is None:
            return render_template("signin.html", next=target,
                                   error=_("ログインIDまたはパスワードが正しくありません。")), 401
        step = "second_factor" if result.outcome is SignInOutcome.SECOND_FACTOR else "setup_second_factor"
        return with_token(redirect(url_for(step, next=target)), result.token)

    def pending_token(stage: SessionStage) -> str | None:
        token = request.cookies.get(auth_cookie)
        auth = load_staff() if token else None
        return token if auth is not None and auth.session.stage is stage else None

    @app.route("/signin/code", methods=["GET", "POST"])
    @public
    def second_factor() -> ResponseReturnValue:
        token = pending_token(SessionStage.SECOND_FACTOR)
        target = safe_next(request.values.get("next"))
        if token is None:
            return redirect(url_for("sign_in", next=target))
        if request.method == "GET":
            return render_template("second_factor.html", next=target, error=None)
        result = service.bus.handle(VerifySecondFactor(token, request.form.get("code", "")[:64], address()))
        if result.outcome is SignInOutcome.SIGNED_IN and result.token is not None:
            return with_token(redirect(next_page()), result.token)
        if result.outcome is SignInOutcome.RESTART:
            return without_token(redirect(url_for("sign_in", next=target)))
        error = (locked_message(result.retry_after) if result.outcome is SignInOutcome.LOCKED
                 else _("確認コードが正しくありません。"))
        return render_template("second_factor.html", next=target, error=error), 401

    @app.route("/signin/setup", methods=["GET", "POST"])
    @public
    def setup_second_factor() -> ResponseReturnValue:
        token = pending_token(SessionStage.ENROL)
        target = safe_next(request.values.get("next"))
        if token is None:
            return redirect(url_for("sign_in", next=target))
        enrolment = service.bus.handle(StartTotpEnrolment(token))
        page = {"enrolment": enrolment, "qr": qr_svg(enrolment.uri), "next": target}
        if request.method == "GET":
            return render_template("setup_second_factor.html", error=None, **page)
        result = service.bus.handle(ConfirmTotpEnrolment(token, request.form.get("code", "")[:64], address()))
        if result.outcome is SignInOutcome.SIGNED_IN and result.token is not None:
            response = make_response(render_template("recovery_codes.html", codes=result.recovery_codes,
                                                     next=target or url_for("dashboard")))
            return with_token(response, result.token)
        if result.outcome is SignInOutcome.RESTART:
            return without_token(redirect(url_for("sign_in")))
        error = (locked_message(result.retry_after) if result.outcome is SignInOutcome.LOCKED
                 else _("確認コードが正しくありません。アプリに表示されている6桁の数字を入力してください。"))
        return render_template("setup_second_factor.html", error=error, **page), 401

    @app.post("/signout")
    @requires(Permission.SIGNED_IN)
    def sign_out() -> ResponseReturnValue:
        service.bus.handle(SignOut(request.cookies.get(auth_cookie, ""), address()))
        return without_token(redirect(url_for("sign_in", signed_out=1)))

    @app.post("/language")
    @public
    def choose_language() -> ResponseReturnValue:
        chosen = next((code for code in LANGUAGES if code == request.form.get("lang")), "ja")
        response = redirect(safe_next(request.form.get("next")) or url_for("dashboard"))
        response.set_cookie(LANG_COOKIE, chosen, max_age=365 * 24 * 3600, secure=secure, httponly=True,
                            samesite="Lax", path="/")
        return response

    # --- one's own account -------------------------------------------------------------------------

    @app.route("/account/password", methods=["GET", "POST"])
    @requires(Permission.SIGNED_IN)
    def change_password() -> ResponseReturnValue:
        if request.method == "GET":
            return render_template("password.html", problems=[], done=False)
        new = request.form.get("new_password", "")[:1024]
        if new != request.form.get("new_password_again", "")[:1024]:
            return render_template("password.html", problems=[_("新しいパスワードが2回とも同じになっていません")],
                                   done=False), 400
        problems = service.bus.handle(ChangePassword(
            g.staff.id, request.form.get("current_password", "")[:1024], new, g.auth.session.id, address(),
        ))
        status = 400 if problems else 200
        return render_template("password.html", problems=[_(p) for p in problems], done=not problems), status

    @app.get("/account/sessions")
    @requires(Permission.SIGNED_IN)
    def my_sessions() -> ResponseReturnValue:
        sessions = service.bus.query(accounts.sessions_of(g.staff.id))
        return render_template("sessions.html", sessions=sessions, current=g.auth.session.id)

    @app.post("/account/sessions/<uuid:session_id>/end")
    @requires(Permission.SIGNED_IN)
    def end_my_session(session_id: uuid.UUID) -> ResponseReturnValue:
        if session_id == g.auth.session.id:
            return redirect(url_for("my_sessions"))  # this one ends with サインアウト
        service.bus.handle(EndSession(g.staff.id, session_id, address()))
        return redirect(url_for("my_sessions"))

    @app.get("/api/me")
    @requires(Permission.SIGNED_IN)
    def api_me() -> ResponseReturnValue:
        member: StaffMember = g.staff
        return jsonify(login_id=member.login_id, display_name=member.display_name,
                       roles=accounts.roles_of(member.grants))

    # --- pages ---------------------------------------------------------------------------------------

    @app.get("/")
    @requires(Permission.VIEW_DASHBOARD)
    def dashboard() -> ResponseReturnValue:
        board = service.bus.handle(ShowDashboard(staff=staff_claims(g.staff)))
        return render_template("dashboard.html", friends=board.friends,
                               chart=board.friends.chart() if board.friends else None)

    @app.get("/status")
    @requires(Permission.VIEW_STATUS)
    def system_status() -> ResponseReturnValue:
        return render_template("status.html", status=service.bus.handle(ShowSystemStatus(staff=staff_claims(g.staff))))

    @app.get("/departments/<code>")
    @requires(Permission.VIEW_ITEMS, department_arg="code")
    def department(code: str) -> ResponseReturnValue:
        found = service.bus.query(accounts.department_members(code))
        if found is None:
            return render_template("error.html", title=_("見つかりません"), message=""), 404
        dept, members = found
        return render_template("department.html", department=dept, members=members)

    # --- 職員アカウント (システム管理者) --------------------------------------------------------------------

    def account_form(template: str, status: int = 200, **extra: Any) -> ResponseReturnValue:
        departments = service.bus.query(accounts.department_list)
        return render_template(template, departments=departments, **extra), status

    @app.get("/admin/staff")
    @requires(Permission.MANAGE_ACCOUNTS)
    def staff_list() -> ResponseReturnValue:
        return account_form("staff_list.html", members=service.bus.query(accounts.staff_list))

    @app.route("/admin/staff/new", methods=["GET", "POST"])
    @requires(Permission.MANAGE_ACCOUNTS)
    def staff_new() -> ResponseReturnValue:
        if request.method == "GET":
            return account_form("staff_new.html", error=None, form={}, chosen=set())
        chosen = request.form.getlist("grant")
        try:
            created = service.bus.handle(CreateStaff(
                g.staff.id, request.form.get("login_id", "")[:200], request.form.get("display_name", "")[:200],
                parse_grants(chosen), address=address(),
            ))
        except AccountError as exc:
            return account_form("staff_new.html", 400, error=_(str(exc)), form=request.form, chosen=set(chosen))
        return render_template("staff_password.html", login_id=created.login_id,
                               password=created.temporary_password, created=True)

    def member_or_404(staff_id: uuid.UUID) -> StaffMember:
        member = next((m for m in service.bus.query(accounts.staff_list) if m.id == staff_id), None)
        if member is None:
            abort(404)
        return member

    @app.route("/admin/staff/<uuid:staff_id>", methods=["GET", "POST"])
    @requires(Permission.MANAGE_ACCOUNTS)
    def staff_edit(staff_id: uuid.UUID) -> ResponseReturnValue:
        member = member_or_404(staff_id)
        chosen = {f"{g_.role.value}:{g_.department or ''}" for g_ in member.grants}
        if request.method == "GET":
            return account_form("staff_edit.html", member=member, chosen=chosen, error=None, saved=False)
        chosen = set(request.form.getlist("grant"))
        try:
            service.bus.handle(ChangeGrants(g.staff.id, staff_id, parse_grants(sorted(chosen)), address()))
        except AccountError as exc:
            return account_form("staff_edit.html", 400, member=member, chosen=chosen, error=_(str(exc)), saved=False)
        return account_form("staff_edit.html", member=member_or_404(staff_id), chosen=chosen, error=None, saved=True)

    def account_action(staff_id: uuid.UUID, command: Any) -> ResponseReturnValue:
        member = member_or_404(staff_id)
        try:
            result = service.bus.handle(command)
        except AccountError as exc:
            chosen = {f"{g_.role.value}:{g_.department or ''}" for g_ in member.grants}
            return account_form("staff_edit.html", 400, member=member, chosen=chosen, error=_(str(exc)), saved=False)
        if isinstance(command, ResetPassword):
            return render_template("staff_password.html", login_id=member.login_id, password=result, created=False)
        return redirect(url_for("staff_edit", staff_id=staff_id, done=1))

    @app.post("/admin/staff/<uuid:staff_id>/disable")
    @requires(Permission.MANAGE_ACCOUNTS)
    def staff_disable(staff_id: uuid.UUID) -> ResponseReturnValue:
        return account_action(staff_id, SetStaffDisabled(g.staff.id, staff_id, True, address()))

    @app.post("/admin/staff/<uuid:staff_id>/enable")
    @requires(Permission.MANAGE_ACCOUNTS)
    def staff_enable(staff_id: uuid.UUID) -> ResponseReturnValue:
        return account_action(staff_id, SetStaffDisabled(g.staff.id, staff_id, False, address()))

    @app.post("/admin/staff/<uuid:staff_id>/reset-password")
    @requires(Permission.MANAGE_ACCOUNTS)
    def staff_reset_password(staff_id: uuid.UUID) -> ResponseReturnValue:
        return account_action(staff_id, ResetPassword(g.staff.id, staff_id, address()))

    @app.post("/admin/staff/<uuid:staff_id>/reset-2fa")
    @requires(Permission.MANAGE_ACCOUNTS)
    def staff_reset_two_factor(staff_id: uuid.UUID) -> ResponseReturnValue:
        return account_action(staff_id, ResetTwoFactor(g.staff.id, staff_id, address()))

    @app.route("/admin/departments", methods=["GET", "POST"])
    @requires(Permission.MANAGE_ACCOUNTS)
    def departments() -> ResponseReturnValue:
        if request.method == "GET":
            return account_form("departments.html", error=None)
        try:
            service.bus.handle(CreateDepartment(g.staff.id, request.form.get("code", "")[:64],
                                                request.form.get("name", "")[:200], address()))
        except (AccountError, ValueError) as exc:
            return account_form("departments.html", 400, error=_(str(exc)))
        return redirect(url_for("departments"))

    # --- セグメント (kept by segment-service; asked on behalf of the member) -----------------------------

    def count_text(counted: SegmentCount) -> str:
        figures = {"recipients": counted.recipients, "matching": counted.matching, "unanswered": counted.unanswered}
        if counted.unanswered_included:
            return str(_("配信対象は %(recipients)s 人です"
                         "（条件に合う人 %(matching)s 人と、未回答の友だち %(unanswered)s 人）。", **figures))
        return str(_("配信対象は %(recipients)s 人です"
                     "（条件に合う人 %(matching)s 人。未回答の友だち %(unanswered)s 人は含みません）。", **figures))

    def refused_text(exc: SegmentRefused) -> str:
        if exc.status is None or exc.status >= 500:
            return str(_("セグメントの機能に接続できませんでした。しばらくしてからもう一度お試しください。"))
        return str(_("条件を受け付けられませんでした: %(reason)s", reason=exc.reason))

    def editable_departments() -> list[Any]:
        editable = departments_where(g.staff, Permission.EDIT_ITEMS)
        return [d for d in service.bus.query(accounts.department_list) if editable is None or d.code in editable]

    def builder(form: SegmentForm, segment_id: uuid.UUID | None, status: int = 200, *,
                counted: SegmentCount | None = None, problems: list[str] | None = None) -> ResponseReturnValue:
        choices = service.bus.handle(ShowSegmentBuilder(staff_claims(g.staff)))
        return render_template("segment_form.html", form=form, segment_id=segment_id, choices=choices,
                               departments=editable_departments(), count=count_text(counted) if counted else None,
                               problems=problems or []), status

    def submitted(segment_id: uuid.UUID | None) -> ResponseReturnValue:
        try:
            form = SegmentForm.from_form(request.form)
        except SegmentFormError as exc:
            return builder(SegmentForm(), segment_id, 400, problems=[_(p) for p in exc.problems])
        try:
            if request.form.get("action") == "save":
                service.bus.handle(SaveSegment(g.staff.id, staff_claims(g.staff), form, segment_id, address()))
                return redirect(url_for("segment_list", saved=1))
            counted = service.bus.handle(CountSegment(staff_claims(g.staff), form))
        except SegmentFormError as exc:
            return builder(form, segment_id, 400, problems=[_(p) for p in exc.problems])
        except SegmentRefused as exc:
            return builder(form, segment_id, 502 if exc.status is None or exc.status >= 500 else 400,
                           problems=[refused_text(exc)])
        return builder(form, segment_id, counted=counted)

    @app.get("/segments")
    @requires(Permission.VIEW_ITEMS)
    def segment_list() -> ResponseReturnValue:
        listed = service.bus.handle(ShowSegments(staff_claims(g.staff)))
        return render_template("segments.html", listed=listed, saved=request.args.get("saved") == "1",
                               deleted=request.args.get("deleted") == "1")

    @app.route("/segments/new", methods=["GET", "POST"])
    @requires(Permission.EDIT_ITEMS)
    def segment_new() -> ResponseReturnValue:
        if request.method == "GET":
            return builder(SegmentForm(), None)
        return submitted(None)

    @app.route("/segments/<uuid:segment_id>", methods=["GET", "POST"])
    @requires(Permission.EDIT_ITEMS)
    def segment_edit(segment_id: uuid.UUID) -> ResponseReturnValue:
        if request.method == "POST":
            return submitted(segment_id)
        found = service.bus.handle(OpenSegment(staff_claims(g.staff), segment_id))
        if found is None:
            return render_template("error.html", title=_("見つかりません"), message=""), 404
        if not allowed(g.staff, Permission.EDIT_ITEMS, found.department):
            return forbidden()
        try:
            form = SegmentForm.from_expression(found.name, found.department, found.expression)
        except SegmentFormError as exc:
            return render_template("error.html", title=found.name, message=_(exc.problems[0])), 409
        return builder(form, segment_id)

    @app.get("/segments/<uuid:segment_id>/view")
    @requires(Permission.VIEW_ITEMS)
    def segment_view(segment_id: uuid.UUID) -> ResponseReturnValue:
        """閲覧者 and 承認者 read a segment (the builder is for those who may change it)."""
        found = service.bus.handle(OpenSegment(staff_claims(g.staff), segment_id))
        if found is None:
            return render_template("error.html", title=_("見つかりません"), message=""), 404
        if not allowed(g.staff, Permission.VIEW_ITEMS, found.department):
            return forbidden()
        choices = service.bus.handle(ShowSegmentBuilder(staff_claims(g.staff)))
        try:
            words = describe(SegmentForm.from_expression(found.name, found.department, found.expression), choices)
        except SegmentFormError as exc:
            words = [exc.problems[0]]
        try:
            form = SegmentForm.from_expression(found.name, found.department, found.expression)
            counted: SegmentCount | None = service.bus.handle(CountSegment(staff_claims(g.staff), form))
        except (SegmentFormError, SegmentRefused):
            counted = None
        names = {d.code: d.name for d in service.bus.query(accounts.department_list)}
        # The conditions in words are Japanese whatever the page's language: they quote the taxonomy's labels.
        return render_template("segment_view.html", segment=found, words=words,
                               department=names.get(found.department, found.department),
                               count=count_text(counted) if counted else None,
                               editable=allowed(g.staff, Permission.EDIT_ITEMS, found.department))

    @app.post("/segments/<uuid:segment_id>/delete")
    @requires(Permission.EDIT_ITEMS)
    def segment_delete(segment_id: uuid.UUID) -> ResponseReturnValue:
        try:
            service.bus.handle(DeleteSegment(g.staff.id, staff_claims(g.staff), segment_id, address()))
        except SegmentRefused as exc:
            if exc.status == 404:
                abort(404)
            return render_template("error.html", title=_("削除できませんでした"), message=refused_text(exc)), 502
        return redirect(url_for("segment_list", deleted=1))

    @app.post("/api/segments/count")
    @requires(Permission.EDIT_ITEMS)
    def api_segment_count() -> ResponseReturnValue:
        """The builder's live count (static/segment-builder.js): the form as posted, the count as text."""
        try:
            counted = service.bus.handle(CountSegment(staff_claims(g.staff), SegmentForm.from_form(request.form)))
        except SegmentFormError as exc:
            return jsonify(error="Bad Request", text=" ".join(_(p) for p in exc.problems)), 400
        except SegmentRefused as exc:
            return jsonify(error="Bad Request", text=refused_text(exc)), 400
        return jsonify(text=count_text(counted), **counted.as_json())

    # 受信設定の項目, 友だち分析, あいさつメッセージ (entrypoints/preference_views.py)
    from admin_ui.entrypoints.preference_views import register_preference_views

    register_preference_views(app, service, claims=lambda: staff_claims(g.staff), address=address)

    # 配信 and 承認 (entrypoints/delivery_views.py; the dispatcher keeps the deliveries)
    from admin_ui.entrypoints.delivery_views import register_delivery_views

    register_delivery_views(app, service, claims=lambda: staff_claims(g.staff), address=address)

    # リッチメニュー (entrypoints/richmenu_views.py; richmenu-service keeps the menus)
    from admin_ui.entrypoints.richmenu_views import register_richmenu_views

    register_richmenu_views(app, service, claims=lambda: staff_claims(g.staff), address=address)

    # 操作ログ (its own module and engineer): declared like every other route.
    from admin_ui.entrypoints.audit_views import register_audit_views

    register_audit_views(app, service, requires=requires(Permission.VIEW_AUDIT_LOG))

    check_routes(app)  # deny by default: refuse to start with an undeclared route
    return app
