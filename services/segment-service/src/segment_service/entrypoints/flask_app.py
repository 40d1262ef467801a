"""HTTP entrypoint: health, readiness, metrics and segment-service's internal API."""

from __future__ import annotations

from cityline_common.health import standard_readiness
from cityline_common.web import bad_request, bootstrap_from_environment, create_base_app
from flask import Flask, Response, jsonify, request

from segment_service.bootstrap import SegmentService, bootstrap
from segment_service.config import Settings
from segment_service.domain.commands import PublishTaxonomy
from segment_service.domain.taxonomy import InvalidTaxonomy
from segment_service.manifest import MANIFEST
from segment_service.service_layer import views


def create_app(service: SegmentService | None = None) -> Flask:
    service = service or bootstrap_from_environment("segment-service", Settings, bootstrap)
    app = create_base_app(
        "segment-service", standard_readiness(service.engine, MANIFEST.schema, service.settings.amqp_url)
    )

    @app.get("/internal/residents/stats")
    def resident_stats() -> Response:
        return jsonify(service.bus.query(views.resident_counts))

    @app.get("/internal/taxonomy")
    def get_taxonomy() -> tuple[Response, int]:
        current = service.bus.query(views.current_taxonomy)
        if current is None:
            return jsonify(error="Not Found", reason="no taxonomy has been published yet"), 404
        return jsonify(current), 200

    @app.post("/internal/taxonomy")
    def post_taxonomy() -> tuple[Response, int]:
        document = request.get_json(silent=True)
        if document is None:
            return bad_request("body must be a JSON taxonomy document")
        try:
            version, created = service.bus.handle(PublishTaxonomy(document))
        except InvalidTaxonomy as exc:
            return bad_request(str(exc))
        return jsonify(version=version, created=created), 201 if created else 200

    return app
