"""HTTP entrypoint: health, readiness, metrics and segment-service's internal API.

The internal API answers only callers with a token for the audience ``segment`` (checked by the
platform's guard before any view runs); each view then says who may call it: reading needs any
staff role or a service identity, publishing the 受信設定 taxonomy needs システム管理者 (admin).

``GET /internal/residents/summary?days=30`` is the staff console's ダッシュボード: 友だち数, ブロック数
and follows/blocks per day of the city's calendar, oldest day first (domain/friends.py).

``GET /internal/residents/choices`` is 友だち分析: friends by district and how many chose each item
(domain/analysis.py; counted at most once a minute). ``GET /internal/taxonomy/versions`` lists every
published version of 受信設定の項目 with what it changed (domain/taxonomy_history.py).

``GET /internal/account-texts`` lists the city's texts to residents (the greetings on follow and
re-follow, domain/texts.py); ``PUT /internal/account-texts/<key>`` with ``{"text": …}`` changes one
(システム管理者 only).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from cityline_common.health import standard_readiness
from cityline_common.internal_auth import ANY_STAFF, SERVICE_IDENTITY, current_caller, requires, requires_role
from cityline_common.web import bad_request, bootstrap_from_environment, create_base_app
from flask import Flask, Response, jsonify, request

from segment_service.bootstrap import SegmentService, bootstrap
from segment_service.config import Settings
from segment_service.domain.commands import PublishTaxonomy, SetAccountText
from segment_service.domain.friends import DEFAULT_DAYS, MAX_DAYS
from segment_service.domain.taxonomy import InvalidTaxonomy
from segment_service.domain.texts import InvalidAccountText
from segment_service.entrypoints.liff import register_liff
from segment_service.entrypoints.segments_api import register_segments_api
from segment_service.manifest import MANIFEST
from segment_service.service_layer import views

log = logging.getLogger(__name__)

READERS = ANY_STAFF | SERVICE_IDENTITY


def create_app(service: SegmentService | None = None) -> Flask:
    service = service or bootstrap_from_environment("segment-service", Settings, bootstrap)
    app = create_base_app(
        "segment-service", standard_readiness(service.engine, MANIFEST.schema, service.settings.amqp_url),
        internal_verifier=service.verifier,
    )
    register_liff(app, service)  # the residents' LIFF page: anonymous, its API takes a LINE token
    register_segments_api(app, service)  # segments, recipient lists, taxonomy previews (segments_api.py)

    @app.get("/internal/residents/stats")
    @requires(READERS)
    def resident_stats() -> Response:
        return jsonify(service.bus.query(views.resident_counts))

    @app.get("/internal/residents/summary")
    @requires(READERS)
    def resident_summary() -> tuple[Response, int]:
        raw = request.args.get("days", str(DEFAULT_DAYS))
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 3) or not 1 <= int(raw) <= MAX_DAYS:
            return bad_request(f"days must be a whole number from 1 to {MAX_DAYS}")
        summary = service.bus.query(views.friend_summary(int(raw), service.timezone, datetime.now(UTC),
                                                         service.status_counts))
        return jsonify(summary.as_json()), 200

    tallies = views.ChoiceTallies(service.settings.choice_tally_max_age_seconds)

    @app.get("/internal/residents/choices")
    @requires(READERS)
    def resident_choices() -> Response:
        return jsonify(service.bus.query(views.choice_tally(tallies, datetime.now(UTC))))

    @app.get("/internal/taxonomy/versions")
    @requires(READERS)
    def get_taxonomy_versions() -> Response:
        return jsonify(versions=service.bus.query(views.taxonomy_versions))

    @app.get("/internal/taxonomy")
    @requires(READERS)
    def get_taxonomy() -> tuple[Response, int]:
        current = service.bus.query(views.current_taxonomy)
        if current is None:
            return jsonify(error="Not Found", reason="no taxonomy has been published yet"), 404
        return jsonify(current), 200

    @app.post("/internal/taxonomy")
    @requires_role("admin")
    def post_taxonomy() -> tuple[Response, int]:
        document = request.get_json(silent=True)
        if not isinstance(document, dict):
            return bad_request("body must be a JSON taxonomy document")
        mappings = {}
        if "document" in document:  # {"document": …, "mappings": …}: merges and retirements
            document, mappings = document["document"], document.get("mappings", {})
            if not isinstance(mappings, dict) or not all(isinstance(m, dict) for m in mappings.values()):
                return bad_request('mappings: {"categories": {"old": "new" or null}, …}')
        try:
            version, created = service.bus.handle(PublishTaxonomy(document, mappings))
        except InvalidTaxonomy as exc:
            return bad_request(str(exc))
        caller = current_caller()
        log.info("taxonomy published" if created else "taxonomy unchanged",
                 extra={"version": version, "caller": caller.subject, "issuer": caller.issuer})
        return jsonify(version=version, created=created), 201 if created else 200

    @app.get("/internal/account-texts")
    @requires(READERS)
    def get_account_texts() -> Response:
        return jsonify(texts=service.bus.query(views.account_texts))

    @app.put("/internal/account-texts/<key>")
    @requires_role("admin")
    def put_account_text(key: str) -> tuple[Response, int]:
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or set(body) != {"text"}:
            return bad_request('body must be {"text": "…"}')
        caller = current_caller()
        try:
            service.bus.handle(SetAccountText(key=key, text=body["text"], staff=caller.subject[:64]))
        except InvalidAccountText as exc:
            return bad_request(str(exc))
        log.info("account text changed", extra={"key": key, "caller": caller.subject, "issuer": caller.issuer})
        return jsonify(key=key, text=service.bus.query(views.greeting_text(key))), 200

    return app
