"""HTTP entrypoint: health, readiness, metrics and segment-service's internal API."""

from __future__ import annotations

from cityline_common.health import standard_readiness
from cityline_common.logging import configure_logging
from cityline_common.settings import load_settings_or_exit
from cityline_common.web import create_base_app
from flask import Flask, Response, jsonify

from segment_service.bootstrap import SegmentService, bootstrap
from segment_service.config import Settings
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

    return app
