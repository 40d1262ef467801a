"""HTTP entrypoint: ``POST /callback`` for LINE, plus health, readiness and metrics."""

from __future__ import annotations

from cityline_common.logging import configure_logging
from cityline_common.settings import load_settings_or_exit
from cityline_common.web import create_base_app
from flask import Flask, Response, jsonify, request

from ingress_webhook.bootstrap import IngressService, bootstrap
from ingress_webhook.config import Settings
from ingress_webhook.service_layer.handlers import Outcome

_STATUS = {
    Outcome.ACCEPTED: 200,
    Outcome.SIGNATURE_MISSING: 400,
    Outcome.SIGNATURE_INVALID: 401,
    Outcome.INVALID: 400,
    Outcome.UNAVAILABLE: 503,
}


def create_app(service: IngressService | None = None) -> Flask:
    if service is None:
        settings = load_settings_or_exit(Settings)
        configure_logging("ingress-webhook", settings.log_level, settings.log_format)
        service = bootstrap(settings)

    def broker_ready() -> None:
        if not service.publisher.ready:
            raise RuntimeError("publisher not connected")

    app = create_base_app("ingress-webhook", {"broker": broker_ready})
    # Werkzeug refuses a larger body with 413 before reading it.
    app.config["MAX_CONTENT_LENGTH"] = service.settings.webhook_max_body_bytes

    @app.post(service.settings.webhook_path)
    def callback() -> tuple[Response, int]:
        body = request.get_data(cache=False)
        result = service.accept(body, request.headers.getlist("X-Line-Signature"))
        status = _STATUS[result.outcome]
        if status == 200:
            return jsonify(status="ok"), 200
        if result.outcome in {Outcome.SIGNATURE_MISSING, Outcome.SIGNATURE_INVALID}:
            # No detail for a caller that cannot sign: nothing to learn from us.
            return jsonify(error="unauthorized" if status == 401 else "bad request"), status
        return jsonify(error=result.outcome.value, reason=result.reason), status

    return app
