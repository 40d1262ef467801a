"""The residents' LIFF page (受信設定 on a web page inside LINE) and its API.

These are segment-service's only anonymous routes besides health, readiness and metrics:

* ``GET /liff/`` and ``/liff/static/…``: the page (HTML, CSS and the bundled JavaScript; nothing
  personal, nothing secret).
* ``GET`` / ``PUT /liff/api/preferences``: the resident's answers and the current taxonomy's choices.
  Anonymous to the platform's internal guard, but every request must carry a raw LINE token in
  ``Authorization: Bearer …`` that LINE's verify endpoint accepts for our LINE Login channel
  (adapters/line_login.py); the LINE user id comes from LINE's answer, never from the client. A token
  in the query string is refused (it would end up in proxies' logs and browser history).

Strict headers on every response: a CSP without ``unsafe-inline`` (scripts and styles from this origin
only), no referrer (LIFF puts login codes in the address), no framing, no caching of the API.
Without ``LINE_LOGIN_CHANNEL_ID`` the page and its API answer 404.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, Response, jsonify, render_template, request
from prometheus_client import Counter

from segment_service.adapters.line_login import LineLoginRefused, LineLoginVerifier, VerifiedLineUser
from segment_service.domain.commands import ChangePreferencesOfLineUser
from segment_service.domain.preferences import Answers, ChangeSource, InvalidAnswers
from segment_service.domain.taxonomy import Taxonomy

if TYPE_CHECKING:
    from segment_service.bootstrap import SegmentService

log = logging.getLogger(__name__)

LIFF_REFUSALS = Counter("cityline_liff_auth_refusals", "LIFF API requests refused, by reason", ["reason"])

PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self' https://api.line.me https://access.line.me https://liffsdk.line-scdn.net; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
API_CSP = "default-src 'none'; frame-ancestors 'none'"
MAX_BODY = 16 * 1024
NONCE_HEADER = "X-Line-Nonce"

ReadAnswers = Callable[[str], Answers | None]
"""The answers of the resident with this LINE user id (None: never answered). Raises LookupError
for someone who is not a friend of the account."""
SaveAnswers = Callable[[str, Answers], Answers]
"""Stores the answers through the service layer (source: LIFF); answers them as stored."""
CurrentTaxonomy = Callable[[], tuple[int, Taxonomy] | None]


def choices_json(version: int, taxonomy: Taxonomy) -> dict[str, Any]:
    """What the page renders: every dimension's choices, in the taxonomy's order."""
    def choices(dimension: str) -> list[dict[str, Any]]:
        return [{"key": c.key, "label": c.label} for c in taxonomy.dimensions.get(dimension, ())]
    return {
        "version": version,
        "municipality": taxonomy.municipality_name,
        "categories": [{"key": c.key, "label": c.label, "alwaysDelivered": c.always_delivered}
                       for c in taxonomy.dimensions["categories"]],
        "districts": choices("districts"),
        "ageBands": choices("age_bands"),
        "languages": choices("languages"),
        "maxChildren": taxonomy.max_children,
    }


def liff_blueprint(
    *,
    verifier: LineLoginVerifier,
    liff_id: str,
    mock: bool,
    current_taxonomy: CurrentTaxonomy,
    read_answers: ReadAnswers,
    save_answers: SaveAnswers,
) -> Blueprint:
    liff = Blueprint("liff", __name__, url_prefix="/liff", template_folder="../liff/templates",
                     static_folder="../liff/static", static_url_path="/static")

    @liff.after_request
    def _headers(response: Response) -> Response:
        api = request.path.startswith("/liff/api/")
        response.headers["Content-Security-Policy"] = API_CSP if api else PAGE_CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        if api or response.mimetype == "text/html":
            response.headers["Cache-Control"] = "no-store"
        return response

    @liff.get("/")
    def page() -> Response:
        taxonomy = current_taxonomy()
        city = taxonomy[1].municipality_name if taxonomy else ""
        return Response(render_template("index.html", liff_id=liff_id, mock=mock, city=city),
                        mimetype="text/html")

    def refused(reason: str, status: int = 401) -> tuple[Response, int]:
        LIFF_REFUSALS.labels(reason).inc()
        log.info("LIFF request refused", extra={"reason": reason})
        response = jsonify(error="Unauthorized" if status == 401 else "Error", reason=reason)
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="liff", error="invalid_token"'
        return response, status

    def resident() -> VerifiedLineUser:
        if any("token" in name.lower() for name in request.args):
            raise LineLoginRefused("token in the query string", 400)
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise LineLoginRefused("missing token")
        return verifier.verify(token.strip(), request.headers.get(NONCE_HEADER))

    def answer(work: Callable[[str], Answers | None]) -> tuple[Response, int]:
        """Verifies the caller's LINE token, then runs ``work`` for the user id LINE gave."""
        try:
            user = resident()
        except LineLoginRefused as exc:
            return refused(exc.reason, exc.status)
        taxonomy = current_taxonomy()
        if taxonomy is None:
            return jsonify(error="Unavailable", reason="受信設定の項目がまだ公開されていません"), 503
        try:
            answers = work(user.user_id)
        except InvalidAnswers as exc:
            return jsonify(error="Bad Request", reason=str(exc)), 400
        except LookupError:
            return jsonify(error="Not Found", reason="not a friend of the account"), 404
        return jsonify(taxonomy=choices_json(*taxonomy),
                       answers=answers.as_json() if answers is not None else None), 200

    @liff.get("/api/preferences")
    def get_preferences() -> tuple[Response, int]:
        return answer(read_answers)

    @liff.put("/api/preferences")
    def put_preferences() -> tuple[Response, int]:
        if (request.content_length or 0) > MAX_BODY:
            return jsonify(error="Bad Request", reason="body too large"), 413
        request.max_content_length = MAX_BODY  # a chunked body is cut off too (413)
        body = request.get_json(silent=True)

        def save(line_user_id: str) -> Answers:
            if body is None:
                raise InvalidAnswers("body must be the answers as JSON")
            return save_answers(line_user_id, Answers.from_json(body))
        return answer(save)

    return liff


def register_liff(app: Flask, service: SegmentService) -> None:
    """Adds the page and its API to segment-service's app when a LINE Login channel is configured."""
    from segment_service.adapters.line_login import sql_nonce_claim
    from segment_service.service_layer import preferences

    settings = service.settings
    if not settings.line_login_channel_id:
        return
    verifier = LineLoginVerifier(settings.line_login_channel_id, sql_nonce_claim(service.engine),
                                 base_url=settings.line_login_api_base_url)

    def current() -> tuple[int, Taxonomy] | None:
        found: preferences.CurrentTaxonomy | None = service.bus.query(preferences.current_taxonomy)
        return None if found is None else (found.version, found.taxonomy)

    def read(line_user_id: str) -> Answers | None:
        found: Answers | None = service.bus.query(preferences.preferences_of_line_user(line_user_id))
        return found

    def save(line_user_id: str, answers: Answers) -> Answers:
        saved = service.bus.handle(ChangePreferencesOfLineUser(line_user_id, answers, ChangeSource.LIFF))
        return saved.answers

    app.register_blueprint(liff_blueprint(verifier=verifier, liff_id=settings.liff_id, mock=settings.liff_mock,
                                          current_taxonomy=current, read_answers=read, save_answers=save))
