"""HTTP entrypoint: health, readiness, metrics and segment-service's internal API."""

from __future__ import annotations

from cityline_common.health import standard_readiness
from cityline_common.logging import configure_logging
from cityline_common.settings import load_settings_or_exit
from cityline_common.web import bad_request, create_base_app
from flask import Flask, Response, jsonify, request

from segment_service.bootstrap import SegmentService, bootstrap
from segment_service.config import Settings
from segment_service.domain.commands import PublishTaxonomy
from segment_service.domain.taxonomy import InvalidTaxonomy
from segment_service.service_layer import views


def create_app(service: SegmentService | None = None) -> Flask:
    if service is None:
        settings = load_settings_or_exit(Settings)
        configure_logging("segment-service", settings.log_level, settings.log_format)
        service = bootstrap(settings)
    app = create_base_app(
        "segment-service", standard_readiness(service.engine, "segment", service.settings.amqp_url)
    )

    @app.get("/internal/residents/stats")
    def resident_stats() -> Response:
        return jsonify(views.resident_counts(service.uow()))

    @app.get("/internal/taxonomy")
    def get_taxonomy() -> tuple[Response, int]:
        current = views.current_taxonomy(service.uow())
        if current is None:
            return jsonify(error="Not Found", reason="no taxonomy has been published yet"), 404
        return jsonify(current), 200

    @app.post("/internal/taxonomy")
    def post_taxonomy() -> tuple[Response, int]:
        document = request.get_json(silent=True)
        if document is None:
            return bad_request("body must be a JSON taxonomy document")
        try:
            with service.uow() as uow:
                version, created = service.bus.handle(PublishTaxonomy(document), uow)
                uow.commit()
        except InvalidTaxonomy as exc:
            return bad_request(str(exc))
        return jsonify(version=version, created=created), 201 if created else 200

    return app
